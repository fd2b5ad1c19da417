"""Winograd 3×3 convolutions against oneDNN's direct ones (issue 8: can fewer multiplications reach 3× exact?).

    .venv/bin/python bench/bench_winograd.py [--crops 8] [--repeats 7]

The exact model stage is within ~1.3× of this CPU's float32 ceiling (bench/RESULTS.md, "Fourth round"), so 3×
needs fewer multiplications. Winograd's minimal filtering F(m, 3) computes an m×m output tile of a 3×3
convolution from an (m+2)×(m+2) input tile with (m+2)² products per channel pair instead of 9 m²: F(2, 3)
needs 16 instead of 36 (2.25× fewer), F(4, 3) 36 instead of 144 (4× fewer). Here in plain torch ops on one
thread (as one CPU lane runs): input tiles transformed with one small matmul, the (m+2)² channel products as
oneDNN matmuls (the fastest GEMM in the process), the output tiles transformed back, bias and ReLU.

For each stride-1 3×3 shape of ResNet-50 it prints ms per crop, direct against Winograd (whole, and its channel
products alone: what it would cost with free tile transforms), and each one's error relative to float64; then
the most the Winograd layers could save in the whole network, against the fused plan's time per crop on one
thread. Not used by the capture: not fast enough to pay (RESULTS, "Fifth round").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_network import best_of  # noqa: E402
from bench_speed import rel_err  # noqa: E402

# The stride-1 3×3 convolutions of ResNet-50 at 224×224: (channels, size, how many); the first block of
# layer2..4 has its stride in the 3×3 and stays direct.
RESNET50_3X3 = ((64, 56, 3), (128, 28, 3), (256, 14, 5), (512, 7, 2))


def winograd_matrices(m: int):
    """F(m, 3) for m in (2, 4) -> (B_T (a, a), G (a, 3), A_T (m, a)) in float64, a = m + 2 (points 0, ±1, ±2, ∞)."""
    if m == 2:
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:
        bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
              [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
        g = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
             [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    else:
        raise ValueError(f"F(m, 3) is written for m = 2 or 4, not {m}")
    return tuple(torch.tensor(t, dtype=torch.float64) for t in (bt, g, at))


class WinogradConv3x3:
    """A 3×3, stride 1, padding 1 convolution + bias (+ ReLU) by F(m, 3).

    weight (K, C, 3, 3), bias (K,); ``__call__(x (N, C, H, W), relu)`` -> (N, K, H, W), both channels-last.
    The weight transform G w G^T is done once, in float64.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, m: int = 2):
        bt, g, at = winograd_matrices(m)
        self.m, self.a = m, m + 2
        u = torch.einsum("ik,ockl,jl->ijoc", g, weight.double(), g)  # (a, a, K, C)
        self.u_kc = u.reshape(self.a * self.a, weight.shape[0], weight.shape[1]).float().contiguous()
        self.input_t = torch.kron(bt, bt).float()  # (a², a²): tile (a·a) -> transformed tile
        self.output_t = torch.kron(at, at).float()  # (m², a²)
        self.bias = bias.float()
        self._zero = torch.zeros(weight.shape[0])
        from core.tcmr.temporal import _onednn_linear_ok

        self._onednn = _onednn_linear_ok()

    def _products(self, v: torch.Tensor) -> torch.Tensor:
        """v (a², P, C) -> (a², P, K): one matmul per tile position."""
        if self._onednn:
            return torch.stack([torch.ops.mkldnn._linear_pointwise(v[i], self.u_kc[i], self._zero, "none", [], "")
                                for i in range(v.shape[0])])
        return torch.bmm(v, self.u_kc.transpose(1, 2))

    def __call__(self, x: torch.Tensor, relu: bool = True) -> torch.Tensor:
        n, c, h, w = x.shape
        m, a = self.m, self.a
        th, tw = -(-h // m), -(-w // m)
        xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1 + th * m - h, 1, 1 + tw * m - w))  # (N, H', W', C)
        tiles = torch.stack([xp[:, i:i + m * th:m, j:j + m * tw:m] for i in range(a) for j in range(a)])
        v = (self.input_t @ tiles.view(a * a, -1)).view(a * a, n * th * tw, c)
        prod = self._products(v)
        k = prod.shape[2]
        y = (self.output_t @ prod.view(a * a, -1)).view(m, m, n, th, tw, k)
        y = y.permute(2, 3, 0, 4, 1, 5).reshape(n, th * m, tw * m, k)
        if th * m != h or tw * m != w:  # tiles overhang the edge: trim, and keep the next layer's layout dense
            y = y[:, :h, :w].contiguous()
        y.add_(self.bias)
        return (F.relu_(y) if relu else y).permute(0, 3, 1, 2)


