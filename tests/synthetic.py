"""Synthetic stand-ins for every file the project reads, in the official layouts, built by our own code.

Nothing here is downloaded: weights are seeded random numbers, the SMPL body is a plausible made-up body
with the real sizes (6890 vertices, 24 joints, 10 betas, 207 pose blend shapes, 13776 faces). Files:

- :func:`make_smpl_arrays` / :func:`write_smpl_pkl` / :func:`write_smpl_npz`: the SMPL model (the .pkl is
  written like the official one: latin-1 pickle, ``shapedirs`` as a chumpy object, sparse ``J_regressor``).
- :func:`make_tcmr_state_dict` / :func:`write_tcmr_checkpoint`: ``tcmr_demo_model.pth.tar`` in the trainer
  layout (``gen_state_dict`` with 71 entries incl. ``regressor.smpl.*``, numpy-scalar ``performance``).
- :func:`make_spin_state_dict` / :func:`write_spin_checkpoint`: ``spin_model_checkpoint.pth.tar`` (``model``, 331 entries).
- :func:`write_detector_weights`: an ultralytics YOLO built from its yaml (random weights) saved as ``.pt``.
- :func:`write_models_dir`: all of the above under their official names.
- :func:`write_synthetic_video`: a short video of a walking figure.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.formats.to_smpl import TYPICAL_REST_JOINTS

# Approximate rest joints of the SMPL neutral body (metres, y up, z towards the viewer). Made-up but
# anatomically plausible: a 1.7 m T-posed person with the pelvis about 0.24 m below the origin (core.formats keeps
# them as the default skeleton it retargets recorded motion onto).
REST_JOINTS = TYPICAL_REST_JOINTS.copy()
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
NV, NJ, NF, NB, NP = 6890, 24, 13776, 10, 207
RING = 8  # vertices placed symmetrically around each joint: their mean is the joint exactly


def make_smpl_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """A synthetic SMPL model with the real array shapes, as the official .pkl names them.

    Returns v_template (6890,3) f64, shapedirs (6890,3,10), posedirs (6890,3,207), J_regressor (24,6890)
    dense, weights (6890,24), kintree_table (2,24) int64, f (13776,3) int64, J_regressor_extra (9,6890).
    ``J_regressor @ v_template`` equals :data:`REST_JOINTS` (each row averages a symmetric ring).
    """
    rng = np.random.default_rng(seed)
    v = np.zeros((NV, 3))
    owner = np.zeros(NV, dtype=np.int64)  # joint that mostly drives each vertex
    J_reg = np.zeros((NJ, NV))
    ring_dirs = np.stack([np.cos(np.arange(RING) * 2 * np.pi / RING), np.sin(np.arange(RING) * 2 * np.pi / RING)], 1)
    for j in range(NJ):
        idx = np.arange(j * RING, (j + 1) * RING)
        v[idx] = REST_JOINTS[j]
        v[idx, 0] += 0.03 * ring_dirs[:, 0]
        v[idx, 2] += 0.03 * ring_dirs[:, 1]
        owner[idx] = j
        J_reg[j, idx] = 1.0 / RING
    # the rest: flesh along each bone (joint -> first child), a capsule of random radius
    children = {j: [c for c in range(NJ) if PARENTS[c] == j] for j in range(NJ)}
    rest = np.arange(NJ * RING, NV)
    joint_of = rng.integers(0, NJ, size=rest.size)
    for k, j in zip(rest, joint_of):
        a = REST_JOINTS[j]
        b = REST_JOINTS[children[j][0]] if children[j] else a + np.array([0.0, 0.08, 0.0])
        t = rng.uniform(0.0, 1.0)
        offset = rng.normal(size=3)
        offset *= rng.uniform(0.03, 0.07) / np.linalg.norm(offset)
        v[k] = a + t * (b - a) + offset
        owner[k] = j
    weights = np.full((NV, NJ), 0.0)
    weights[np.arange(NV), owner] = 0.8
    parent_or_self = np.where(PARENTS[owner] >= 0, PARENTS[owner], owner)
    weights[np.arange(NV), parent_or_self] += 0.2
    shapedirs = np.zeros((NV, 3, NB))
    shapedirs[:, :, 0] = 0.03 * v  # beta 0: overall size
    shapedirs[:, 1, 1] = 0.03 * v[:, 1]  # beta 1: height
    shapedirs[:, 0, 2] = 0.02 * v[:, 0]  # beta 2: width
    shapedirs[:, :, 3:] = 0.002 * rng.normal(size=(NV, 3, NB - 3))
    posedirs = 0.001 * rng.normal(size=(NV, 3, NP))
    faces = (np.arange(NF)[:, None] + np.array([0, 1, 2])[None]) % NV
    faces = faces[:, [0, 2, 1]] if seed % 2 else faces
    kintree = np.stack([np.where(PARENTS < 0, 4294967295, PARENTS), np.arange(NJ)]).astype(np.int64)
    extra = np.zeros((9, NV))
    for r in range(9):
        extra[r, rng.choice(NV, size=4, replace=False)] = 0.25
    return {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": J_reg,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.int64),
        "J_regressor_extra": extra,
    }


@contextlib.contextmanager
def fake_modules(modules: dict):
    """Temporarily put ``modules`` (name -> module object) into ``sys.modules``, so pickle can write objects
    whose classes claim to live in packages that are not installed (chumpy, joblib)."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextlib.contextmanager
