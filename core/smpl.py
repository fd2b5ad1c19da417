"""The SMPL body: numpy geometry (no torch needed, the Blender add-on uses it) and the model files.

Arrays use the official ``.pkl`` key names: ``v_template`` (6890, 3), ``shapedirs`` (6890, 3, 10),
``posedirs`` (6890, 3, 207), ``J_regressor`` (24, 6890) dense, ``weights`` (6890, 24),
``kintree_table`` (2, 24), ``f`` (13776, 3), optionally ``J_regressor_extra`` (9, 6890) (the 9 extra
joints of TCMR/SPIN's 49-joint output; the TCMR checkpoint carries it, the official ``.pkl`` does not).

- numpy (no torch): :func:`shaped_vertices`, :func:`rest_joints`, :func:`forward_kinematics`,
  :func:`load_smpl_arrays` (``.pkl``/``.npz``), :func:`smpl_arrays_from_tcmr_state_dict`, :func:`export_smpl_npz`.
- torch: ``SmplBody(arrays)``, a ``smplx.SMPL`` built from in-memory arrays (created on first access, so
  importing this module needs neither torch nor smplx).
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidModelFileError, MissingModelFileError, one_line
from .skeleton import (
    JOINTS49_SOURCE_IDS,
    NUM_BETAS,
    NUM_FACES,
    NUM_POSE_BLENDSHAPES,
    NUM_SMPL_JOINTS,
    NUM_VERTICES,
    SMPL_PARENTS,
)


def shaped_vertices(arrays: dict, betas: np.ndarray) -> np.ndarray:
    """Rest mesh for a shape. betas: (10,) or (B, 10) -> (6890, 3) or (B, 6890, 3), float64."""
    betas = np.asarray(betas, dtype=np.float64)
    shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)[..., : betas.shape[-1]]
    return np.asarray(arrays["v_template"], dtype=np.float64) + np.einsum("vcb,...b->...vc", shapedirs, betas)


def regress_joints(arrays: dict, vertices: np.ndarray) -> np.ndarray:
    """Joints regressed from a mesh: ``J_regressor @ vertices``. vertices: (6890, 3) -> (24, 3) float64."""
    return np.asarray(arrays["J_regressor"], dtype=np.float64) @ np.asarray(vertices, dtype=np.float64)


def rest_joints(arrays: dict, betas: np.ndarray) -> np.ndarray:
    """Rest joints ``J_regressor (v_template + shapedirs·betas)``. betas: (10,) -> (24, 3) float64 (SMPL frame)."""
    return regress_joints(arrays, shaped_vertices(arrays, betas))


def forward_kinematics(rest_joints_xyz: np.ndarray, rotmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SMPL forward kinematics of the joints (no translation).

    rest_joints_xyz: (24, 3) rest joints; rotmat: (T, 24, 3, 3) local rotations (joint 0 = global orient).
    Returns (posed joints (T, 24, 3), global rotations (T, 24, 3, 3)), float64.
    The root joint rotates about itself: posed[:, 0] == rest[0].
    """
    J = np.asarray(rest_joints_xyz, dtype=np.float64)
    R = np.asarray(rotmat, dtype=np.float64)
    T = R.shape[0]
    G = np.empty_like(R)
    P = np.empty((T, 24, 3))
    G[:, 0] = R[:, 0]
    P[:, 0] = J[0]
    for j in range(1, 24):
        p = SMPL_PARENTS[j]
        G[:, j] = G[:, p] @ R[:, j]
        P[:, j] = P[:, p] + np.einsum("tij,j->ti", G[:, p], J[j] - J[p])
    return P, G


