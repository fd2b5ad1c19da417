"""The TCMR network and the ResNet-50 backbone against independent references.

- TCMR vs ``oracle.py`` (float64 numpy, GRU equations per time step, written from the spec), float32 tolerance.
- ``torch.nn.GRU`` as we configure it vs the hand GRU (small sizes, float64).
- Backbone vs ``torchvision.models.resnet50`` with the same weights (torchvision only here, in the tests).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import oracle
import synthetic

import core
from core import rotations
from core.errors import DeviceUnavailableError
from core.tcmr.checkpoint import SMPL_PREFIX

RTOL = 1e-5  # float32 vs float64: |a - b| <= RTOL * max|b| per output


def features(batch, seed=0, n=16):
    """Plausible pooled ResNet features: non-negative, O(1)."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(batch, n, 2048))).astype(np.float32)


def assert_close(actual, expected, rtol=RTOL, name=""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, name
    scale = max(np.abs(expected).max(), 1e-12)
    err = np.abs(actual - expected).max()
    assert err <= rtol * scale, f"{name}: max error {err:.3g} > {rtol:g} × {scale:.3g}"


@pytest.fixture(scope="module")
def sd64():
    return oracle.to64(synthetic.make_tcmr_state_dict(seed=0))


@pytest.fixture(scope="module")
def oracle_out(sd64):
    x = features(3, seed=1)
    out = oracle.tcmr(sd64, x.astype(np.float64))
    verts, _, joints49 = oracle.smpl(synthetic.make_smpl_arrays(0), out["rotmat"], out["betas"])
    return x, dict(out, verts=verts, joints49=joints49)


def test_forward_matches_oracle(tcmr_model, oracle_out):
    x, ref = oracle_out
    with torch.inference_mode():
        out = {k: v.numpy() for k, v in tcmr_model(torch.from_numpy(x)).items()}
    assert set(out) == {"rotmat", "pose_aa", "betas", "cam", "scores", "verts", "joints49"}
    assert out["rotmat"].shape == (3, 24, 3, 3) and out["pose_aa"].shape == (3, 24, 3)
    assert out["verts"].shape == (3, 6890, 3) and out["joints49"].shape == (3, 49, 3)
    for key in ("rotmat", "betas", "cam", "scores", "verts", "joints49"):
        assert_close(out[key], ref[key], name=key)
    # the synthetic weights must actually move the prediction away from the mean pose
    assert np.abs(ref["rotmat"] - ref["rotmat"][:1]).max() > 1e-3


def test_float64_model_matches_oracle_tightly(tcmr_checkpoint, oracle_out):
    x, ref = oracle_out
    model = core.load_tcmr(tcmr_checkpoint, dtype=torch.float64, smpl=False)
    assert not model.has_smpl and model.smpl_arrays is None
    with torch.inference_mode():
        out = model(torch.from_numpy(x).double())
    assert "verts" not in out
    for key in ("rotmat", "betas", "cam", "scores"):
        assert out[key].dtype == torch.float64
        assert_close(out[key].numpy(), ref[key], rtol=1e-10, name=key)
    seq = model.predict_sequence(x[0], windowing="official")  # 16 rows, all edge windows
    assert seq["rotmat"].dtype == np.float64


def test_pose_aa_and_scores(tcmr_model, oracle_out):
    x, _ = oracle_out
    with torch.inference_mode():
        out = tcmr_model(torch.from_numpy(x), with_smpl=False)
    assert "verts" not in out and "joints49" not in out
    R = rotations.axis_angle_to_rotmat(out["pose_aa"].numpy())
    np.testing.assert_allclose(R, out["rotmat"].numpy(), atol=2e-5)
    scores = out["scores"].numpy()
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-6)
    lo, hi = np.exp(-1) / (np.exp(-1) + 2 * np.e), np.e / (np.e + 2 * np.exp(-1))  # tanh before softmax
    assert scores.min() >= lo - 1e-6 and scores.max() <= hi + 1e-6


def test_without_verts_keeps_joints(tcmr_model):
    x = torch.from_numpy(features(2, seed=5))
    with torch.inference_mode():
        full = tcmr_model(x)
        light = tcmr_model(x, with_verts=False)
    assert "verts" not in light
    torch.testing.assert_close(light["joints49"], full["joints49"])


def test_state_dict_is_the_official_layout(tcmr_model):
    official = synthetic.make_tcmr_state_dict(seed=3)
    ours = tcmr_model.state_dict()
    network = [k for k in official if not k.startswith(SMPL_PREFIX)]
    assert len(network) == 59 and [k for k in ours if not k.startswith(SMPL_PREFIX)] == network  # same order
    assert set(ours) == set(official) and len(ours) == 71  # smplx versions order the SMPL buffers differently
    assert all(tuple(ours[k].shape) == tuple(v.shape) for k, v in official.items())
    import copy  # a copy, so the session model is left alone

    model = copy.deepcopy(tcmr_model)
    model.load_state_dict(official, strict=True)  # the whole official dict, strictly
    assert torch.equal(model.regressor.smpl.v_template, official[SMPL_PREFIX + "v_template"])


