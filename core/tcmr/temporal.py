"""TCMR's temporal encoder: three GRUs (current / past / future) and the attention that mixes them.

Module and parameter names follow the official checkpoint (``encoder.gru_cur.weight_ih_l0`` …); the maths is
spec §1.2-1.3 (2-layer GRUs of 1024, tanh-tanh-tanh attention, softmax). Two ways to run it, same numbers to float32 rounding:

- :meth:`TemporalEncoder.forward` — windows (B, 16, 2048) through ``torch.nn.GRU``, op for op as the release.
- :meth:`TemporalEncoder.forward_indexed` — windows given as row indices into one track's features. The
  first-layer input projections ``W_ih x + b_ih`` are computed once per *frame* instead of once per window
  slot (each frame sits in 16 windows), and the top layer of ``gru_cur`` only runs the steps that reach the
  middle frame (forward 0..8, backward 15..8). About half the arithmetic of the plain forward. The
  recurrent products go through :func:`recurrent_linear` (oneDNN's matmul on the CPU).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

SEQLEN = 16  # window length; the predicted frame is slot SEQLEN // 2 = 8 (8 frames before it, 7 after)
FEATURE_DIM = 2048


class TemporalAttention(nn.Module):
    """Scores for (past, current, future). y: (B, 3, 2048) -> scores (B, 3), each in ≈[0.10, 0.79].

    ``fc`` has no activation (the release declares a ReLU but never applies it); the logits pass through
    tanh before the softmax.
    """

    def __init__(self, attention_size: int = 2048, seq_len: int = 3):
        super().__init__()
        self.fc = nn.Linear(attention_size, 256)
        self.attention = nn.Sequential(
            nn.Linear(256 * seq_len, 256), nn.Tanh(),
            nn.Linear(256, 256), nn.Tanh(),
            nn.Linear(256, seq_len), nn.Tanh(),
        )

    def forward(self, y):
        batch = y.shape[0]
        x = self.fc(y).view(batch, -1)  # (B, 768)
        return torch.softmax(self.attention(x), dim=-1)


def recurrent_linear(h, weight, bias=None):
    """``F.linear(h, weight, bias)`` for a GRU's hidden-state product: h (B, H), weight (3H, H), bias (3H,) -> (B, 3H).

    On the CPU in float32 without autograd it runs oneDNN's matmul (``mkldnn._linear_pointwise``): on the AMD
    CPUs we measured, 1.5× faster than the MKL sgemm behind ``F.linear`` for (96, 1024) × (1024, 3072) (3.6 vs
    5.5 ms; these products are ~40 % of TCMR's time) and as close to float64 as MKL's result (betas 3.5e-6 vs
    3.6e-6 relative). Only here: for the 2048-wide input projections oneDNN's sums land farther from float64
    (betas 9.9e-6), so those stay on F.linear. Elsewhere (GPU, float64, autograd) plain F.linear.
    """
    if (h.device.type == "cpu" and h.dtype == torch.float32 and weight.dtype == torch.float32
            and not torch.is_grad_enabled() and _onednn_linear_ok()):
        return torch.ops.mkldnn._linear_pointwise(h, weight, bias, "none", [], "")
    return F.linear(h, weight, bias)


@functools.cache
def _onednn_linear_ok() -> bool:
    """Whether this torch build has oneDNN's linear op and it computes a tiny product right (checked once)."""
    try:
        x, w = torch.ones(2, 3), torch.ones(4, 3)
        y = torch.ops.mkldnn._linear_pointwise(x, w, torch.ones(4), "none", [], "")
        return bool(torch.backends.mkldnn.is_available()) and bool(torch.equal(y, torch.full((2, 4), 4.0)))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


def _gru_layer(gi, w_hh, b_hh, reverse: bool = False):
    """One GRU direction over precomputed input gates. gi: (T, B, 3H) = W_ih x + b_ih -> outputs (T, B, H).

    PyTorch's equations and gate order (r | z | n); initial state zero (its first hidden projection is b_hh).
    """
    steps = range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])
    H = w_hh.shape[1]
    out = gi.new_empty(gi.shape[:2] + (H,))
    h = None
    for t in steps:
        gh = b_hh if h is None else recurrent_linear(h, w_hh, b_hh)  # (B, 3H); a zero state projects to b_hh
        rz = torch.sigmoid(gi[t, :, : 2 * H] + gh[..., : 2 * H])  # r and z in one op (same per element)
        r, z = rz[:, :H], rz[:, H:]
        n = torch.tanh(gi[t, :, 2 * H:] + r * gh[..., 2 * H:])
        h = n - z * n if h is None else n + z * (h - n)  # = (1 - z) n + z h
        out[t] = h
    return out


