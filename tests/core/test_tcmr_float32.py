"""core.tcmr.float32: TensorFloat-32 off on CUDA while the exact networks run, the caller's flags put back after.

The flags are plain process state, so the switching is checked on any machine; that ResNet-50 and TCMR enter
the guard with their device is checked by recording the calls. tests/core/test_cuda.py checks on a GPU that the
results are then float32 exact (TensorFloat-32 would be ~1e-3 off).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import core  # noqa: E402
from core.tcmr import backbone as backbone_module  # noqa: E402
from core.tcmr import float32, model as model_module  # noqa: E402


def _knobs():
    return float32._precision_knobs()


@pytest.fixture
def tf32_everywhere(caller_tf32):
    """Every fp32 flag set to TensorFloat-32 (tests/core/conftest.py), here through torch's per-backend flags."""
    if _knobs() is None:
        pytest.skip("this torch has only the legacy allow_tf32 flags")


def test_cuda_block_runs_ieee_and_puts_the_callers_flags_back(tf32_everywhere):
    with float32.exact_float32("cuda"):
        assert [k.fp32_precision for k in _knobs()] == ["ieee"] * 3
    assert [k.fp32_precision for k in _knobs()] == ["tf32"] * 3
    with pytest.raises(ZeroDivisionError):
        with float32.exact_float32(torch.device("cuda", 0)):
            1 / 0
    assert [k.fp32_precision for k in _knobs()] == ["tf32"] * 3  # also after an error


def test_other_devices_are_left_alone(tf32_everywhere):
    for device in ("cpu", torch.device("cpu"), "meta"):
        with float32.exact_float32(device):
            assert [k.fp32_precision for k in _knobs()] == ["tf32"] * 3


def test_legacy_flags_on_an_older_torch(monkeypatch):
    """torch < 2.9 has only ``allow_tf32``: the guard then turns those off and back on."""
    knobs = float32._precision_knobs()
    saved = None if knobs is None else [k.fp32_precision for k in knobs]
    monkeypatch.setattr(float32, "_precision_knobs", lambda: None)
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True  # the legacy way only
        with float32.exact_float32("cuda"):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        for k, v in zip(knobs or (), saved or ()):
            k.fp32_precision = v


def _recording(monkeypatch, module):
    seen = []

    @contextlib.contextmanager
    def record(device):
        seen.append(torch.device(device).type)
        yield

    monkeypatch.setattr(module, "exact_float32", record)
    return seen


@pytest.mark.parametrize("fused", [True, False])
def test_backbone_runs_inside_the_guard(spin_checkpoint, monkeypatch, fused):
    net = core.load_backbone(spin_checkpoint).fuse(fused)
    seen = _recording(monkeypatch, backbone_module)
    with torch.inference_mode():
        net(torch.zeros(1, 3, 224, 224))
    assert seen and set(seen) == {"cpu"}


def test_tcmr_runs_inside_the_guard(tcmr_model, monkeypatch):
    seen = _recording(monkeypatch, model_module)
    feats = np.random.default_rng(0).normal(size=(20, 2048)).astype(np.float32)
    tcmr_model.predict_sequence(feats, with_smpl=False)
    assert seen == ["cpu"]
    seen.clear()
    with torch.inference_mode():
        tcmr_model(torch.from_numpy(feats[:16])[None], with_smpl=False)  # the release's nn.GRU path
    assert seen == ["cpu"]
