"""A plain implementation of the official TCMR demo's model stage, written from the spec (§1, §2.1, §2.4, §5),
as the baseline of ``bench/bench_speed.py``. Nothing here imports the code being measured except the SMPL body.

- features: torchvision's ResNet-50 (fc removed), contiguous NCHW float32, one batch per track (the demo's 256);
- windows: one 16-frame window per frame (the demo's FeatureDataset: edge frames repeat their own feature);
- TCMR: three ``torch.nn.GRU`` (2 layers, 1024), linears, attention, the 3-step regressor, 64 windows per call,
  and SMPL vertices + joints for every window, as the release's regressor always computes them (the body is
  ``core.smpl.SmplBody``, parity-tested against the float64 oracle; the release uses smplx, same arithmetic).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def official_backbone(spin_state_dict) -> nn.Module:
    import torchvision

    net = torchvision.models.resnet50(weights=None)
    missing, _ = net.load_state_dict(spin_state_dict, strict=False)
    assert set(missing) <= {"fc.weight", "fc.bias"}, missing
    net.fc = nn.Identity()
    return net.eval().requires_grad_(False)


class OfficialTCMR(nn.Module):
    """TCMR(seqlen=16, n_layers=2, hidden_size=1024), eval path, from the official state dict names."""

    def __init__(self, smpl_body):
        super().__init__()
        self.encoder = nn.Module()
        e = self.encoder
        e.gru_cur = nn.GRU(2048, 1024, num_layers=2, bidirectional=True)
        e.gru_bef = nn.GRU(2048, 1024, num_layers=2)
        e.gru_aft = nn.GRU(2048, 1024, num_layers=2)
        e.linear_cur, e.linear_bef, e.linear_aft = nn.Linear(2048, 2048), nn.Linear(1024, 2048), nn.Linear(1024, 2048)
        e.attention = nn.Module()
        e.attention.fc = nn.Linear(2048, 256)
        e.attention.attention = nn.Sequential(nn.Linear(768, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(),
                                              nn.Linear(256, 3), nn.Tanh())
        self.regressor = nn.Module()
        r = self.regressor
        for name, shape in (("init_pose", (1, 144)), ("init_shape", (1, 10)), ("init_cam", (1, 3))):
            r.register_buffer(name, torch.zeros(shape))
        r.fc1, r.fc2 = nn.Linear(2205, 1024), nn.Linear(1024, 1024)
        r.decpose, r.decshape, r.deccam = nn.Linear(1024, 144), nn.Linear(1024, 10), nn.Linear(1024, 3)
        self.smpl = smpl_body

    def forward(self, x):
        """x: (B, 16, 2048) -> rotmat (B, 24, 3, 3), betas, cam, scores, verts, joints49."""
        e, r = self.encoder, self.regressor
        xt = x.permute(1, 0, 2)
        y_cur, _ = e.gru_cur(xt)
        y_bef, _ = e.gru_bef(xt[:8])
        y_aft, _ = e.gru_aft(torch.flip(xt[9:], dims=[0]))
        y = torch.stack([e.linear_bef(torch.relu(y_bef[-1])), e.linear_cur(torch.relu(y_cur[8])),
                         e.linear_aft(torch.relu(y_aft[-1]))], dim=1)  # (B, 3, 2048)
        scores = torch.softmax(e.attention.attention(e.attention.fc(y).reshape(len(x), -1)), dim=-1)
        feature = (y * scores[:, :, None]).sum(1)
        pose, shape, cam = (r.init_pose.expand(len(x), -1), r.init_shape.expand(len(x), -1),
                            r.init_cam.expand(len(x), -1))
        for _ in range(3):
            h = r.fc2(r.fc1(torch.cat([feature, pose, shape, cam], 1)))
            pose, shape, cam = pose + r.decpose(h), shape + r.decshape(h), cam + r.deccam(h)
        rotmat = rot6d_to_rotmat(pose).view(len(x), 24, 3, 3)
        out = {"rotmat": rotmat, "betas": shape, "cam": cam, "scores": scores}
        out.update(self.smpl(rotmat, shape, with_verts=True))
        return out


def rot6d_to_rotmat(x):
    """spec §1.4: (B, 144) -> (B·24, 3, 3), Gram-Schmidt on the columns (x0, x2, x4), (x1, x3, x5)."""
    x = x.reshape(-1, 3, 2)
    a1, a2 = x[:, :, 0], x[:, :, 1]
    b1 = a1 / a1.norm(dim=1, keepdim=True).clamp_min(1e-6)
    u = a2 - (b1 * a2).sum(1, keepdim=True) * b1
    b2 = u / u.norm(dim=1, keepdim=True).clamp_min(1e-6)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=1)], dim=-1)


def official_windows(n: int) -> np.ndarray:
    """spec §2.4: (n, 16) row indices; rows 0..7 and n-7..n-1 repeat themselves."""
    out = np.repeat(np.arange(n)[:, None], 16, axis=1)
    for p in range(8, n - 7):
        out[p] = np.arange(p - 8, p + 8)
    return out


def load_official(tcmr_state_dict, spin_state_dict, smpl_body):
    tcmr = OfficialTCMR(smpl_body)
    network = {k: v for k, v in tcmr_state_dict.items() if not k.startswith("regressor.smpl.")}
    missing, unexpected = tcmr.load_state_dict(network, strict=False)
    assert not unexpected and all(k.startswith("smpl.") for k in missing), (missing, unexpected)
    return official_backbone(spin_state_dict), tcmr.eval().requires_grad_(False)


def run_official(backbone, tcmr, crops, feature_batch: int = 256, window_batch: int = 64) -> dict:
    """crops (N, 3, 224, 224) float32 normalised -> dict of numpy arrays (N, ...), the demo's way."""
    with torch.inference_mode():
        feats = torch.cat([backbone(crops[i:i + feature_batch]) for i in range(0, len(crops), feature_batch)])
        windows = torch.from_numpy(official_windows(len(feats)))
        outs = [tcmr(feats[windows[i:i + window_batch]]) for i in range(0, len(feats), window_batch)]
    return {k: torch.cat([o[k] for o in outs]).numpy() for k in outs[0]}
