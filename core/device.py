"""Which torch device a capture runs on.

:func:`choose_device` is the whole choice as a pure function of what the machine offers (this module never
imports torch), so it is tested with fakes on any machine; ``core.tcmr.checkpoint.resolve_device`` asks torch
what is there and calls it.

``auto`` picks CUDA when a GPU is usable, else Apple's MPS backend (Apple-silicon Macs), else the CPU.
An explicit ``cuda`` / ``cuda:N`` / ``mps`` that the machine lacks is a user error (one line, what to use instead).
"""

from __future__ import annotations

from .errors import DeviceUnavailableError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # what the CLI, the config and the add-on offer


def choose_device(requested, cuda_count: int, mps_available: bool) -> str:
    """The torch device string for ``requested`` on a machine with ``cuda_count`` usable CUDA GPUs and MPS or not.

    requested: "auto", "cpu", "cuda", "cuda:N", "mps" (case and surrounding blanks ignored; None/"" = "auto").
    Returns "cuda", "cuda:N", "mps" or "cpu". Raises DeviceUnavailableError for an unknown name or a device
    the machine does not have.
    """
    name = str(requested or "auto").strip().lower()
    if name == "auto":
        return "cuda" if cuda_count > 0 else ("mps" if mps_available else "cpu")
    kind, sep, index = name.partition(":")
    if kind == "cpu" and not sep:
        return "cpu"
    if kind == "mps" and (not sep or index == "0"):
        if not mps_available:
            raise DeviceUnavailableError(
                f"device {requested!r} was requested but Apple's MPS backend is not available here (it needs an "
                "Apple-silicon Mac and a PyTorch build with MPS); use --device cpu (or auto)")
        return "mps"
    if kind == "cuda" and (not sep or index.isdigit()):
        if cuda_count <= 0:
            raise DeviceUnavailableError(f"device {requested!r} was requested but no CUDA GPU is usable here; "
                                         "use --device cpu (or auto)")
        if sep and int(index) >= cuda_count:
            raise DeviceUnavailableError(f"device {requested!r} was requested but this machine has only "
                                         f"{cuda_count} CUDA GPU(s) (cuda:0 to cuda:{cuda_count - 1}); "
                                         "use --device cuda (or auto)")
        return name
    raise DeviceUnavailableError(f"unknown device {requested!r}; use {', '.join(DEVICE_CHOICES)}")
