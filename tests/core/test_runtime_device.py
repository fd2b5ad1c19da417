"""Device choice (core.runtime.device): auto = CUDA, else Apple MPS, else CPU; explicit choices the machine lacks are
refused with one line that says what to use. Tested as a pure function with fake machines (no GPU/MPS here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import DeviceUnavailableError
from core.runtime import device as device_mod
from core.runtime.device import DEVICE_CHOICES, choose_device


@pytest.mark.parametrize("cuda_count, mps, expected", [
    (0, False, "cpu"),
    (0, True, "mps"),  # an Apple-silicon Mac
    (1, False, "cuda"),
    (2, True, "cuda"),  # CUDA wins over MPS
])
def test_auto_prefers_cuda_then_mps_then_cpu(cuda_count, mps, expected):
    for requested in ("auto", "AUTO", " auto ", None, ""):
        assert choose_device(requested, cuda_count, mps) == expected


@pytest.mark.parametrize("requested, cuda_count, mps, expected", [
    ("cpu", 2, True, "cpu"),  # the CPU is always there, and an explicit choice beats auto's preference
    ("mps", 0, True, "mps"),
    ("mps", 1, True, "mps"),  # explicit MPS on a machine that also has CUDA
    ("MPS", 0, True, "mps"),
    ("mps:0", 0, True, "mps"),
    ("cuda", 1, True, "cuda"),
    ("cuda:1", 2, False, "cuda:1"),
])
def test_explicit_choices(requested, cuda_count, mps, expected):
    assert choose_device(requested, cuda_count, mps) == expected


@pytest.mark.parametrize("requested, cuda_count, mps, match", [
    ("mps", 0, False, "MPS backend is not available"),
    ("mps", 1, False, "MPS backend is not available"),
    ("cuda", 0, True, "no CUDA GPU"),
    ("cuda:2", 2, False, "only 2 CUDA GPU"),
    ("tpu", 1, True, "unknown device"),
    ("cuda:x", 1, True, "unknown device"),
    ("cpu:1", 1, True, "unknown device"),
])
def test_unavailable_or_unknown_devices_are_user_errors(requested, cuda_count, mps, match):
    with pytest.raises(DeviceUnavailableError, match=match) as info:
        choose_device(requested, cuda_count, mps)
    message = str(info.value)
    assert "\n" not in message and "; use " in message  # one line that says what to use instead


def test_every_offered_choice_is_understood():
    for name in DEVICE_CHOICES:
        assert choose_device(name, 1, True) in ("cpu", "cuda", "mps")


def test_resolve_device_asks_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    from core.runtime.device import resolve_device  # what the loaders and the pipeline call

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    assert resolve_device("mps") == torch.device("mps")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(DeviceUnavailableError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceUnavailableError, match="MPS"):
        resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_choice_module_needs_no_torch():
    """Importing the device module and choosing works without torch (only resolve_device and the bf16 probe ask it)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "from core.runtime.device import choose_device\n"
            "print(choose_device('auto', 0, False))\n")
    root = Path(device_mod.__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cpu"


def test_the_interfaces_offer_the_same_choices():
    import typing

    from core.__main__ import build_parser
    from core.config import Device

    assert set(typing.get_args(Device)) == set(DEVICE_CHOICES)
    capture = build_parser()._subparsers._group_actions[0].choices["capture"]
    (action,) = [a for a in capture._actions if a.dest == "device"]
    assert tuple(action.choices) == DEVICE_CHOICES
    prefs = Path(device_mod.__file__).resolve().parents[2] / "blender_addon" / "runtime" / "preferences.py"
    text = prefs.read_text()
    for name in DEVICE_CHOICES:
        assert f'("{name}", ' in text, f"the add-on's Device preference lacks {name}"
