"""Checkpoint loaders: every layout we accept, every file we refuse, and files that try to run code."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import synthetic

import core
from core.errors import InvalidModelFileError, MissingModelFileError
from core.tcmr import spin_backbone_state_dict_from_file, tcmr_state_dict_from_file
from core.tcmr.checkpoint import backbone_shapes, tcmr_network_shapes


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    return text


# ---------------------------------------------------------------------------------------------- accepted
def test_official_tcmr_layout(tcmr_checkpoint):
    sd = tcmr_state_dict_from_file(tcmr_checkpoint)
    expected = synthetic.make_tcmr_state_dict(seed=0)
    assert list(sd) == [k for k in expected if not k.startswith("regressor.smpl.")] + \
        [k for k in expected if k.startswith("regressor.smpl.")]
    assert len(sd) == 71
    for key in ("encoder.gru_cur.weight_ih_l0", "regressor.init_pose", "regressor.smpl.posedirs"):
        assert torch.equal(sd[key], expected[key])


@pytest.mark.parametrize("kind", ["legacy", "bare"])
def test_legacy_and_bare_tcmr_files(tmp_path, kind):
    path = synthetic.write_tcmr_checkpoint(tmp_path / "t.pth.tar", seed=2, legacy_format=kind == "legacy",
                                           bare=kind == "bare")
    sd = tcmr_state_dict_from_file(path)
    assert len(sd) == 71
    ref = synthetic.make_tcmr_state_dict(seed=2)
    assert torch.equal(sd["encoder.attention.attention.4.weight"], ref["encoder.attention.attention.4.weight"])
    model = core.load_tcmr(path, smpl=False)
    assert torch.equal(model.encoder.gru_aft.weight_hh_l1, ref["encoder.gru_aft.weight_hh_l1"])
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_network_only_dict_and_module_prefix(tmp_path, smpl_npz):
    sd = synthetic.make_tcmr_state_dict(seed=0, with_smpl=False)
    path = tmp_path / "net.pth"
    torch.save(OrderedDict(("module." + k, v) for k, v in sd.items()), path)
    assert len(tcmr_state_dict_from_file(path)) == 59
    model = core.load_tcmr(path)
    assert model.smpl_arrays is None and not model.has_smpl  # no body anywhere
    with pytest.raises(MissingModelFileError) as err:  # an .npz without J_regressor_extra and no copy to use
        core.load_tcmr(path, smpl=smpl_npz)
    assert "J_regressor_extra" in one_line(err)
    np.save(smpl_npz.with_name("J_regressor_extra.npy"), synthetic.make_smpl_arrays(0)["J_regressor_extra"])
    assert core.load_tcmr(path, smpl=smpl_npz).has_smpl


def test_spin_layouts(spin_checkpoint, tmp_path):
    sd = spin_backbone_state_dict_from_file(spin_checkpoint)
    assert list(sd) == list(backbone_shapes()) and len(sd) == 318  # 331 - init_* (3) - fc/dec (10)
    ref = synthetic.make_spin_state_dict(seed=0)
    assert torch.equal(sd["layer3.4.conv2.weight"], ref["layer3.4.conv2.weight"])
    bare = synthetic.write_spin_checkpoint(tmp_path / "bare.pth", seed=0, bare=True)
    assert torch.equal(spin_backbone_state_dict_from_file(bare)["bn1.running_var"], ref["bn1.running_var"])
    # old torch files have no num_batches_tracked: filled in
    old = OrderedDict((k, v) for k, v in ref.items() if not k.endswith("num_batches_tracked"))
    torch.save(old, tmp_path / "old.pth")
    backbone = core.load_backbone(tmp_path / "old.pth")
    assert int(backbone.layer1[0].bn1.num_batches_tracked) == 0


def test_expected_shapes_are_the_spec():
    official = synthetic.make_tcmr_state_dict(seed=0, with_smpl=False)
    assert {k: v[0] for k, v in tcmr_network_shapes().items()} == {k: tuple(v.shape) for k, v in official.items()}
    spin = synthetic.make_spin_state_dict(seed=0)
    assert all(tuple(spin[k].shape) == shape for k, (shape, _) in backbone_shapes().items())


# ---------------------------------------------------------------------------------------------- refused
def test_missing_file(tmp_path):
    with pytest.raises(MissingModelFileError):
        tcmr_state_dict_from_file(tmp_path / "tcmr_demo_model.pth.tar")
    with pytest.raises(MissingModelFileError):
        core.load_backbone(tmp_path / "spin_model_checkpoint.pth.tar")


def test_misshaped_key_names_file_and_key(tmp_path):
    path = tmp_path / "tcmr_demo_model.pth.tar"
    torch.save({"gen_state_dict": {"encoder.gru_cur.weight_ih_l0": torch.zeros(3072, 1024)}}, path)
    with pytest.raises(InvalidModelFileError) as err:
        tcmr_state_dict_from_file(path)
    assert one_line(err) == ("tcmr_demo_model.pth.tar is not a TCMR checkpoint: key encoder.gru_cur.weight_ih_l0 "
                             "has shape [3072, 1024], expected [3072, 2048] "
                             "(re-download it, see models/README.md)")


def test_first_missing_key_is_named(tmp_path):
    sd = synthetic.make_tcmr_state_dict(seed=0, with_smpl=False)
    del sd["encoder.linear_bef.bias"], sd["regressor.deccam.weight"]
    path = tmp_path / "x.pth"
    torch.save(sd, path)
    with pytest.raises(InvalidModelFileError) as err:
        core.load_tcmr(path)
    assert "x.pth" in one_line(err) and "key encoder.linear_bef.bias is missing" in one_line(err)


def test_broken_smpl_entries_are_named(tmp_path):
    sd = synthetic.make_tcmr_state_dict(seed=0)
    sd["regressor.smpl.parents"] = sd["regressor.smpl.parents"].float()
    torch.save(sd, tmp_path / "x.pth")
    with pytest.raises(InvalidModelFileError) as err:
        tcmr_state_dict_from_file(tmp_path / "x.pth")
    assert "key regressor.smpl.parents has dtype float32, expected an integer dtype" in one_line(err)


def test_swapped_files(tcmr_checkpoint, spin_checkpoint):
    with pytest.raises(InvalidModelFileError) as err:
        core.load_tcmr(spin_checkpoint)
    assert "SPIN" in one_line(err) and spin_checkpoint.name in one_line(err)
    with pytest.raises(InvalidModelFileError) as err:
        core.load_backbone(tcmr_checkpoint)
    assert "TCMR" in one_line(err)


@pytest.mark.parametrize("content", [b"", b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n",
                                     bytes(range(256)) * 8, b"PK\x03\x04garbage"])
def test_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "tcmr_demo_model.pth.tar"
    path.write_bytes(content)
    for load in (tcmr_state_dict_from_file, spin_backbone_state_dict_from_file):
        with pytest.raises(InvalidModelFileError) as err:
            load(path)
        assert path.name in one_line(err)


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_checkpoint(tmp_path, spin_checkpoint, legacy):
    src = spin_checkpoint
    if legacy:
        src = tmp_path / "legacy.pth"
        torch.save(synthetic.make_spin_state_dict(0), src, _use_new_zipfile_serialization=False)
    data = src.read_bytes()
    for cut in (100, len(data) // 2, len(data) - 10):
        path = tmp_path / "cut.pth.tar"
        path.write_bytes(data[:cut])
        with pytest.raises(InvalidModelFileError):
            spin_backbone_state_dict_from_file(path)


def test_not_a_dict(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "t.pth")
    with pytest.raises(InvalidModelFileError):
        tcmr_state_dict_from_file(tmp_path / "t.pth")


class _Hostile:
    """Unpickling it would call ``fn(*args)``."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _hostile_payloads(marker):
    return [_Hostile(open, str(marker), "w"), _Hostile(os.system, f"touch {marker}")]


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("which", [0, 1])
def test_hostile_checkpoint_does_not_run(tmp_path, legacy, which):
    marker = tmp_path / "pwned"
    sd = {"encoder.gru_cur.weight_ih_l0": torch.zeros(3072, 2048)}
    obj = {"epoch": 1, "gen_state_dict": sd, "performance": _hostile_payloads(marker)[which]}
    path = tmp_path / "tcmr_demo_model.pth.tar"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    assert not marker.exists()
    for load in (core.load_tcmr, tcmr_state_dict_from_file, spin_backbone_state_dict_from_file):
        with pytest.raises(InvalidModelFileError) as err:
            load(path)
        assert "refused" in one_line(err)
    assert not marker.exists()


def test_plain_pickle_with_reduce_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "spin_model_checkpoint.pth.tar"
    path.write_bytes(pickle.dumps({"model": _Hostile(open, str(marker), "w")}, protocol=2))
    with pytest.raises(InvalidModelFileError):
        spin_backbone_state_dict_from_file(path)
    assert not marker.exists()
