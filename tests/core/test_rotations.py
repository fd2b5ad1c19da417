"""Every conversion in core/rotations.py against scipy.spatial.transform.Rotation or a plain formula,
including 0, tiny and 180° angles, non-unit quaternions and hemisphere continuity."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import oracle

from core import rotations as rot

# every public function of core.rotations and the test(s) that cover it: a new conversion needs a test here
COVERED = {
    "axis_angle_to_rotmat": "test_axis_angle_to_rotmat",
    "rotmat_to_quat_wxyz": "test_rotmat_to_quat_wxyz",
    "quat_wxyz_to_rotmat": "test_quat_wxyz_to_rotmat",
    "rotmat_to_axis_angle": "test_rotmat_to_axis_angle",
    "quat_wxyz_to_axis_angle": "test_quat_axis_angle_pair",
    "axis_angle_to_quat_wxyz": "test_quat_axis_angle_pair",
    "quat_wxyz_multiply": "test_quat_wxyz_multiply",
    "quat_wxyz_make_continuous": "test_quat_wxyz_make_continuous",
    "rot6d_to_rotmat": "test_rot6d_numpy",
    "rotmat_to_rot6d": "test_rot6d_numpy",
    "project_to_rotmat": "test_project_to_rotmat",
    "quat_wxyz_slerp": "test_quat_wxyz_slerp",
    "quat_wxyz_average": "test_quat_wxyz_average",
    "rotmat_from_vectors": "test_rotmat_from_vectors",
    "rotmat_to_euler": "test_euler_all_orders",
    "euler_to_rotmat": "test_euler_all_orders",
    "rot6d_to_rotmat_torch": "test_rot6d_to_rotmat_torch",
    "rotmat_to_axis_angle_torch": "test_rotmat_to_axis_angle_torch",
}


def test_every_conversion_is_covered():
    public = {n for n, f in inspect.getmembers(rot, inspect.isfunction) if not n.startswith("_")
              and f.__module__ == rot.__name__}
    assert public == set(COVERED), f"untested: {public - set(COVERED)}; stale: {set(COVERED) - public}"
    assert all(t in globals() for t in COVERED.values())


def special_axis_angles():
    """Zero, tiny, ordinary, near-π and π rotations about assorted axes. -> (K, 3)."""
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(6, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    axes = np.concatenate([np.eye(3), -np.eye(3), axes])
    angles = [0.0, 1e-12, 1e-9, 1e-6, 1e-3, 0.5, 2.0, np.pi - 1e-3, np.pi - 1e-7, np.pi]
    return np.array([a * ax for ax in axes for a in angles])


def random_axis_angles(n=200, seed=1):
    rng = np.random.default_rng(seed)
    return Rotation.random(n, random_state=seed).as_rotvec() * rng.uniform(0.2, 1.0, size=(n, 1))


def test_axis_angle_to_rotmat():
    aa = np.concatenate([special_axis_angles(), random_axis_angles()])
    np.testing.assert_allclose(rot.axis_angle_to_rotmat(aa), Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    assert rot.axis_angle_to_rotmat(aa.reshape(-1, 2, 3)).shape == (len(aa) // 2, 2, 3, 3)
    np.testing.assert_allclose(rot.axis_angle_to_rotmat(np.zeros(3)), np.eye(3))


def test_rotmat_to_quat_wxyz():
    R = Rotation.from_rotvec(np.concatenate([special_axis_angles(), random_axis_angles()]))
    q = rot.rotmat_to_quat_wxyz(R.as_matrix())
    ref = R.as_quat()[:, [3, 0, 1, 2]]
    ref *= np.where(ref[:, :1] < 0, -1.0, 1.0)
    assert (q[:, 0] >= 0).all()
    # at exactly 180° (w = 0) q and -q are both valid: compare up to sign there
    sign = np.where(np.sum(q * ref, axis=1, keepdims=True) < 0, -1.0, 1.0)
    np.testing.assert_allclose(q * sign, ref, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)


def test_quat_wxyz_to_rotmat():
    rng = np.random.default_rng(2)
    q = rng.normal(size=(100, 4)) * rng.uniform(0.1, 10.0, size=(100, 1))  # any norm
    ref = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(q), ref, atol=1e-12)
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(-q), ref, atol=1e-12)


def test_rotmat_to_axis_angle():
    aa = np.concatenate([special_axis_angles(), random_axis_angles()])
    R = Rotation.from_rotvec(aa).as_matrix()
    out = rot.rotmat_to_axis_angle(R)
    angle = np.linalg.norm(out, axis=1)
    assert (angle <= np.pi + 1e-12).all()
    np.testing.assert_allclose(Rotation.from_rotvec(out).as_matrix(), R, atol=1e-9)
    ordinary = np.linalg.norm(aa, axis=1) < np.pi - 1e-2  # away from π the vector itself is unique
    np.testing.assert_allclose(out[ordinary], aa[ordinary], atol=1e-9)


def test_quat_axis_angle_pair():
    aa = np.concatenate([special_axis_angles(), random_axis_angles()])
    q = rot.axis_angle_to_quat_wxyz(aa)
    np.testing.assert_allclose(q, Rotation.from_rotvec(aa).as_quat()[:, [3, 0, 1, 2]], atol=1e-12)
    back = rot.quat_wxyz_to_axis_angle(q * 3.0)  # non-unit input
    np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), Rotation.from_rotvec(aa).as_matrix(),
                               atol=1e-9)
    small = np.linalg.norm(aa, axis=1) < 3.0
    np.testing.assert_allclose(back[small], aa[small], atol=1e-9)
    np.testing.assert_allclose(rot.quat_wxyz_to_axis_angle(-q[small]), aa[small], atol=1e-9)  # q ~ -q


def test_quat_wxyz_multiply():
    a = Rotation.random(50, random_state=3)
    b = Rotation.random(50, random_state=4)
    qa, qb = a.as_quat()[:, [3, 0, 1, 2]], b.as_quat()[:, [3, 0, 1, 2]]
    ab = rot.quat_wxyz_multiply(qa, qb)
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(ab), (a * b).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(ab), a.as_matrix() @ b.as_matrix(), atol=1e-12)


def test_quat_wxyz_make_continuous():
    rng = np.random.default_rng(5)
    aa = np.cumsum(0.3 * rng.normal(size=(60, 4, 3)), axis=0)  # a wandering rotation per joint
    q = rot.axis_angle_to_quat_wxyz(aa) * rng.choice([-1.0, 1.0], size=(60, 4, 1))  # random sign flips
    c = rot.quat_wxyz_make_continuous(q)
    assert (np.sum(c[1:] * c[:-1], axis=-1) >= 0).all()
    np.testing.assert_allclose(np.abs(c), np.abs(q))  # only signs change
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(c), rot.quat_wxyz_to_rotmat(q), atol=1e-12)
    np.testing.assert_allclose(c[0], q[0])
    np.testing.assert_array_equal(rot.quat_wxyz_make_continuous(q[:1]), q[:1])


def test_rot6d_numpy():
    rng = np.random.default_rng(6)
    x6 = rng.normal(size=(100, 6))
    np.testing.assert_allclose(rot.rot6d_to_rotmat(x6), oracle.rot6d_to_rotmat(x6), atol=1e-12)
    R = Rotation.random(20, random_state=7).as_matrix()
    np.testing.assert_allclose(rot.rot6d_to_rotmat(rot.rotmat_to_rot6d(R)), R, atol=1e-12)
    np.testing.assert_allclose(rot.rotmat_to_rot6d(R), R[:, :, :2].reshape(20, 6))  # row-major 3×2
    # SPIN's layout: the first column is (x0, x2, x4)
    np.testing.assert_allclose(rot.rot6d_to_rotmat(np.array([2.0, 0, 0, 3.0, 0, 0]))[:, 0], [1, 0, 0])


def test_project_to_rotmat():
    from scipy.linalg import polar

    rng = np.random.default_rng(8)
    R = Rotation.random(30, random_state=9).as_matrix()
    noisy = R + 0.05 * rng.normal(size=R.shape)
    P = rot.project_to_rotmat(noisy)
    np.testing.assert_allclose(P @ np.swapaxes(P, -1, -2), np.broadcast_to(np.eye(3), P.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(P), 1.0, atol=1e-12)
    np.testing.assert_allclose(P, np.stack([polar(m)[0] for m in noisy]), atol=1e-10)  # nearest orthogonal
    np.testing.assert_allclose(rot.project_to_rotmat(R), R, atol=1e-12)
    np.testing.assert_allclose(rot.project_to_rotmat(2.5 * R), R, atol=1e-12)


def test_rot6d_to_rotmat_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    x6 = rng.normal(size=(7, 144))  # (B, 24·6) as the regressor produces it
    ref = oracle.rot6d_to_rotmat(x6.reshape(-1, 6))
    out64 = rot.rot6d_to_rotmat_torch(torch.tensor(x6))
    assert out64.shape == (7 * 24, 3, 3) and out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref, atol=1e-12)
    out32 = rot.rot6d_to_rotmat_torch(torch.tensor(x6, dtype=torch.float32))
    np.testing.assert_allclose(out32.numpy(), ref, atol=2e-6)


def test_rotmat_to_axis_angle_torch():
    torch = pytest.importorskip("torch")
    aa = np.concatenate([special_axis_angles(), random_axis_angles()])
    R = Rotation.from_rotvec(aa).as_matrix()
    out = rot.rotmat_to_axis_angle_torch(torch.tensor(R)).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(Rotation.from_rotvec(out).as_matrix(), R, atol=2e-6)  # eps=1e-6 branches
    ordinary = np.linalg.norm(aa, axis=1) < np.pi - 1e-2
    np.testing.assert_allclose(out[ordinary], aa[ordinary], atol=1e-8)
    np.testing.assert_allclose(rot.rotmat_to_axis_angle_torch(torch.eye(3)[None]).numpy(), 0.0, atol=1e-7)
    # 180° about x: the documented sign convention of the official code
    half_turn = rot.rotmat_to_axis_angle_torch(torch.diag(torch.tensor([1.0, -1.0, -1.0]))[None]).numpy()[0]
    np.testing.assert_allclose(np.abs(half_turn), [np.pi, 0, 0], atol=1e-6)
    out32 = rot.rotmat_to_axis_angle_torch(torch.tensor(R[ordinary], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out32, aa[ordinary], atol=1e-5)


def test_frame_constants_are_rotations():
    for M in (rot.R_BLENDER_FROM_OPENCV, rot.R_BLENDER_FROM_SMPL):
        np.testing.assert_allclose(M @ M.T, np.eye(3))
        assert np.isclose(np.linalg.det(M), 1.0)
    assert np.isclose(np.linalg.det(rot.R_BLENDER_CAM_FROM_OPENCV_CAM), 1.0)


# ------------------------------------------------------------------- interpolation and averaging (refine stage)
def test_quat_wxyz_slerp():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    t = rng.uniform(0, 1, 50)
    q = rot.quat_wxyz_slerp(a, b, t)
    # oracle: scipy's Slerp between the two rotations
    from scipy.spatial.transform import Slerp

    for i in range(50):
        pair = Rotation.from_quat(np.stack([a[i], b[i]])[:, [1, 2, 3, 0]])
        want = Slerp([0.0, 1.0], pair)([t[i]]).as_matrix()[0]
        np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(q[i]), want, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    # ends, the shorter arc for opposite signs, and identical inputs
    np.testing.assert_allclose(rot.quat_wxyz_slerp(a, b, 0.0), a / np.linalg.norm(a, axis=-1, keepdims=True),
                               atol=1e-12)
    half = rot.quat_wxyz_slerp(np.array([1.0, 0, 0, 0]), -rot.axis_angle_to_quat_wxyz(np.array([0, 0, 0.2])), 0.5)
    np.testing.assert_allclose(rot.quat_wxyz_to_axis_angle(half), [0, 0, 0.1], atol=1e-12)
    same = rot.quat_wxyz_slerp(a[0], a[0], 0.3)
    np.testing.assert_allclose(same, a[0] / np.linalg.norm(a[0]), atol=1e-12)


def test_quat_wxyz_average():
    rng = np.random.default_rng(8)
    center = rot.axis_angle_to_quat_wxyz(np.array([0.3, -1.0, 2.0]))
    noise = rot.axis_angle_to_quat_wxyz(rng.normal(0, 0.05, (40, 3)))
    q = rot.quat_wxyz_multiply(center[None], noise)
    q[::3] *= -1.0  # signs do not matter
    mean = rot.quat_wxyz_average(q)
    # oracle: scipy's Rotation.mean (the same chordal L2 mean)
    want = Rotation.from_quat(q[:, [1, 2, 3, 0]]).mean().as_matrix()
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(mean), want, atol=1e-9)
    w = rng.uniform(0, 1, 40)
    want_w = Rotation.from_quat(q[:, [1, 2, 3, 0]]).mean(weights=w).as_matrix()
    np.testing.assert_allclose(rot.quat_wxyz_to_rotmat(rot.quat_wxyz_average(q, w)), want_w, atol=1e-9)
    # along another axis, batched: (J, K, 4) averaged over K
    stack = np.stack([q, q[::-1]])
    np.testing.assert_allclose(np.abs(rot.quat_wxyz_average(stack, axis=1) @ mean), 1.0, atol=1e-9)
    assert mean[0] >= 0


def test_rotmat_from_vectors():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) * 3.0
    R = rot.rotmat_from_vectors(a, b)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R, a / np.linalg.norm(a, axis=-1, keepdims=True)),
                               b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-10)
    # the smallest such rotation: its angle is the angle between the vectors, its axis perpendicular to both
    angle = np.linalg.norm(rot.rotmat_to_axis_angle(R), axis=-1)
    cos = np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(angle, np.arccos(np.clip(cos, -1, 1)), atol=1e-9)
    # equal and opposite directions
    np.testing.assert_allclose(rot.rotmat_from_vectors([0, 0, 2.0], [0, 0, 1.0]), np.eye(3), atol=1e-12)
    flip = rot.rotmat_from_vectors([1.0, 0, 0], [-1.0, 0, 0])
    np.testing.assert_allclose(flip @ [1.0, 0, 0], [-1.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(flip), 1.0, atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_all_orders(order):
    """Blender's Euler convention (order "XYZ" applies X first: R = Rz·Ry·Rx; angles stored x, y, z) against
    scipy's extrinsic rotations, and the round trip rotation -> Euler -> rotation, gimbal-near cases included."""
    rng = np.random.default_rng(3)
    euler = rng.uniform(-np.pi, np.pi, size=(200, 3))
    middle = "XYZ".index(order[1])
    euler[:100, middle] = rng.uniform(-np.pi / 2 + 1e-3, np.pi / 2 - 1e-3, size=100)
    euler[100:110, middle] = np.pi / 2 - 1e-6  # near gimbal lock
    want = Rotation.from_euler(order.lower(), euler[:, ["XYZ".index(c) for c in order]]).as_matrix()
    np.testing.assert_allclose(rot.euler_to_rotmat(euler, order), want, atol=1e-12)
    back = rot.euler_to_rotmat(rot.rotmat_to_euler(want, order), order)
    np.testing.assert_allclose(back, want, atol=1e-5)
    principal = rot.rotmat_to_euler(want[:100], order)  # the middle angle within ±90°: the angles come back
    np.testing.assert_allclose(principal, euler[:100], atol=1e-9)
