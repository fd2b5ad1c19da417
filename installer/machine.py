"""What this machine is: which torch build suits it (CUDA or CPU, from which index), and whether we run on Blender's
own Python (and may go online)."""

from __future__ import annotations

import os
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Optional

PYTORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_CUDA_TAG = "cu130"  # the CUDA the pinned torch is built for on PyPI (torch.version.cuda == "13.0")


@dataclass(frozen=True)
class TorchChoice:
    """Which torch build to install: ``variant`` (cuda/cpu/default), the index (None = PyPI), and why."""

    variant: str
    index_url: Optional[str]
    reason: str


def choose_torch_build(system: str, has_nvidia: bool, force_cpu: bool) -> TorchChoice:
    """Pick the torch build for ``system`` (``platform.system()``). A pure function.

    Linux: PyPI's default wheel is the CUDA build (it also runs on CPU). Windows: PyPI's default is CPU
    only, so an NVIDIA machine gets the official PyTorch CUDA index. macOS: PyPI (CPU + MPS).
    ``force_cpu`` picks the official PyTorch CPU index on Linux/Windows (much smaller download).
    """
    if force_cpu:
        if system in ("Linux", "Windows"):
            return TorchChoice("cpu", f"{PYTORCH_INDEX}/cpu", "--cpu: CPU-only build from the PyTorch index")
        return TorchChoice("cpu", None, "--cpu: PyPI's build for this system is CPU-only already")
    if system == "Linux":
        if has_nvidia:
            return TorchChoice("cuda", None, "NVIDIA driver found: PyPI's Linux build includes CUDA")
        return TorchChoice("default", None, "no NVIDIA driver: PyPI's default build (use --cpu for a smaller one)")
    if system == "Windows" and has_nvidia:
        return TorchChoice("cuda", f"{PYTORCH_INDEX}/{TORCH_CUDA_TAG}", "NVIDIA driver found: PyTorch CUDA index")
    return TorchChoice("default", None, "PyPI's default build for this system")


def has_nvidia_driver(system: Optional[str] = None) -> bool:
    """True if an NVIDIA driver is installed (Linux: /proc/driver/nvidia; Windows/Linux: nvidia-smi)."""
    system = system or platform.system()
    if system == "Linux" and Path("/proc/driver/nvidia/version").exists():
        return True
    if system in ("Linux", "Windows") and shutil.which("nvidia-smi"):
        return True
    if system == "Windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return Path(root, "System32", "nvidia-smi.exe").exists()
    return False


def is_blender_python(executable: str, bpy_module=None) -> bool:
    """True when running on Blender's own Python. A pure function.

    Either we are inside Blender (``bpy`` loaded and not the pip ``bpy`` module, whose ``bpy.app.module``
    is True), or ``executable`` is Blender's bundled interpreter: ``.../<blender>/<X.Y>/python/bin/python*``.
    """
    if bpy_module is not None and not getattr(getattr(bpy_module, "app", None), "module", True):
        return True
    path = PureWindowsPath(executable) if "\\" in executable else PurePosixPath(executable)
    parts = path.parts
    if len(parts) < 5 or not parts[-1].lower().startswith("python"):
        return False
    layout = parts[-2].lower() == "bin" and parts[-3].lower() == "python" and re.fullmatch(r"\d+\.\d+", parts[-4])
    return bool(layout) and any("blender" in p.lower() for p in parts[:-4])


def blender_online_access(bpy_module) -> Optional[bool]:
    """Blender's "Allow Online Access" preference, or None when not inside Blender."""
    if bpy_module is None or getattr(bpy_module.app, "module", True):
        return None
    return bool(getattr(bpy_module.app, "online_access", True))