def _fake_chumpy():
    """Provide a module ``chumpy.ch`` with a class ``Ch`` so pickle can write chumpy objects the way the
    official SMPL file holds them (a ``Ch`` whose state carries the array as ``x``)."""
    pkg = types.ModuleType("chumpy")
    mod = types.ModuleType("chumpy.ch")

    class Ch:  # noqa: D401 - stand-in
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    mod.Ch = Ch
    pkg.ch = mod
    with fake_modules({"chumpy": pkg, "chumpy.ch": mod}):
        yield Ch


def write_smpl_pkl(path, arrays: dict | None = None, seed: int = 0) -> Path:
    """Write an SMPL .pkl laid out like the official one (chumpy ``shapedirs``, scipy-sparse ``J_regressor``,
    extra keys ``bs_style``/``bs_type``/``J``). Loading it needs neither chumpy nor the SMPL code."""
    import scipy.sparse

    a = make_smpl_arrays(seed) if arrays is None else arrays
    with _fake_chumpy() as Ch:
        data = {
            "v_template": a["v_template"],
            "shapedirs": Ch(a["shapedirs"]),
            "posedirs": a["posedirs"],
            "J_regressor": scipy.sparse.csc_matrix(a["J_regressor"]),
            "weights": a["weights"],
            "kintree_table": a["kintree_table"],
            "f": a["f"].astype(np.uint32),
            "J": a["J_regressor"] @ a["v_template"],
            "bs_style": "lbs",
            "bs_type": "lrotmin",
        }
        blob = pickle.dumps(data, protocol=2)
    path = Path(path)
    path.write_bytes(blob)
    return path


def write_smpl_npz(path, arrays: dict | None = None, seed: int = 0) -> Path:
    """Write the plain-numpy SMPL layout (same key names as the .pkl, dense arrays)."""
    a = make_smpl_arrays(seed) if arrays is None else arrays
    path = Path(path)
    np.savez(path, **{k: a[k] for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                                        "kintree_table", "f")})
    return path


# ---------------------------------------------------------------------------------------------- TCMR
def _rot6d_identity_upright() -> np.ndarray:
    """Mean pose (144,): global orientation 180° about x (upright in the camera frame), others identity."""
    R = np.tile(np.eye(3), (24, 1, 1))
    R[0] = np.diag([1.0, -1.0, -1.0])
    return R[:, :, :2].reshape(144)


def _linear(gen, out_f, in_f, scale=1.0):
    import torch

    bound = scale / np.sqrt(in_f)
    w = (torch.rand(out_f, in_f, generator=gen) * 2 - 1) * bound
    b = (torch.rand(out_f, generator=gen) * 2 - 1) * bound
    return w, b


def _gru(gen, prefix, in_f, hidden, layers, bidirectional):
    import torch

    out = OrderedDict()
    bound = 1.0 / np.sqrt(hidden)
    for layer in range(layers):
        layer_in = in_f if layer == 0 else hidden * (2 if bidirectional else 1)
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            out[f"{prefix}.weight_ih_l{layer}{suffix}"] = (torch.rand(3 * hidden, layer_in, generator=gen) * 2 - 1) * bound
            out[f"{prefix}.weight_hh_l{layer}{suffix}"] = (torch.rand(3 * hidden, hidden, generator=gen) * 2 - 1) * bound
            out[f"{prefix}.bias_ih_l{layer}{suffix}"] = (torch.rand(3 * hidden, generator=gen) * 2 - 1) * bound
            out[f"{prefix}.bias_hh_l{layer}{suffix}"] = (torch.rand(3 * hidden, generator=gen) * 2 - 1) * bound
    return out