# ---------------------------------------------------------------------------------------------- files
# key: (shape, kind); shapedirs may carry more than 10 shape components (only the first 10 are used)
SMPL_ARRAY_SPEC = {
    "v_template": ((NUM_VERTICES, 3), "f"),
    "shapedirs": ((NUM_VERTICES, 3, None), "f"),
    "posedirs": ((NUM_VERTICES, 3, NUM_POSE_BLENDSHAPES), "f"),
    "J_regressor": ((NUM_SMPL_JOINTS, NUM_VERTICES), "f"),
    "weights": ((NUM_VERTICES, NUM_SMPL_JOINTS), "f"),
    "kintree_table": ((2, NUM_SMPL_JOINTS), "i"),
    "f": ((NUM_FACES, 3), "i"),
}
OPTIONAL_ARRAY_SPEC = {"J_regressor_extra": ((9, NUM_VERTICES), "f")}
TCMR_SMPL_PREFIX = "regressor.smpl."  # the SMPL body's entries in a TCMR state dict


def normalise_smpl_arrays(raw: dict, source: str = "the SMPL arrays") -> dict:
    """Validate keys and shapes (InvalidModelFileError naming ``source``) and convert: floats -> float64,
    integers -> int64, kintree root parent -> -1, shapedirs -> the first 10 components. Returns a new dict."""
    out = {}
    for key, (shape, kind) in {**SMPL_ARRAY_SPEC, **OPTIONAL_ARRAY_SPEC}.items():
        if key not in raw:
            if key in OPTIONAL_ARRAY_SPEC:
                continue
            raise InvalidModelFileError(f"{source} is not an SMPL model: key {key} is missing (see models/README.md)")
        arr = np.asarray(raw[key])
        ok = arr.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, arr.shape))
        ok = ok and arr.dtype.kind in ("f", "i", "u") and (key != "shapedirs" or arr.shape[-1] >= NUM_BETAS)
        if not ok:
            want = [("≥10" if e is None else e) for e in shape]
            raise InvalidModelFileError(f"{source} is not an SMPL model: key {key} has shape {list(arr.shape)} "
                                        f"(dtype {arr.dtype}), expected {want} (see models/README.md)")
        if kind == "f":
            out[key] = arr.astype(np.float64)
        else:
            a64 = arr.astype(np.int64)
            if key == "kintree_table":
                a64[0, 0] = -1  # the official file stores the root's parent as 4294967295
            out[key] = a64
    out["shapedirs"] = out["shapedirs"][..., :NUM_BETAS]
    return out


def smpl_arrays_from_tcmr_state_dict(state_dict) -> dict:
    """The SMPL body embedded in a TCMR ``gen_state_dict`` (``regressor.smpl.*``) as SMPL arrays.

    Values may be torch tensors or numpy arrays. Returns the official ``.pkl`` key names (float64 / int64),
    with ``posedirs`` back to (6890, 3, 207) and ``J_regressor_extra`` (9, 6890).
    Raises InvalidModelFileError when the entries are absent or mis-shaped.
    """
    def get(name):
        key = TCMR_SMPL_PREFIX + name
        if key not in state_dict:
            raise InvalidModelFileError(f"the TCMR checkpoint carries no SMPL body: key {key} is missing")
        value = state_dict[key]
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.asarray(value)

    posedirs = get("posedirs")
    if posedirs.shape != (NUM_POSE_BLENDSHAPES, NUM_VERTICES * 3):
        raise InvalidModelFileError(f"the TCMR checkpoint's key {TCMR_SMPL_PREFIX}posedirs has shape "
                                    f"{list(posedirs.shape)}, expected [207, 20670]")
    parents = get("parents").astype(np.int64)
    raw = {
        "v_template": get("v_template"),
        "shapedirs": get("shapedirs"),
        "posedirs": posedirs.T.reshape(NUM_VERTICES, 3, NUM_POSE_BLENDSHAPES),
        "J_regressor": get("J_regressor"),
        "weights": get("lbs_weights"),
        "kintree_table": np.stack([parents, np.arange(parents.shape[0])]) if parents.ndim == 1 else parents,
        "f": get("faces_tensor"),
        "J_regressor_extra": get("J_regressor_extra"),
    }
    return normalise_smpl_arrays(raw, "the TCMR checkpoint's SMPL body")


