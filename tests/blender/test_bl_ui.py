"""The panel and the preferences draw (with a recording stand-in for UILayout: background mode has no UI)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")


class Layout:
    """Records what a draw() puts on screen."""

    def __init__(self, log=None):
        self.log = [] if log is None else log
        self.enabled = True
        self.scale_y = 1.0

    def _child(self, *args, **kwargs):
        return Layout(self.log)

    box = column = row = split = _child

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text))

    def prop(self, data, name, **kwargs):
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        self.log.append(("operator", idname))
        return SimpleNamespace()

    def progress(self, **kwargs):
        self.log.append(("progress", kwargs.get("text", "")))

    def separator(self, **kwargs):
        pass

    def text(self):
        return " ".join(t for kind, t in self.log if kind == "label")


def draw_panel(context):
    layout = Layout()
    bpy.types.TCMR_PT_mocap.draw(SimpleNamespace(layout=layout), context)
    return layout


def test_panel_on_a_bare_blender_says_what_is_missing(scene, tmp_path):
    prefs = bpy.context.preferences.addons["tcmr_mocap"].preferences
    prefs.python_path = str(tmp_path / "no-env" / "bin" / "python")
    prefs.models_dir = str(tmp_path)
    layout = draw_panel(bpy.context)
    text = layout.text()
    assert "Dependencies missing" in text and "runtime Python not found" in text
    assert "tcmr_demo_model.pth.tar" in text  # the missing model files, with where they come from
    assert "SMPL body" in text
    assert ("operator", "tcmr.capture") in layout.log and ("operator", "tcmr.import_motion") in layout.log
    assert ("operator", "preferences.addon_show") in layout.log
    for option in ("video_path", "person", "quality", "use_frame_range", "use_target_fps", "use_focal_length",
                   "create_mesh"):
        assert ("prop", option) in layout.log
    assert ("prop", "smoothing") not in layout.log  # one smoothing setting: the refine panel's


def test_panel_while_running_shows_progress_and_cancel(scene):
    job = bpy.context.window_manager.tcmr_job
    job.running, job.label, job.progress, job.status = True, "Capture", 0.42, "tracking: 12 people"
    layout = draw_panel(bpy.context)
    assert ("progress", "Capture 42%") in layout.log and ("operator", "tcmr.cancel_job") in layout.log
    assert "tracking" in layout.text() and ("operator", "tcmr.capture") not in layout.log


def test_preferences_draw_with_install_button(scene):
    prefs = bpy.context.preferences.addons["tcmr_mocap"].preferences
    layout = Layout()
    type(prefs).draw(SimpleNamespace(layout=layout, **{k: getattr(prefs, k) for k in
                                                       ("models_dir", "python_path", "device", "download_models")}),
                     bpy.context)
    assert ("operator", "tcmr.install_deps") in layout.log and ("prop", "models_dir") in layout.log