def layer_rows(crops: int, repeats: int):
    """One row per ResNet-50 shape: (channels, size, count, direct ms, {m: ms}, {m: products-only ms},
    direct err, {m: err})."""
    from core.tcmr.backbone import _has_mkldnn_pointwise

    rows = []
    gen = torch.Generator().manual_seed(0)
    for c, s, count in RESNET50_3X3:
        x = torch.randn(crops, c, s, s, generator=gen).relu_().contiguous(memory_format=torch.channels_last)
        w = torch.randn(c, c, 3, 3, generator=gen) * (2.0 / (9 * c)) ** 0.5
        b = torch.randn(c, generator=gen) * 0.1
        ref = F.relu(F.conv2d(x.double(), w.double(), b.double(), padding=1))
        wc = w.contiguous(memory_format=torch.channels_last)
        if _has_mkldnn_pointwise():
            direct = lambda: torch.ops.mkldnn._convolution_pointwise(  # noqa: E731
                x, wc, b, [1, 1], [1, 1], [1, 1], 1, "relu", [None], "")
        else:
            direct = lambda: F.relu_(F.conv2d(x, wc, b, padding=1))  # noqa: E731
        t_direct, e_direct = best_of(direct, repeats) / crops * 1e3, rel_err(direct(), ref)
        t_wino, t_prod, e_wino = {}, {}, {}
        for m in (2, 4):
            conv = WinogradConv3x3(w, b, m)
            t_wino[m] = best_of(lambda: conv(x), repeats) / crops * 1e3
            e_wino[m] = rel_err(conv(x), ref)
            tiles = torch.randn(conv.a ** 2, crops * (-(-s // m)) ** 2, c, generator=gen)
            t_prod[m] = best_of(lambda: conv._products(tiles), repeats) / crops * 1e3
        rows.append((c, s, count, t_direct, t_wino, t_prod, e_direct, e_wino))
    return rows


def plan_ms_per_crop(crops: int, repeats: int) -> float:
    """The fused ResNet-50 plan (random weights, one lane) on this thread count, ms per crop."""
    from core.tcmr.backbone import ResNet50Features

    net = ResNet50Features().eval()
    net.lanes = 1
    x = torch.randn(crops, 3, 224, 224)
    return best_of(lambda: net(x), repeats) / crops * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", type=int, default=8, help="crops per call (one lane's share of a batch)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with torch.inference_mode():
        rows = layer_rows(args.crops, args.repeats)
        plan = plan_ms_per_crop(args.crops, max(3, args.repeats // 2))
    print(f"one thread, {args.crops} crops per call, torch {torch.__version__}\n")
    print("| 3×3 layer | direct ms/crop | F(2,3) ms/crop (products alone) | F(4,3) ms/crop (products alone) | "
          "error vs float64: direct / F(2,3) / F(4,3) |")
    print("|---|---|---|---|---|")
    saving = {(m, part): 0.0 for m in (2, 4) for part in ("whole", "products")}
    for c, s, count, td, tw, tp, ed, ew in rows:
        for m in (2, 4):
            saving[m, "whole"] += count * max(0.0, td - tw[m])
            saving[m, "products"] += count * max(0.0, td - tp[m])
        print(f"| {c} ch at {s}×{s} (×{count}) | {td:.3f} | {tw[2]:.3f} ({td / tw[2]:.2f}×; {tp[2]:.3f}) | "
              f"{tw[4]:.3f} ({td / tw[4]:.2f}×; {tp[4]:.3f}) | {ed:.1e} / {ew[2]:.1e} / {ew[4]:.1e} |")
    print(f"\nfused ResNet-50 plan, one thread: {plan:.1f} ms per crop. The most Winograd saves where it wins:")
    for m in (2, 4):
        print(f"- F({m},3): {saving[m, 'whole']:.1f} ms ({100 * saving[m, 'whole'] / plan:.0f} %); with free tile "
              f"transforms {saving[m, 'products']:.1f} ms ({100 * saving[m, 'products'] / plan:.0f} %)")


if __name__ == "__main__":
    main()
