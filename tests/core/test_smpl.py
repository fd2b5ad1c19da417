"""SMPL: file loading (.pkl without chumpy/scipy, .npz, the checkpoint's copy), SmplBody vs a plain LBS oracle."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oracle
import synthetic

from core import rotations, smpl
from core.errors import InvalidModelFileError, MissingModelFileError
from core.skeleton import JOINTS49_SOURCE_IDS

REPO = Path(__file__).resolve().parents[2]
KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f")


def assert_same_body(loaded, arrays, atol=0.0):
    for key in KEYS:
        assert loaded[key].shape == arrays[key].shape, key
        np.testing.assert_allclose(loaded[key], arrays[key], rtol=0, atol=atol, err_msg=key)
    expected_kintree = np.asarray(arrays["kintree_table"]).astype(np.int64)
    expected_kintree[0, 0] = -1
    np.testing.assert_array_equal(loaded["kintree_table"], expected_kintree)
    assert all(loaded[k].dtype == np.float64 for k in KEYS if k != "f")
    assert loaded["f"].dtype == np.int64 and loaded["kintree_table"].dtype == np.int64


# ---------------------------------------------------------------------------------------------- files
def test_official_pkl(smpl_pkl, smpl_arrays):
    loaded = smpl.load_smpl_arrays(smpl_pkl)
    assert_same_body(loaded, smpl_arrays)
    assert "J_regressor_extra" not in loaded  # the official file does not carry it


def test_npz_and_export_roundtrip(smpl_npz, smpl_arrays, tmp_path):
    assert_same_body(smpl.load_smpl_arrays(smpl_npz), smpl_arrays)
    out = tmp_path / "cache" / "smpl_from_checkpoint.npz"
    out.parent.mkdir()
    smpl.export_smpl_npz(smpl_arrays, out)
    back = smpl.load_smpl_arrays(out)
    assert_same_body(back, smpl_arrays)
    np.testing.assert_array_equal(back["J_regressor_extra"], smpl_arrays["J_regressor_extra"])
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_arrays_from_tcmr_state_dict(smpl_arrays):
    sd = synthetic.make_tcmr_state_dict(seed=0)
    arrays = smpl.smpl_arrays_from_tcmr_state_dict(sd)
    assert arrays["posedirs"].shape == (6890, 3, 207)
    assert_same_body(arrays, smpl_arrays, atol=1e-7)  # float32 in the checkpoint
    np.testing.assert_allclose(arrays["J_regressor_extra"], smpl_arrays["J_regressor_extra"], atol=1e-7)
    del sd["regressor.smpl.lbs_weights"]
    with pytest.raises(InvalidModelFileError):
        smpl.smpl_arrays_from_tcmr_state_dict(sd)


def _py2_style_pickle(path, arrays, protocol, sparse_format):
    """Like the official file but written with another protocol / sparse format (``copyreg`` path included)."""
    import scipy.sparse

    with synthetic._fake_chumpy() as Ch:
        data = {k: arrays[k] for k in ("v_template", "posedirs", "weights", "kintree_table", "f")}
        data["shapedirs"] = Ch(arrays["shapedirs"])
        data["J_regressor"] = getattr(scipy.sparse, f"{sparse_format}_matrix")(arrays["J_regressor"])
        data["bs_style"] = "lbs"
        data["J_regressor_prior"] = scipy.sparse.csc_matrix(arrays["J_regressor"])  # extra keys are ignored
        data["expression"] = Ch(None)  # a chumpy object without an array of its own
        path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol,sparse_format", [(0, "csc"), (1, "csr"), (2, "csr"), (4, "csc")])
def test_pkl_variants(tmp_path, smpl_arrays, protocol, sparse_format):
    path = _py2_style_pickle(tmp_path / "SMPL_NEUTRAL.pkl", smpl_arrays, protocol, sparse_format)
    assert_same_body(smpl.load_smpl_arrays(path), smpl_arrays)


def test_pkl_needs_neither_chumpy_scipy_nor_torch(smpl_pkl):
    code = (
        "import sys\n"
        "for m in ('torch', 'scipy', 'chumpy', 'smplx'): sys.modules[m] = None\n"
        "from core import smpl\n"
        f"a = smpl.load_smpl_arrays({str(smpl_pkl)!r})\n"
        "assert a['J_regressor'].shape == (24, 6890) and a['shapedirs'].shape == (6890, 3, 10)\n"
        "j = smpl.rest_joints(a, [0.0] * 10)\n"
        "print('ok', j.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ok (24, 3)" in res.stdout


def test_bad_smpl_files(tmp_path, smpl_arrays):
    with pytest.raises(MissingModelFileError):
        smpl.load_smpl_arrays(tmp_path / "SMPL_NEUTRAL.pkl")
    for name, content in (("a.pkl", b""), ("b.pkl", b"hello world"), ("c.npz", b"PK\x03\x04xx"),
                          ("d.pkl", pickle.dumps([1, 2, 3]))):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InvalidModelFileError) as err:
            smpl.load_smpl_arrays(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
    no_faces = {k: smpl_arrays[k] for k in (*KEYS, "kintree_table") if k != "f"}
    np.savez(tmp_path / "e.npz", **no_faces)
    with pytest.raises(InvalidModelFileError, match="key f is missing"):
        smpl.load_smpl_arrays(tmp_path / "e.npz")
    bad = dict(smpl_arrays, weights=smpl_arrays["weights"][:, :10])
    np.savez(tmp_path / "g.npz", **bad)
    with pytest.raises(InvalidModelFileError, match=r"key weights has shape \[6890, 10\]"):
        smpl.load_smpl_arrays(tmp_path / "g.npz")
    truncated = tmp_path / "h.pkl"
    truncated.write_bytes(synthetic.write_smpl_pkl(tmp_path / "full.pkl", smpl_arrays).read_bytes()[:5000])
    with pytest.raises(InvalidModelFileError):
        smpl.load_smpl_arrays(truncated)


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_hostile_pkl_does_not_run(tmp_path, smpl_arrays):
    marker = tmp_path / "pwned"
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    data = {k: smpl_arrays[k] for k in KEYS}
    data["evil"] = _Hostile(str(marker))
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(InvalidModelFileError, match="refused"):
        smpl.load_smpl_arrays(path)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------- geometry
def random_pose(batch, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    R = rotations.axis_angle_to_rotmat(scale * rng.normal(size=(batch, 24, 3)))
    R[:, 0] = rotations.axis_angle_to_rotmat(np.array([np.pi, 0.0, 0.0])) @ R[:, 0]  # upright in the camera
    betas = rng.normal(size=(batch, 10))
    return R, betas


@pytest.fixture(scope="module")
def body(smpl_arrays):
    return smpl.SmplBody(smpl_arrays)


def test_smpl_body_matches_plain_lbs(body, smpl_arrays):
    import torch

    R, betas = random_pose(3, seed=0)
    with torch.no_grad():
        out = body(torch.tensor(R, dtype=torch.float32), torch.tensor(betas, dtype=torch.float32))
    verts, _, joints49 = oracle.smpl(smpl_arrays, R, betas)
    assert out["verts"].shape == (3, 6890, 3) and out["joints49"].shape == (3, 49, 3)
    np.testing.assert_allclose(out["verts"].numpy(), verts, atol=2e-5)
    np.testing.assert_allclose(out["joints49"].numpy(), joints49, atol=2e-5)


def test_smpl_body_float64_and_joint_selection(smpl_arrays):
    import torch

    body64 = smpl.SmplBody(smpl_arrays, dtype=torch.float64)
    R, betas = random_pose(2, seed=1)
    with torch.no_grad():
        out = body64(torch.tensor(R), torch.tensor(betas))
    # smplx rounds the model arrays through float32 (``to_np``) whatever the dtype; J_regressor_extra is ours
    rounded = {k: (v.astype(np.float32) if k not in ("f", "kintree_table", "J_regressor_extra") else v)
               for k, v in smpl_arrays.items()}
    verts, j24, joints49 = oracle.smpl(rounded, R, betas)
    np.testing.assert_allclose(out["verts"].numpy(), verts, atol=1e-10)
    np.testing.assert_allclose(out["joints49"].numpy(), joints49, atol=1e-10)
    # the selection, row by row: SMPL joints, smplx vertex joints, J_regressor_extra joints
    extra = smpl_arrays["J_regressor_extra"]
    for row, src in enumerate(JOINTS49_SOURCE_IDS):
        if src < 24:
            want = j24[:, src]
        elif src < 45:
            want = verts[:, oracle.VERTEX_JOINTS[src - 24]]
        else:
            want = np.einsum("v,bvc->bc", extra[src - 45], verts)
        np.testing.assert_allclose(out["joints49"][:, row].numpy(), want, atol=1e-10, err_msg=str(row))


def test_forward_kinematics_matches_smpl_body(body, smpl_arrays):
    import torch

    R, betas = random_pose(4, seed=2)
    with torch.no_grad():
        j49 = body(torch.tensor(R, dtype=torch.float32),
                   torch.tensor(np.repeat(betas[:1], 4, axis=0), dtype=torch.float32))["joints49"].numpy()
    posed, G = smpl.forward_kinematics(smpl.rest_joints(smpl_arrays, betas[0]), R)
    for row, src in enumerate(JOINTS49_SOURCE_IDS):
        if src < 24:
            np.testing.assert_allclose(j49[:, row], posed[:, src], atol=2e-5)
    np.testing.assert_allclose(G[:, 0], R[:, 0])


def test_smpl_body_state_dict_is_the_official_layout(body):
    import torch

    official = synthetic.make_smpl_buffers(seed=5)
    assert set(body.state_dict()) == set(official)
    import copy

    other = copy.deepcopy(body)
    other.load_state_dict(official, strict=True)
    assert torch.equal(other.posedirs, official["posedirs"])


def test_smpl_body_needs_extra_regressor(smpl_arrays):
    arrays = {k: v for k, v in smpl_arrays.items() if k != "J_regressor_extra"}
    with pytest.raises(MissingModelFileError):
        smpl.SmplBody(arrays)


def test_smpl_body_prints_nothing(smpl_arrays, capsys):
    smpl.SmplBody(smpl_arrays)
    assert capsys.readouterr().out == ""
