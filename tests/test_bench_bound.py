"""The speed benchmark's arithmetic bound (bench/bench_speed.py, model part): the FLOPs it counts for the exact
model stage are those of ResNet-50 and of the shared-projection TCMR, worked out here by hand from the layer
shapes, the machine rate it measures is a real positive rate, the tables keep small (GPU) numbers readable, and
the Winograd convolutions that bench/bench_winograd.py times compute the convolution they stand for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_speed  # noqa: E402
import bench_winograd  # noqa: E402


def _resnet50_flops() -> float:
    """2 × multiply-adds of torchvision's ResNet-50 convolutions at 224×224 (no fc)."""
    macs = 112 * 112 * 64 * 3 * 49  # conv1 7×7/2
    size, inplanes = 56, 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            out = size // stride if b == 0 else size
            macs += size * size * inplanes * planes  # 1×1 reduce, at the block's input size
            macs += out * out * planes * planes * 9  # 3×3 (stride in the first block)
            macs += out * out * planes * planes * 4  # 1×1 expand
            if b == 0:
                macs += out * out * inplanes * planes * 4  # downsample 1×1/stride
            size, inplanes = out, planes * 4
    return 2.0 * macs


def _tcmr_flops_per_frame() -> float:
    """The shared-projection TCMR per frame (every frame one window): first-layer input gates once per frame;
    per window the recurrent products of every step but the first (a zero state projects to the bias), the
    top layer of gru_cur only over the steps reaching the middle (forward 0..8, backward 15..8), gru_bef over
    frames 0..7 and gru_aft over 15..9; then the three linears, the attention and the 3-step regressor."""
    h, f = 1024, 2048
    rec = 3 * h * h  # one step's h · W_hhᵀ
    macs = 4 * f * 3 * h  # project_frames: cur, cur_reverse, bef, aft
    macs += 2 * 15 * rec  # gru_cur layer 0, both directions, 16 steps
    macs += (9 + 8) * 2 * h * 3 * h + (8 + 7) * rec  # gru_cur layer 1 (input 2H), steps reaching the middle
    for steps in (8, 7):  # gru_bef, gru_aft: layer 0 recurrence, layer 1 input + recurrence
        macs += (steps - 1) * rec + steps * h * 3 * h + (steps - 1) * rec
    macs += 2 * h * f + 2 * h * f  # linear_cur (2H -> 2048), linear_bef + linear_aft (H -> 2048)
    macs += 3 * f * 256 + 3 * 256 * 256 + 256 * 256 + 256 * 3  # attention: 2048 -> 256 each, 768 -> 256 -> 256 -> 3
    npose, nshape, ncam = 144, 10, 3
    macs += 3 * ((f + npose + nshape + ncam) * 1024 + 1024 * 1024 + 1024 * (npose + nshape + ncam))
    return 2.0 * macs


def test_counted_flops_are_resnet50_and_the_shared_tcmr(spin_checkpoint, tcmr_model):
    import core

    resnet, temporal = bench_speed.model_flops_per_frame(core.load_backbone(spin_checkpoint), tcmr_model, 40)
    assert resnet * 1e9 == pytest.approx(_resnet50_flops(), rel=1e-9)
    assert temporal * 1e9 == pytest.approx(_tcmr_flops_per_frame(), rel=1e-6)
    assert 8.1 < resnet < 8.3 and 0.8 < temporal < 0.9  # the figures quoted in bench/RESULTS.md


def test_the_oneDNN_recurrence_is_restored_after_counting(spin_checkpoint, tcmr_model):
    import core
    from core.tcmr import temporal

    before = temporal.recurrent_linear
    bench_speed.model_flops_per_frame(core.load_backbone(spin_checkpoint), tcmr_model, 20)
    assert temporal.recurrent_linear is before


def test_machine_peak_is_a_measured_rate():
    rate, detail = bench_speed.machine_peak_gflops(repeats=1)
    assert rate > 1.0
    assert "matmul" in detail and "convolution" in detail


@pytest.mark.parametrize("m, tol", [(2, 2e-6), (4, 3e-5)])
@pytest.mark.parametrize("size", [7, 14])  # 7: tiles overhang the edge (padding trimmed again)
def test_winograd_convolution_is_the_3x3_convolution(m, tol, size):
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(size)
    x = torch.randn(2, 16, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(24, 16, 3, 3, generator=gen), torch.randn(24, generator=gen)
    conv = bench_winograd.WinogradConv3x3(w, b, m)
    with torch.inference_mode():
        ref = F.conv2d(x.double(), w.double(), b.double(), padding=1)
        for relu in (False, True):
            y = conv(x, relu=relu)
            want = F.relu(ref) if relu else ref
            assert y.shape == want.shape and y.is_contiguous(memory_format=torch.channels_last)
            assert float((y.double() - want).abs().max() / want.abs().max()) < tol


def test_table_numbers_keep_their_digits_on_a_gpu():
    """ms/frame and s/frame as the tables print them: the CPU's ranges as before, a GPU's small values not as 0."""
    assert bench_speed._ms(127.93) == "127.9" and bench_speed._ms(127.93, 2) == "128"
    assert bench_speed._ms(0.1234) == "0.123" and bench_speed._ms(0.0456, 2) == "0.046"
    assert bench_speed._s(0.1234) == "0.123" and bench_speed._s(0.00034) == "0.00034" and bench_speed._s(0) == "0.000"
