"""Full float32 arithmetic on CUDA for the exact path: no TensorFloat-32 inside the networks.

On Ampere and newer GPUs PyTorch lets cuDNN run float32 convolutions and RNNs on TensorFloat-32 tensor cores by
default (``torch.backends.cudnn.conv.fp32_precision == "tf32"``; before torch 2.9 ``cudnn.allow_tf32 = True``):
inputs rounded to a 10-bit mantissa, errors near 1e-3 relative, so the default "exact" capture would silently not
be exact on a GPU. :func:`exact_float32` sets cuDNN's convolutions and RNNs and cuBLAS's matmuls to IEEE float32
for the block it guards and puts back what was set before, so a pipeline that embeds the core keeps its own
settings outside our calls. Off CUDA it does nothing (the CPU paths are IEEE float32 unless a caller asks oneDNN
for bfloat16, which this module leaves alone). Half-precision models are unaffected by these flags.
The flags are process-wide: a GPU model runs in one thread (CPU lanes are CPU-only), and another thread's GPU
work inside the block only gets full float32 too.
"""

from __future__ import annotations

import contextlib

import torch

_KNOBS = (("cudnn", "conv"), ("cudnn", "rnn"), ("cuda", "matmul"))  # torch >= 2.9: per-backend fp32_precision


def _precision_knobs():
    """The objects whose ``fp32_precision`` this torch has (None: an older torch with only ``allow_tf32``)."""
    knobs = []
    for backend, op in _KNOBS:
        knob = getattr(getattr(torch.backends, backend, None), op, None)
        if knob is None or not hasattr(knob, "fp32_precision"):
            return None
        knobs.append(knob)
    return knobs


@contextlib.contextmanager
def exact_float32(device):
    """``with exact_float32(device):`` IEEE float32 convolutions, RNNs and matmuls on CUDA inside the block.

    device: a torch.device or its name; anything but CUDA leaves every flag as it is.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    knobs = _precision_knobs()
    if knobs is not None:
        saved = [knob.fp32_precision for knob in knobs]
        try:
            for knob in knobs:
                knob.fp32_precision = "ieee"
            yield
        finally:
            for knob, value in zip(knobs, saved):
                knob.fp32_precision = value
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved_legacy = (cudnn.allow_tf32, matmul.allow_tf32)
    try:
        cudnn.allow_tf32 = matmul.allow_tf32 = False
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved_legacy
