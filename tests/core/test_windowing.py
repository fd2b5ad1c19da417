"""Windowing: the official demo scheme reproduced exactly, and ours (real context at the track edges)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import oracle

from core.tcmr import window_indices


def coded_features(n):
    """Row p carries the value p in every channel, so a window's content tells which rows it took."""
    return np.repeat(np.arange(n, dtype=np.float32)[:, None], 2048, axis=1)


@pytest.mark.parametrize("n", [16, 17, 25, 40])
def test_official_indices_equal_the_demo_dataset(n):
    f = coded_features(n)
    expected = np.stack(oracle.official_windows(f))[:, :, 0].astype(np.int64)  # (n, 16) row ids
    np.testing.assert_array_equal(window_indices(n, "official"), expected)


@pytest.mark.parametrize("n", [16, 17, 30, 100])
def test_ours_equals_official_inside(n):
    ours, official = window_indices(n, "ours"), window_indices(n, "official")
    inside = slice(8, n - 7)  # positions 8 .. n-8
    np.testing.assert_array_equal(ours[inside], official[inside])
    edges = np.r_[0:8, n - 7:n]
    assert all(not np.array_equal(ours[p], official[p]) for p in edges)


@pytest.mark.parametrize("n", [1, 2, 5, 15, 16, 30])
def test_ours_uses_every_real_neighbour(n):
    w = window_indices(n, "ours")
    assert w.shape == (n, 16) and w.dtype == np.int64
    for p in range(n):
        assert w[p, 8] == p  # the predicted middle slot is the frame itself
        for slot in range(16):
            want = p + slot - 8
            if 0 <= want < n:
                assert w[p, slot] == want  # a real frame at that offset exists: it is used
            else:
                assert w[p, slot] == (0 if want < 0 else n - 1)  # otherwise the nearest real frame


@pytest.mark.parametrize("n", [0, 1, 7, 15])
def test_official_short_tracks_repeat_each_frame(n):
    w = window_indices(n, "official")
    assert w.shape == (n, 16)
    np.testing.assert_array_equal(w, np.repeat(np.arange(n)[:, None], 16, axis=1))


def test_unknown_windowing():
    with pytest.raises(ValueError):
        window_indices(10, "centered")


def features(n, seed=0):
    return np.abs(np.random.default_rng(seed).normal(size=(n, 2048))).astype(np.float32)


def test_predict_sequence_official_reproduces_the_demo(tcmr_model):
    f = features(17, seed=1)
    windows = torch.from_numpy(np.stack(oracle.official_windows(f)))
    with torch.inference_mode():
        ref = tcmr_model(windows, with_verts=False)
    ours = tcmr_model.predict_sequence(f, windowing="official", batch_windows=5, with_verts=False)
    for key in ref:
        np.testing.assert_allclose(ours[key], ref[key].numpy(), rtol=1e-5, atol=1e-5 * np.abs(ref[key]).max(),
                                   err_msg=key)


def test_predict_sequence_ours_differs_only_at_edges(tcmr_model):
    n = 17
    f = features(n, seed=2)
    ours = tcmr_model.predict_sequence(f, with_smpl=False)
    official = tcmr_model.predict_sequence(f, windowing="official", with_smpl=False)
    inside = slice(8, n - 7)
    np.testing.assert_allclose(ours["rotmat"][inside], official["rotmat"][inside], atol=1e-6)
    diff = np.abs(ours["rotmat"] - official["rotmat"]).reshape(n, -1).max(axis=1)
    assert (diff[:8] > 1e-4).all() and (diff[n - 7:] > 1e-4).all()


def test_predict_sequence_short_and_empty_tracks(tcmr_model):
    for n in (1, 3, 15):
        out = tcmr_model.predict_sequence(features(n, seed=n))
        assert out["rotmat"].shape == (n, 24, 3, 3) and out["verts"].shape == (n, 6890, 3)
        assert out["joints49"].shape == (n, 49, 3) and out["scores"].shape == (n, 3)
        assert np.isfinite(out["rotmat"]).all()
    empty = tcmr_model.predict_sequence(np.zeros((0, 2048), np.float32))
    assert empty["rotmat"].shape == (0, 24, 3, 3) and empty["verts"].shape == (0, 6890, 3)


def test_predict_sequence_batching_does_not_change_results(tcmr_model):
    f = features(7, seed=3)
    a = tcmr_model.predict_sequence(f, batch_windows=3, with_smpl=False)
    b = tcmr_model.predict_sequence(torch.from_numpy(f), batch_windows=64, with_smpl=False)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_predict_sequence_rejects_bad_input(tcmr_model):
    with pytest.raises(ValueError):
        tcmr_model.predict_sequence(np.zeros((4, 16, 2048), np.float32))
    with pytest.raises(ValueError):
        tcmr_model.predict_sequence(np.zeros((4, 2048), np.float32), windowing="middle")
