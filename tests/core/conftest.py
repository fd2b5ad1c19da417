"""Fixtures of the core's tests (the session-wide synthetic files are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def caller_tf32():
    """The caller has turned TensorFloat-32 on everywhere (what a speed-minded pipeline might set): with torch's
    per-backend ``fp32_precision`` where it has them, else the legacy ``allow_tf32`` flags. Yields a function that
    says whether that setting is still in place; the flags are put back after the test."""
    torch = pytest.importorskip("torch")
    from core.tcmr.float32 import _precision_knobs

    knobs = _precision_knobs()
    if knobs is None:
        cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
        saved = (cudnn.allow_tf32, matmul.allow_tf32)
        cudnn.allow_tf32 = matmul.allow_tf32 = True
        yield lambda: cudnn.allow_tf32 and matmul.allow_tf32
        cudnn.allow_tf32, matmul.allow_tf32 = saved
        return
    saved = [k.fp32_precision for k in knobs]
    for k in knobs:
        k.fp32_precision = "tf32"
    yield lambda: all(k.fp32_precision == "tf32" for k in knobs)
    for k, v in zip(knobs, saved):
        k.fp32_precision = v
