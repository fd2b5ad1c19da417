"""Add-on preferences: models directory, the runtime environment's Python, the compute device, and a button
that sets the environment up with install_deps.py (offline when Blender's online access is off)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty
from bpy.types import AddonPreferences

from ...core.config import CaptureConfig
from . import environment

# The add-on's package: "tcmr_mocap", or "bl_ext.<repo>.tcmr_mocap" when installed as an extension.
ADDON_ID = __package__.rpartition(".blender_addon")[0]


class TCMR_AddonPreferences(AddonPreferences):
    bl_idname = ADDON_ID

    models_dir: StringProperty(
        name="Models Directory", subtype="DIR_PATH",
        description="Folder with the model files (empty: $TCMR_MOCAP_MODELS, else the add-on's models folder)",
    )
    python_path: StringProperty(
        name="Runtime Python", subtype="FILE_PATH",
        description="Python of the environment made by install_deps.py (empty: find it automatically)",
    )
    device: EnumProperty(
        name="Device",
        items=(("auto", "Auto", "A CUDA GPU when available, else Apple's MPS, else the CPU"), ("cpu", "CPU", ""),
               ("cuda", "CUDA", "An NVIDIA GPU"), ("mps", "Apple MPS", "The GPU of an Apple-silicon Mac")),
        default=CaptureConfig.device,
    )
    download_models: BoolProperty(name="Also Download Model Files", default=False,
                                  description="Let Install Dependencies fetch the model files too")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "models_dir")
        layout.prop(self, "python_path")
        layout.prop(self, "device")
        status = readiness(context)
        box = layout.box()
        box.label(text=f"Runtime: {status.python or 'not found'}", icon="CHECKMARK" if status.ready else "ERROR")
        for problem in status.problems:
            box.label(text=problem, icon="DOT")
        row = layout.row()
        row.prop(self, "download_models")
        if not bpy.app.online_access:
            row.label(text="Online access is off: installing offline", icon="INTERNET_OFFLINE")
        row = layout.row()
        row.enabled = not context.window_manager.tcmr_job.running
        row.operator("tcmr.install_deps", icon="IMPORT")
        row.operator("tcmr.refresh_status", icon="FILE_REFRESH")


def get_prefs(context=None) -> Optional[TCMR_AddonPreferences]:
    """The preferences, or None when the add-on was registered without the add-on system (headless)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return None if addon is None else addon.preferences


def user_env_dir() -> Optional[Path]:
    """Where Install Dependencies builds the environment of an installed extension (its user folder)."""
    if not ADDON_ID.startswith("bl_ext."):
        return None  # a source checkout: install_deps.py's default <repo>/.venv
    return Path(bpy.utils.extension_path_user(ADDON_ID, path="venv", create=False))


def models_dir(context=None) -> str:
    prefs = get_prefs(context)
    return bpy.path.abspath(prefs.models_dir) if prefs and prefs.models_dir else ""


def device(context=None) -> str:
    prefs = get_prefs(context)
    return prefs.device if prefs else CaptureConfig.device


def runtime_python(context=None) -> Optional[Path]:
    prefs = get_prefs(context)
    configured = bpy.path.abspath(prefs.python_path) if prefs and prefs.python_path else ""
    env_dir = user_env_dir()
    return environment.resolve_python(configured, [env_dir] if env_dir else [])


def readiness(context=None) -> environment.Readiness:
    return environment.check_readiness(runtime_python(context), models_dir(context))


CLASSES = (TCMR_AddonPreferences,)