class TemporalEncoder(nn.Module):
    """features (B, 16, 2048) -> (integrated feature (B, 2048), scores (B, 3) for past/current/future)."""

    def __init__(self, n_layers: int = 2, seq_len: int = SEQLEN, hidden_size: int = 1024):
        super().__init__()
        self.gru_cur = nn.GRU(FEATURE_DIM, hidden_size, num_layers=n_layers, bidirectional=True)
        self.gru_bef = nn.GRU(FEATURE_DIM, hidden_size, num_layers=n_layers)
        self.gru_aft = nn.GRU(FEATURE_DIM, hidden_size, num_layers=n_layers)
        self.mid_frame = seq_len // 2
        self.linear_cur = nn.Linear(hidden_size * 2, FEATURE_DIM)
        self.linear_bef = nn.Linear(hidden_size, FEATURE_DIM)
        self.linear_aft = nn.Linear(hidden_size, FEATURE_DIM)
        self.attention = TemporalAttention(attention_size=FEATURE_DIM, seq_len=3)

    # ------------------------------------------------------------------------------------ official path
    def forward(self, x):
        """x: (B, 16, 2048) -> (feature (B, 2048), scores (B, 3)). The release's eval path."""
        mid = self.mid_frame
        y, _ = self.gru_cur(x.permute(1, 0, 2))  # (16, B, 2048): [forward ‖ backward] of the top layer
        y_bef, _ = self.gru_bef(x[:, :mid].permute(1, 0, 2))  # frames 0..7
        y_aft, _ = self.gru_aft(torch.flip(x[:, mid + 1:], dims=[1]).permute(1, 0, 2))  # frames 15..9
        return self._integrate(y[mid], y_bef[-1], y_aft[-1])

    def _integrate(self, h_cur, h_bef, h_aft):
        """GRU summaries (B, 2048), (B, 1024), (B, 1024) -> (feature (B, 2048), scores (B, 3))."""
        y_cur = self.linear_cur(F.relu(h_cur))
        y_bef = self.linear_bef(F.relu(h_bef))
        y_aft = self.linear_aft(F.relu(h_aft))
        y = torch.cat((y_bef[:, None], y_cur[:, None], y_aft[:, None]), dim=1)  # (B, 3, 2048) past|cur|fut
        scores = self.attention(y)
        return torch.sum(y * scores[:, :, None], dim=1), scores

    # ------------------------------------------------------------------------------------ shared path
    def project_frames(self, frames):
        """First-layer input gates of the three GRUs for each frame, computed once per frame.

        frames: (M, 2048) -> dict of (M, 3072): ``cur`` / ``cur_reverse`` / ``bef`` / ``aft``.
        """
        g = self.gru_cur
        return {
            "cur": F.linear(frames, g.weight_ih_l0, g.bias_ih_l0),
            "cur_reverse": F.linear(frames, g.weight_ih_l0_reverse, g.bias_ih_l0_reverse),
            "bef": F.linear(frames, self.gru_bef.weight_ih_l0, self.gru_bef.bias_ih_l0),
            "aft": F.linear(frames, self.gru_aft.weight_ih_l0, self.gru_aft.bias_ih_l0),
        }

    def forward_indexed(self, gates: dict, windows):
        """Windows as frame indices. gates: :meth:`project_frames` of the track's M frames;
        windows: (B, 16) int64 row indices -> (feature (B, 2048), scores (B, 3)). Same maths as :meth:`forward`.
        """
        mid = self.mid_frame
        idx = windows.t()  # (16, B) time-major
        h_cur = self._bidirectional_at(self.gru_cur, gates["cur"][idx], gates["cur_reverse"][idx], mid)
        h_bef = self._unidirectional(self.gru_bef, gates["bef"][idx[:mid]])  # frames 0..7
        h_aft = self._unidirectional(self.gru_aft, gates["aft"][idx.flip(0)[: idx.shape[0] - mid - 1]])  # 15..9
        return self._integrate(h_cur, h_bef, h_aft)

    @staticmethod
    def _bidirectional_at(gru: nn.GRU, gi_f, gi_b, mid: int):
        """A stacked bidirectional GRU's top-layer output at step ``mid`` from first-layer gates (T, B, 3H) of
        both directions -> (B, 2H) = [forward ‖ backward]. Lower layers run over all T steps (the next layer's
        every step needs both directions); the top layer only over the steps that reach ``mid``."""
        out_f = _gru_layer(gi_f, *_hh(gru, 0, ""))
        out_b = _gru_layer(gi_b, *_hh(gru, 0, "_reverse"), reverse=True)
        b_start = 0  # time step of out_b[0]
        for layer in range(1, gru.num_layers):
            inp = torch.cat([out_f, out_b], dim=-1)  # (T, B, 2H)
            top = layer == gru.num_layers - 1
            f_in, b_in = (inp[: mid + 1], inp[mid:]) if top else (inp, inp)
            out_f = _gru_layer(F.linear(f_in, *_ih(gru, layer, "")), *_hh(gru, layer, ""))
            out_b = _gru_layer(F.linear(b_in, *_ih(gru, layer, "_reverse")), *_hh(gru, layer, "_reverse"),
                               reverse=True)
            b_start = mid if top else 0
        return torch.cat([out_f[mid], out_b[mid - b_start]], dim=-1)

    @staticmethod
    def _unidirectional(gru: nn.GRU, gi0):
        """A stacked one-way GRU from first-layer gates gi0 (T, B, 3H) -> top-layer last output (B, H)."""
        out = _gru_layer(gi0, *_hh(gru, 0, ""))
        for layer in range(1, gru.num_layers):
            out = _gru_layer(F.linear(out, *_ih(gru, layer, "")), *_hh(gru, layer, ""))
        return out[-1]


def _ih(gru: nn.GRU, layer: int, suffix: str):
    return getattr(gru, f"weight_ih_l{layer}{suffix}"), getattr(gru, f"bias_ih_l{layer}{suffix}")


def _hh(gru: nn.GRU, layer: int, suffix: str):
    return getattr(gru, f"weight_hh_l{layer}{suffix}"), getattr(gru, f"bias_hh_l{layer}{suffix}")