def test_shared_projection_path_equals_plain_forward(tcmr_model):
    f = features(1, seed=2, n=17)[0]
    for windowing in ("ours",):  # the official windows go through the same code (see test_windowing)
        fast = tcmr_model.predict_sequence(f, windowing=windowing, batch_windows=8, with_verts=False)
        plain = tcmr_model.predict_sequence(f, windowing=windowing, shared=False, with_verts=False)
        for key in plain:
            assert_close(fast[key], plain[key], name=f"{windowing}/{key}")


def test_hand_gru_equals_torch_gru():
    """nn.GRU as configured here (2 layers, bidirectional, time-major) is the textbook GRU (small sizes)."""
    torch.manual_seed(0)
    for bidirectional in (True, False):
        gru = torch.nn.GRU(5, 4, num_layers=2, bidirectional=bidirectional).double()
        x = torch.randn(7, 3, 5, dtype=torch.float64)
        with torch.no_grad():
            ours, _ = gru(x)
        sd = oracle.to64(gru.state_dict())
        ref = oracle.gru(x.numpy(), {f"g.{k}": v for k, v in sd.items()}, "g", 2, bidirectional)
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_smpl_body_from_file_and_arrays(tcmr_checkpoint, smpl_pkl, smpl_arrays):
    model = core.load_tcmr(tcmr_checkpoint, smpl=smpl_pkl)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f"):
        np.testing.assert_allclose(model.smpl_arrays[key], smpl_arrays[key], rtol=1e-12, err_msg=key)
    # the official .pkl has no J_regressor_extra: the checkpoint's copy is used (float32 there)
    np.testing.assert_allclose(model.smpl_arrays["J_regressor_extra"], smpl_arrays["J_regressor_extra"], atol=1e-7)
    x = torch.from_numpy(features(1, seed=4))
    with torch.inference_mode():
        out = model(x)
    ref_v, _, ref_j = oracle.smpl(smpl_arrays, out["rotmat"].double().numpy(), out["betas"].double().numpy())
    assert_close(out["verts"].numpy(), ref_v, name="verts")
    assert_close(out["joints49"].numpy(), ref_j, name="joints49")
    with_dict = core.load_tcmr(tcmr_checkpoint, smpl=dict(smpl_arrays))
    assert with_dict.has_smpl


# ---------------------------------------------------------------------------------------------- backbone
@pytest.fixture(scope="module")
def torchvision_resnet(spin_checkpoint):
    torchvision = pytest.importorskip("torchvision")
    net = torchvision.models.resnet50(weights=None)
    sd = synthetic.make_spin_state_dict(seed=0)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert set(missing) == {"fc.weight", "fc.bias"}
    net.fc = torch.nn.Identity()  # torchvision: avgpool (adaptive, = AvgPool2d(7) on 7×7) -> flatten -> fc
    return net.eval()


@pytest.mark.parametrize("channels_last", [True, False])
def test_backbone_matches_torchvision(spin_checkpoint, torchvision_resnet, channels_last):
    backbone = core.load_backbone(spin_checkpoint, channels_last=channels_last)
    crops = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32))
    with torch.inference_mode():
        ours = backbone(crops)
        ref = torchvision_resnet(crops)
    assert ours.shape == (2, 2048)
    assert_close(ours.numpy(), ref.numpy(), rtol=1e-5, name="features")
    assert ours.min() >= 0  # pooled after a ReLU


def test_backbone_rejects_wrong_input(spin_checkpoint):
    backbone = core.load_backbone(spin_checkpoint)
    with pytest.raises(ValueError):
        backbone(torch.zeros(1, 3, 256, 256))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu(tcmr_checkpoint, tcmr_model):
    model = core.load_tcmr(tcmr_checkpoint, device="cuda")
    f = features(1, seed=6, n=20)[0]
    gpu = model.predict_sequence(f)
    cpu = tcmr_model.predict_sequence(f)
    for key in cpu:
        assert_close(gpu[key], cpu[key], rtol=1e-4, name=key)


def test_cuda_unavailable_is_a_user_error(tcmr_checkpoint, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError):
        core.load_tcmr(tcmr_checkpoint, device="cuda")
    from core.runtime.device import resolve_device

    assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_shared_encoder_equals_gru_encoder_any_depth(n_layers):
    """forward_indexed (hand GRU, shared projections, trimmed top layer) == forward (nn.GRU), float64."""
    from core.tcmr import window_indices
    from core.tcmr.temporal import TemporalEncoder

    torch.manual_seed(n_layers)
    enc = TemporalEncoder(n_layers=n_layers, hidden_size=32).double().eval()
    frames = torch.randn(19, 2048, dtype=torch.float64)
    for windowing in ("ours", "official"):
        w = torch.from_numpy(window_indices(19, windowing))
        with torch.no_grad():
            ref, ref_scores = enc(frames[w])
            out, scores = enc.forward_indexed(enc.project_frames(frames), w)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(scores, ref_scores, rtol=1e-12, atol=1e-12)