def make_smpl_buffers(arrays: dict | None = None, seed: int = 0) -> "OrderedDict":
    """The 12 ``regressor.smpl.*`` entries of the official checkpoint (smplx 0.1.13 layout, batch 64)."""
    import torch

    a = make_smpl_arrays(seed) if arrays is None else arrays
    f32 = lambda x: torch.tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    sd = OrderedDict()
    sd["betas"] = torch.zeros(64, 10)
    sd["global_orient"] = torch.zeros(64, 3)
    sd["body_pose"] = torch.zeros(64, 69)
    sd["faces_tensor"] = torch.tensor(a["f"], dtype=torch.int64)
    sd["v_template"] = f32(a["v_template"])
    sd["shapedirs"] = f32(a["shapedirs"])
    sd["J_regressor"] = f32(a["J_regressor"])
    sd["posedirs"] = f32(a["posedirs"].reshape(-1, NP).T)  # (207, 20670)
    sd["parents"] = torch.tensor(PARENTS, dtype=torch.int64)
    sd["lbs_weights"] = f32(a["weights"])
    sd["J_regressor_extra"] = f32(a["J_regressor_extra"])
    sd["vertex_joint_selector.extra_joints_idxs"] = torch.tensor(
        [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
         2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133], dtype=torch.int64)
    return sd


