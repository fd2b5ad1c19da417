"""Which torch device a capture runs on, and what that device does fast.

:func:`choose_device` is the whole choice as a pure function of what the machine offers, so it is tested with
fakes on any machine; :func:`resolve_device` asks torch what is there and calls it. :func:`fast_precision` and
:func:`cpu_has_fast_bf16` are the hardware probe behind ``--fast`` (bf16 where the machine computes it natively).
torch is imported inside those functions only: importing this module stays cheap.

``auto`` picks CUDA when a GPU is usable, else Apple's MPS backend (Apple-silicon Macs), else the CPU.
An explicit ``cuda`` / ``cuda:N`` / ``mps`` that the machine lacks is a user error (one line, what to use instead).
"""

from __future__ import annotations

from ..errors import DeviceUnavailableError

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


def resolve_device(device="cpu") -> "torch.device":
    """"auto" -> CUDA, else Apple MPS, else CPU; a requested device the machine lacks -> DeviceUnavailableError
    (the choice itself: :func:`choose_device`)."""
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None)
    return torch.device(choose_device(device, cuda_count, bool(mps is not None and mps.is_available())))


def fast_precision(device: str) -> str:
    """What --fast uses for ``device`` ("auto", "cpu", "cuda" …): bf16 where it is fast, else fp32 (or fp16 on a
    GPU without bfloat16)."""
    import torch

    try:
        dev = resolve_device(device)
    except Exception:  # noqa: BLE001 (a bad device is reported by the pipeline itself)
        return "fp32"
    if dev.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if dev.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (avx512_bf16 or AMX-BF16), where bf16 ResNet-50 is about 2×
    faster than fp32. Linux: the CPU flags; elsewhere oneDNN's own bf16 check."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
