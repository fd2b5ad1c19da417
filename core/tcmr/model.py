"""The assembled TCMR network and per-track prediction (windowing, batching).

Windowing (see ``docs/windowing.md``). TCMR predicts only the middle frame (slot 8) of a 16-frame window:
slots 0..7 are the 8 frames before it, slots 9..15 the 7 after it. For track position ``p`` of ``N``:

- ``"official"`` — the release's demo: ``p`` in 8..N-8 gets rows [p-8, p+7]; every other position (the first
  8 and last 7, or all of them when N < 16) gets its own feature repeated 16 times, i.e. no context at all.
- ``"ours"`` (default) — every position gets rows ``clip(p-8 .. p+7, 0, N-1)``: the middle is always ``p``,
  every past/future slot holds the real frame at that offset when it exists, and only slots that fall before
  the first (after the last) frame repeat the first (last) frame — as if the person held still there. Interior
  windows are identical to the official ones; edge frames keep all the real context there is; N < 16 works.
  Replicating the boundary frame (rather than reflecting the sequence) never invents motion that did not
  happen, and a held pose is the same kind of input the official scheme already feeds the network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .float32 import exact_float32
from .regressor import Regressor
from .temporal import SEQLEN, TemporalEncoder

WINDOWINGS = ("ours", "official")


def window_indices(n_frames: int, windowing: str = "ours", seqlen: int = SEQLEN) -> np.ndarray:
    """Rows of the track's features that make up each frame's window. -> (n_frames, seqlen) int64.

    Row ``p`` of the result is the window whose middle slot (``seqlen // 2``) is frame ``p``.
    """
    if windowing not in WINDOWINGS:
        raise ValueError(f"windowing must be one of {WINDOWINGS}, got {windowing!r}")
    mid = seqlen // 2
    pos = np.arange(n_frames, dtype=np.int64)[:, None]
    offsets = np.arange(-mid, seqlen - mid, dtype=np.int64)[None, :]  # -8 .. 7
    if windowing == "ours":
        return np.clip(pos + offsets, 0, max(n_frames - 1, 0))
    full = (pos >= mid) & (pos <= n_frames - (seqlen - mid))  # the window [p-8, p+7] fits in the track
    return np.where(full, pos + offsets, pos)


class TCMR(nn.Module):
    """TCMR(seqlen=16, n_layers=2, hidden_size=1024), the released configuration, in eval use.

    Calling it on features (B, 16, 2048) returns a dict: rotmat (B, 24, 3, 3), pose_aa (B, 24, 3),
    betas (B, 10), cam (B, 3) = (s, tx, ty) of the 224 crop, scores (B, 3) = attention (past, current,
    future); with an SMPL body also verts (B, 6890, 3) and joints49 (B, 49, 3) (official 49-joint order).
    ``smpl_arrays``: the numpy SMPL arrays of the body in use (or None); :func:`core.tcmr.checkpoint.load_tcmr`
    sets them together with ``regressor.smpl``.
    """

    def __init__(self):
        super().__init__()
        self.encoder = TemporalEncoder(n_layers=2, seq_len=SEQLEN, hidden_size=1024)
        self.regressor = Regressor()
        self.smpl_arrays = None

    @property
    def has_smpl(self) -> bool:
        return self.regressor.smpl is not None

    def forward(self, features, with_smpl: bool = True, with_verts: bool = True) -> dict:
        """features: (B, 16, 2048) -> the dict above (the release's eval path, ``torch.nn.GRU``). On CUDA with
        TensorFloat-32 off (:mod:`.float32`)."""
        with exact_float32(features.device):
            feature, scores = self.encoder(features)
            out = self.regressor(feature, with_smpl=with_smpl, with_verts=with_verts)
        out["scores"] = scores
        return out

    def predict_sequence(self, features, windowing: str = "ours", batch_windows: int = 256,
                         with_smpl: bool = True, with_verts: bool = True, shared: bool = True) -> dict:
        """One track, all frames: features (N, 2048) in frame order -> dict of numpy arrays with leading N.

        Keys as :meth:`forward` (verts/joints49 only with an SMPL body and ``with_smpl``; verts also need
        ``with_verts``). ``windowing``: "ours" (default) or "official" (the demo's scheme exactly), see the
        module docstring. ``batch_windows``: windows per network call (256: fewer, larger ops than 64, faster on a
        CPU and far less sensitive to a busy machine). ``shared=True`` runs the shared-
        projection encoder (:meth:`TemporalEncoder.forward_indexed`, ~2× faster, equal to float32 rounding);
        ``shared=False`` builds every window and runs :meth:`forward`. Runs under ``torch.inference_mode``
        on the module's device and dtype (on CUDA with TensorFloat-32 off, :mod:`.float32`); results are numpy
        arrays of that dtype (float32 for half types).
        """
        param = self.regressor.fc1.weight
        feats = torch.as_tensor(np.asarray(features) if not torch.is_tensor(features) else features)
        if feats.dim() != 2 or feats.shape[1] != 2048:
            raise ValueError(f"features must be (N, 2048), got {tuple(feats.shape)}")
        n = feats.shape[0]
        if batch_windows < 1:
            raise ValueError("batch_windows must be >= 1")
        windows = torch.from_numpy(window_indices(n, windowing)).to(param.device)
        chunks = []
        with torch.inference_mode(), exact_float32(param.device):
            feats = feats.to(device=param.device, dtype=param.dtype)
            gates = self.encoder.project_frames(feats) if shared and n > 0 else None
            for start in range(0, n, batch_windows):
                w = windows[start:start + batch_windows]
                if shared:
                    feature, scores = self.encoder.forward_indexed(gates, w)
                    out = self.regressor(feature, with_smpl=with_smpl, with_verts=with_verts)
                    out["scores"] = scores
                else:
                    out = self.forward(feats[w], with_smpl=with_smpl, with_verts=with_verts)
                chunks.append({k: _to_cpu(v) for k, v in out.items()})
        if not chunks:
            return _empty_result(self.has_smpl and with_smpl, with_verts)
        return {k: torch.cat([c[k] for c in chunks]).numpy() for k in chunks[0]}


def _to_cpu(t):
    return (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t).cpu()


def _empty_result(smpl: bool, verts: bool) -> dict:
    shapes = {"rotmat": (24, 3, 3), "pose_aa": (24, 3), "betas": (10,), "cam": (3,), "scores": (3,)}
    if smpl:
        shapes["joints49"] = (49, 3)
        if verts:
            shapes["verts"] = (6890, 3)
    return {k: np.zeros((0,) + s, dtype=np.float32) for k, s in shapes.items()}
