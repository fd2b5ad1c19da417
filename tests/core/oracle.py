"""Slow, obvious float64 numpy reference implementations, written from the spec (docs: spec/tcmr.md §1, §6).

Nothing here imports the code under test. Each function does one thing the plain way: GRU equations step by
step, explicit loops where they make the maths readable.
"""

from __future__ import annotations

import numpy as np

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
VERTEX_JOINTS = [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
                 2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133]
# spec §6, written out again by name -> source index (independent of core.skeleton)
JOINTS49 = [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
            8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27]


def to64(sd) -> dict:
    """torch/numpy state dict -> {name: float64 numpy array}."""
    out = {}
    for k, v in sd.items():
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        out[k] = v.astype(np.float64)
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def linear(x, w, b):
    return x @ w.T + b


# ------------------------------------------------------------------------------------------- GRU
def gru_direction(xs, w_ih, w_hh, b_ih, b_hh, reverse=False):
    """xs: (T, B, In) -> outputs (T, B, H); zero initial state; gates ordered r | z | n."""
    T, B = xs.shape[:2]
    H = w_hh.shape[1]
    h = np.zeros((B, H))
    out = np.zeros((T, B, H))
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        gi = xs[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1.0 - z) * n + z * h
        out[t] = h
    return out


def gru(xs, sd, prefix, layers, bidirectional):
    """Stacked (bi)GRU as torch.nn.GRU defines it. xs: (T, B, In) -> top-layer outputs (T, B, H·dirs)."""
    inp = xs
    for layer in range(layers):
        p = lambda n, s="": sd[f"{prefix}.{n}_l{layer}{s}"]  # noqa: E731
        fwd = gru_direction(inp, p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"))
        if bidirectional:
            bwd = gru_direction(inp, p("weight_ih", "_reverse"), p("weight_hh", "_reverse"),
                                p("bias_ih", "_reverse"), p("bias_hh", "_reverse"), reverse=True)
            inp = np.concatenate([fwd, bwd], axis=-1)
        else:
            inp = fwd
    return inp


# ------------------------------------------------------------------------------------------- TCMR
def temporal_encoder(sd, x):
    """x: (B, 16, 2048) -> (feature (B, 2048), scores (B, 3))."""
    xt = np.transpose(x, (1, 0, 2))  # (16, B, 2048)
    cur = gru(xt, sd, "encoder.gru_cur", 2, True)[8]  # (B, 2048)
    bef = gru(xt[:8], sd, "encoder.gru_bef", 2, False)[-1]  # after frame 7
    aft = gru(xt[9:][::-1], sd, "encoder.gru_aft", 2, False)[-1]  # frames 15..9, last = after frame 9
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    y_cur = linear(relu(cur), sd["encoder.linear_cur.weight"], sd["encoder.linear_cur.bias"])
    y_bef = linear(relu(bef), sd["encoder.linear_bef.weight"], sd["encoder.linear_bef.bias"])
    y_aft = linear(relu(aft), sd["encoder.linear_aft.weight"], sd["encoder.linear_aft.bias"])
    Y = np.stack([y_bef, y_cur, y_aft], axis=1)  # (B, 3, 2048)
    a = "encoder.attention."
    f = linear(Y, sd[a + "fc.weight"], sd[a + "fc.bias"]).reshape(len(x), -1)  # no activation
    f = np.tanh(linear(f, sd[a + "attention.0.weight"], sd[a + "attention.0.bias"]))
    f = np.tanh(linear(f, sd[a + "attention.2.weight"], sd[a + "attention.2.bias"]))
    logits = np.tanh(linear(f, sd[a + "attention.4.weight"], sd[a + "attention.4.bias"]))
    e = np.exp(logits)
    scores = e / e.sum(axis=1, keepdims=True)
    feature = np.einsum("bk,bkf->bf", scores, Y)
    return feature, scores


def rot6d_to_rotmat(x6):
    """(..., 6) row-major 3×2 -> (..., 3, 3) with columns b1, b2, b3.

    Written the other way round from the code under test: a complete QR factorisation (Householder, not
    Gram-Schmidt) of each 3×2 matrix, one matrix at a time. Q's first two columns are the orthonormalised
    inputs once each column sign is fixed so that R's diagonal is positive; the third column is whichever of
    ±q3 makes a right-handed frame (det +1)."""
    x6 = np.asarray(x6, np.float64)
    flat = x6.reshape(-1, 6)
    out = np.zeros((len(flat), 3, 3))
    for i, row in enumerate(flat):
        m = np.array([[row[0], row[1]], [row[2], row[3]], [row[4], row[5]]])
        q, r = np.linalg.qr(m, mode="complete")
        for c in range(2):
            if r[c, c] < 0:
                q[:, c] = -q[:, c]
        if np.linalg.det(q) < 0:
            q[:, 2] = -q[:, 2]
        out[i] = q
    return out.reshape(x6.shape[:-1] + (3, 3))


def regressor(sd, feature):
    """feature (B, 2048) -> (rotmat (B, 24, 3, 3), betas (B, 10), cam (B, 3))."""
    B = len(feature)
    pose = np.repeat(sd["regressor.init_pose"], B, axis=0)
    shape = np.repeat(sd["regressor.init_shape"], B, axis=0)
    cam = np.repeat(sd["regressor.init_cam"], B, axis=0)
    r = lambda n: (sd[f"regressor.{n}.weight"], sd[f"regressor.{n}.bias"])  # noqa: E731
    for _ in range(3):
        h = linear(linear(np.concatenate([feature, pose, shape, cam], axis=1), *r("fc1")), *r("fc2"))
        pose = pose + linear(h, *r("decpose"))
        shape = shape + linear(h, *r("decshape"))
        cam = cam + linear(h, *r("deccam"))
    return rot6d_to_rotmat(pose.reshape(B, 24, 6)), shape, cam


def tcmr(sd, x):
    """The whole network without SMPL: x (B, 16, 2048) -> dict rotmat, betas, cam, scores."""
    feature, scores = temporal_encoder(sd, x)
    rotmat, betas, cam = regressor(sd, feature)
    return {"rotmat": rotmat, "betas": betas, "cam": cam, "scores": scores}


# ------------------------------------------------------------------------------------------- SMPL
def smpl(arrays, rotmat, betas):
    """Plain linear blend skinning. rotmat (B, 24, 3, 3), betas (B, 10) ->
    (verts (B, 6890, 3), joints24 (B, 24, 3), joints49 (B, 49, 3))."""
    v_template = np.asarray(arrays["v_template"], np.float64)
    shapedirs = np.asarray(arrays["shapedirs"], np.float64)[..., :10]
    posedirs = np.asarray(arrays["posedirs"], np.float64)
    Jreg = np.asarray(arrays["J_regressor"], np.float64)
    W = np.asarray(arrays["weights"], np.float64)
    extra = np.asarray(arrays["J_regressor_extra"], np.float64)
    B = len(rotmat)
    verts_all, j24_all, j49_all = [], [], []
    for b in range(B):
        R = rotmat[b]
        v_shaped = v_template + shapedirs @ betas[b]
        J = Jreg @ v_shaped
        pose_feature = (R[1:] - np.eye(3)).reshape(-1)  # 207
        v_posed = v_shaped + posedirs @ pose_feature
        G = np.zeros((24, 4, 4))
        for j in range(24):
            local = np.eye(4)
            local[:3, :3] = R[j]
            local[:3, 3] = J[j] if SMPL_PARENTS[j] < 0 else J[j] - J[SMPL_PARENTS[j]]
            G[j] = local if SMPL_PARENTS[j] < 0 else G[SMPL_PARENTS[j]] @ local
        posed_joints = G[:, :3, 3].copy()
        A = G.copy()
        for j in range(24):  # remove the rest position: skinning transforms act on rest-pose vertices
            A[j, :3, 3] = G[j, :3, 3] - G[j, :3, :3] @ J[j]
        T = np.einsum("vj,jab->vab", W, A)
        verts = np.einsum("vab,vb->va", T[:, :3, :3], v_posed) + T[:, :3, 3]
        j54 = np.concatenate([posed_joints, verts[VERTEX_JOINTS], extra @ verts], axis=0)
        verts_all.append(verts)
        j24_all.append(posed_joints)
        j49_all.append(j54[JOINTS49])
    return np.stack(verts_all), np.stack(j24_all), np.stack(j49_all)


# ------------------------------------------------------------------------------------------- windows
def official_windows(features):
    """The demo's FeatureDataset, literally: a list of (16, F) windows, one per track row."""
    n = len(features)
    spans = [[i, i + 15] for i in range(n - 16 + 1)]
    for i in range(1, 9):
        spans.insert(0, [8 - i, 8 - i])
    for i in range(1, 8):
        spans.append([-8 + i, -8 + i])
    out = []
    for s, e in spans:
        out.append(features[s:e + 1] if s != e else np.repeat(features[s][None], 16, axis=0))
    return out