def load_smpl_arrays(path) -> dict:
    """Read an SMPL model file: the official ``.pkl`` (no chumpy needed) or our ``.npz``.

    Returns {v_template (6890,3), shapedirs (6890,3,10), posedirs (6890,3,207), J_regressor (24,6890) dense,
    weights (6890,24), kintree_table (2,24) root parent -1, f (13776,3) [, J_regressor_extra (9,6890)]},
    float64 / int64. Raises MissingModelFileError or InvalidModelFileError (one line naming the file).
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise MissingModelFileError(f"SMPL model file not found: {path} (see models/README.md)")
    if path.suffix.lower() == ".npz":
        import zipfile

        try:
            with np.load(path, allow_pickle=False) as data:
                raw = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidModelFileError(f"{path.name} is not a readable SMPL .npz ({one_line(exc)})") \
                from None
    else:
        from .safe_load import load_smpl_pickle

        raw = load_smpl_pickle(path)
    return normalise_smpl_arrays(raw, path.name)


def export_smpl_npz(arrays: dict, path) -> None:
    """Write SMPL arrays (as returned by the loaders) to an ``.npz`` that :func:`load_smpl_arrays` reads back.

    The file is written next to ``path`` first and then renamed, so a crash never leaves half a file.
    """
    import os
    from pathlib import Path

    path = Path(path)
    keys = [k for k in (*SMPL_ARRAY_SPEC, *OPTIONAL_ARRAY_SPEC) if k in arrays]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **{k: np.asarray(arrays[k]) for k in keys})
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- torch
def __getattr__(name: str):
    # SmplBody subclasses smplx.SMPL, so it is built on first use: importing core.smpl needs neither
    # torch nor smplx (the Blender add-on imports this module).
    if name == "SmplBody":
        cls = _make_smpl_body_class()
        globals()["SmplBody"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _make_smpl_body_class():
    import contextlib
    import io

    import smplx
    import torch
    from smplx.lbs import vertices2joints
    from smplx.utils import Struct

    class SmplBody(smplx.SMPL):
        """SMPL through ``smplx`` with TCMR/SPIN's 49 output joints, built from in-memory arrays.

        ``arrays``: the dict of :func:`load_smpl_arrays` (``J_regressor_extra`` required). Buffer and parameter
        names are those of the official ``regressor.smpl.*`` entries (12, incl. the unused batch-64
        ``betas``/``global_orient``/``body_pose``), so the official state dict loads into it strictly.
        """

        def __init__(self, arrays: dict, dtype=torch.float32):
            if "J_regressor_extra" not in arrays:
                raise MissingModelFileError("the SMPL body has no J_regressor_extra (9, 6890), needed for the "
                                            "49 output joints; use the copy inside the TCMR checkpoint")
            data = Struct(**{k: np.asarray(arrays[k]) for k in SMPL_ARRAY_SPEC})
            data.kintree_table = data.kintree_table.copy()
            with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-beta models
                super().__init__(model_path="", data_struct=data, batch_size=64, create_transl=False,
                                 num_betas=NUM_BETAS, dtype=dtype)
            self.register_buffer("J_regressor_extra",
                                 torch.tensor(np.asarray(arrays["J_regressor_extra"]), dtype=dtype))
            self.register_buffer("joints49_source_ids", torch.tensor(JOINTS49_SOURCE_IDS, dtype=torch.long),
                                 persistent=False)

        def forward(self, rotmat, betas, with_verts: bool = True):
            """rotmat: (B, 24, 3, 3), betas: (B, 10) -> dict verts (B, 6890, 3), joints49 (B, 49, 3).

            The official call (``pose2rot=False``, no translation). ``with_verts=False`` drops ``verts`` from
            the result (they are computed anyway: the 49 joints need them).
            """
            out = super().forward(betas=betas, body_pose=rotmat[:, 1:], global_orient=rotmat[:, 0].unsqueeze(1),
                                  pose2rot=False)
            extra = vertices2joints(self.J_regressor_extra, out.vertices)
            joints = torch.cat([out.joints, extra], dim=1)[:, self.joints49_source_ids, :]
            result = {"joints49": joints}
            if with_verts:
                result["verts"] = out.vertices
            return result

    SmplBody.__module__ = __name__
    return SmplBody