def make_tcmr_state_dict(seed: int = 0, smpl_arrays: dict | None = None, with_smpl: bool = True) -> "OrderedDict":
    """``gen_state_dict`` of TCMR(seqlen=16, n_layers=2, hidden_size=1024): 59 network entries (+12 SMPL).

    Weights are PyTorch-default-like uniform numbers; the regressor's output layers are scaled down so
    predictions stay near the mean pose (as a trained model's do), which keeps downstream geometry sane.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    sd.update(_gru(gen, "encoder.gru_cur", 2048, 1024, 2, True))
    sd.update(_gru(gen, "encoder.gru_bef", 2048, 1024, 2, False))
    sd.update(_gru(gen, "encoder.gru_aft", 2048, 1024, 2, False))
    for name, in_f in (("linear_cur", 2048), ("linear_bef", 1024), ("linear_aft", 1024)):
        sd[f"encoder.{name}.weight"], sd[f"encoder.{name}.bias"] = _linear(gen, 2048, in_f)
    sd["encoder.attention.fc.weight"], sd["encoder.attention.fc.bias"] = _linear(gen, 256, 2048)
    for idx, (o, i) in zip((0, 2, 4), ((256, 768), (256, 256), (3, 256))):
        sd[f"encoder.attention.attention.{idx}.weight"], sd[f"encoder.attention.attention.{idx}.bias"] = _linear(gen, o, i, scale=3.0)
    sd["regressor.init_pose"] = torch.tensor(_rot6d_identity_upright(), dtype=torch.float32)[None]
    sd["regressor.init_shape"] = torch.zeros(1, 10)
    sd["regressor.init_cam"] = torch.tensor([[0.9, 0.0, 0.0]])
    sd["regressor.fc1.weight"], sd["regressor.fc1.bias"] = _linear(gen, 1024, 2205)
    sd["regressor.fc2.weight"], sd["regressor.fc2.bias"] = _linear(gen, 1024, 1024)
    for name, o, scale in (("decpose", 144, 0.3), ("decshape", 10, 0.3), ("deccam", 3, 0.05)):
        sd[f"regressor.{name}.weight"], sd[f"regressor.{name}.bias"] = _linear(gen, o, 1024, scale=scale)
    if with_smpl:
        for k, v in make_smpl_buffers(smpl_arrays, seed).items():
            sd[f"regressor.smpl.{k}"] = v
    return sd


def make_disc_state_dict(seed: int = 0) -> "OrderedDict":
    """The (training-only) motion discriminator, so the trainer layout is complete."""
    gen = __import__("torch").Generator().manual_seed(seed + 1)
    sd = OrderedDict()
    sd.update(_gru(gen, "gru", 69, 1024, 2, False))
    for idx in (0, 3):
        sd[f"attention.attention.{idx}.weight"], sd[f"attention.attention.{idx}.bias"] = _linear(gen, 1024, 1024)
    sd["attention.attention.6.weight"], sd["attention.attention.6.bias"] = _linear(gen, 1, 1024)
    sd["fc.weight"], sd["fc.bias"] = _linear(gen, 1, 1024)
    return sd


def write_tcmr_checkpoint(path, seed: int = 0, smpl_arrays: dict | None = None, legacy_format: bool = False,
                          bare: bool = False) -> Path:
    """Write ``tcmr_demo_model.pth.tar`` in the official trainer layout (or a bare state dict)."""
    import torch

    sd = make_tcmr_state_dict(seed, smpl_arrays)
    if bare:
        obj = sd
    else:
        obj = {
            "epoch": 31,
            "gen_state_dict": sd,
            "performance": np.float32(52.7),  # a numpy scalar, as in the official file
            "gen_optimizer": {"state": {}, "param_groups": [{"lr": 5e-05, "params": list(range(59))}]},
            "disc_motion_state_dict": make_disc_state_dict(seed),
            "disc_motion_optimizer": {"state": {}, "param_groups": [{"lr": 1e-04, "params": list(range(16))}]},
        }
    path = Path(path)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy_format)
    return path


# ---------------------------------------------------------------------------------------------- SPIN
def make_spin_state_dict(seed: int = 0) -> "OrderedDict":
    """SPIN's HMR ``model`` dict (331 entries): init_* , ResNet-50 (torchvision names), fc1/fc2/dec*.

    BatchNorm running statistics are randomised too (mean ~0, var ~1) so eval-mode BN is exercised.
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 7)
    sd = OrderedDict()
    sd["init_pose"] = torch.tensor(_rot6d_identity_upright(), dtype=torch.float32)[None]
    sd["init_shape"] = torch.zeros(1, 10)
    sd["init_cam"] = torch.tensor([[0.9, 0.0, 0.0]])

    def conv(name, o, i, k):
        std = np.sqrt(2.0 / (i * k * k))
        sd[f"{name}.weight"] = torch.randn(o, i, k, k, generator=gen) * std

    def bn(name, c):
        sd[f"{name}.weight"] = 1.0 + 0.1 * torch.randn(c, generator=gen)
        sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
        sd[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
        sd[f"{name}.running_var"] = 1.0 + 0.1 * torch.rand(c, generator=gen)
        sd[f"{name}.num_batches_tracked"] = torch.tensor(1000, dtype=torch.int64)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for li, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            conv(f"{p}.conv1", planes, inplanes, 1)
            bn(f"{p}.bn1", planes)
            conv(f"{p}.conv2", planes, planes, 3)
            bn(f"{p}.bn2", planes)
            conv(f"{p}.conv3", planes * 4, planes, 1)
            bn(f"{p}.bn3", planes * 4)
            if b == 0:
                conv(f"{p}.downsample.0", planes * 4, inplanes, 1)
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    for name, o, i in (("fc1", 1024, 2205), ("fc2", 1024, 1024), ("decpose", 144, 1024), ("decshape", 10, 1024),
                       ("deccam", 3, 1024)):
        sd[f"{name}.weight"], sd[f"{name}.bias"] = _linear(gen, o, i)
    return sd


def write_spin_checkpoint(path, seed: int = 0, bare: bool = False) -> Path:
    """Write ``spin_model_checkpoint.pth.tar`` in SPIN's CheckpointSaver layout (or a bare state dict)."""
    import torch

    sd = make_spin_state_dict(seed)
    obj = sd if bare else {
        "model": sd,
        "optimizer": {"state": {}, "param_groups": [{"lr": 5e-05, "params": list(range(len(sd)))}]},
        "epoch": 0,
        "batch_idx": 5000,
        "batch_size": 64,
        "dataset_perm": torch.arange(16),
        "total_step_count": 120000,
    }
    path = Path(path)
    torch.save(obj, path)
    return path


# ---------------------------------------------------------------------------------------------- YOLO
def write_detector_weights(path, variant: str = "yolo11n.yaml", person_logit: float | None = None) -> Path:
    """An ultralytics YOLO detector built from its yaml (random weights), saved like a release ``.pt``.

    Random weights find nobody; ``person_logit`` (e.g. 8) sets the person-class bias of the detection head so
    every anchor is a confident person: many boxes per frame (random places, but fixed by the weights)."""
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    try:
        model = YOLO(variant)
        if person_logit is not None:
            with torch.no_grad():
                for branch in model.model.model[-1].cv3:  # the class branch of each scale; class 0 = person
                    branch[-1].bias[0] = float(person_logit)
        path = Path(path)
        model.save(str(path))
    finally:
        torch.set_num_threads(threads)
    return path


def write_models_dir(folder, seed: int = 0, detector: bool = True) -> Path:
    """A models directory with every file under its official name (synthetic contents)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_tcmr_checkpoint(folder / "tcmr_demo_model.pth.tar", seed=seed)
    write_spin_checkpoint(folder / "spin_model_checkpoint.pth.tar", seed=seed)
    if detector:
        write_detector_weights(folder / "yolo11s.pt")
    return folder


# ---------------------------------------------------------------------------------------------- video
def figure_box_xyxy(t: int, width: int = 320, height: int = 240, n_frames: int = 40) -> np.ndarray:
    """Bounding box (x0, y0, x1, y1) of the walking figure drawn in frame ``t`` (ground truth for tests)."""
    cx = width * (0.3 + 0.4 * t / max(n_frames - 1, 1))
    h = 0.75 * height
    top = 0.12 * height
    return np.array([cx - 0.18 * h, top, cx + 0.18 * h, top + h])


def write_synthetic_video(path, n_frames: int = 40, width: int = 320, height: int = 240, fps: float = 30.0,
                          fourcc: str = "mp4v") -> Path:
    """A person-like figure walking left to right over a textured background (OpenCV-encoded)."""
    import cv2

    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with codec {fourcc}")
    rng = np.random.default_rng(3)
    background = (rng.integers(90, 150, size=(height, width, 3))).astype(np.uint8)
    background = cv2.GaussianBlur(background, (0, 0), 3)
    for t in range(n_frames):
        img = background.copy()
        x0, y0, x1, y1 = figure_box_xyxy(t, width, height, n_frames)
        cx, h = 0.5 * (x0 + x1), y1 - y0
        swing = 0.12 * h * np.sin(t * 0.5)
        head = (int(cx), int(y0 + 0.08 * h))
        hip = (int(cx), int(y0 + 0.55 * h))
        neck = (int(cx), int(y0 + 0.18 * h))
        colour, skin = (40, 60, 160), (150, 180, 220)
        cv2.circle(img, head, int(0.07 * h), skin, -1)
        cv2.line(img, neck, hip, colour, max(2, int(0.1 * h)))
        for sign in (-1, 1):
            cv2.line(img, hip, (int(cx + sign * swing), int(y1)), (30, 30, 30), max(2, int(0.05 * h)))
            cv2.line(img, neck, (int(cx - sign * swing), int(y0 + 0.5 * h)), skin, max(2, int(0.035 * h)))
        writer.write(img)
    writer.release()
    return path


BAD_VIDEO_KINDS = ("missing", "empty", "text", "truncated", "folder")


def write_bad_video(path, kind: str, good_video) -> Path:
    """A file at ``path`` that is no readable video, of the kind ``kind`` (BAD_VIDEO_KINDS; "missing" writes
    nothing); "truncated" is the first 3000 bytes of the real video ``good_video``."""
    path = Path(path)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 20)
    elif kind == "truncated":
        path.write_bytes(Path(good_video).read_bytes()[:3000])
    elif kind == "folder":
        path.mkdir()
    elif kind != "missing":
        raise ValueError(kind)
    return path


def write_counter_video(path, n_frames: int = 40, width: int = 320, height: int = 240, fps: float = 30.0) -> Path:
    """Frames that tell which one they are: a textured background with a white bar at x = 7 t (frame t) and a
    dark bar at x = width - 8 - 5 t, so a frame shown anywhere (a render, a viewer) is identified by comparing
    it with the decoded frames (the nearest one is clearly the right one)."""
    import cv2

    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    rng = np.random.default_rng(5)
    background = cv2.GaussianBlur(rng.integers(60, 190, size=(height, width, 3)).astype(np.uint8), (0, 0), 2)
    for t in range(n_frames):
        img = background.copy()
        x = (7 * t) % (width - 8)
        img[:, x:x + 8] = 255
        y = (width - 8 - 5 * t) % (width - 8)
        img[height // 4:3 * height // 4, y:y + 8] = 20
        writer.write(img)
    writer.release()
    return path
