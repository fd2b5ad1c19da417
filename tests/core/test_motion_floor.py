"""core.motion.floor: the plane under the feet, robust to jumps and sitting; the world frame; no-floor errors."""

from __future__ import annotations

import numpy as np
import pytest

from motion_cases import camera_clip, joints, ms, tilt_deg

from core.config import RefineConfig
from core.motion import floor
from core.motion.contacts import foot_rest_heights
from core.smpl import forward_kinematics
from core.rotations import R_BLENDER_FROM_OPENCV


def _inputs(rc, tc, times):
    P, G = forward_kinematics(ms.REST_JOINTS, rc)
    return [floor.FloorInput(joints=P + tc[:, None], global_rotmat=G, times_s=times,
                             rest_heights=foot_rest_heights(ms.REST_JOINTS))]


@pytest.mark.parametrize("kind", ["walk", "jump", "sit", "turn", "run"])
@pytest.mark.parametrize("pitch,roll", [(0.0, 0.0), (25.0, 5.0)])
def test_floor_tilt_and_height_are_recovered(kind, pitch, roll):
    c, R, C, _res, (rc, tc) = camera_clip(kind, pitch, roll, noisy=False)
    f = floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 1.0  # a jump's flight or a sitting body does not tilt it
    # the camera is ~6 m from the feet: a tenth of a degree of tilt moves its height by a centimetre
    assert f.camera_height_m == pytest.approx(C[1], abs=0.02 + 6.5 * np.radians(tilt_deg(f.normal_cam, R)))
    assert f.pitch_deg == pytest.approx(-pitch, abs=1.0) and f.roll_deg == pytest.approx(roll, abs=1.0)
    # the world frame: soles of the ground-truth contacts at Z = 0, Z up
    world = joints(rc, tc) @ f.R_world_from_cam.T + f.cam_position_world
    soles = world[:, [7, 8, 10, 11], 2] - foot_rest_heights(ms.REST_JOINTS)
    assert np.abs(soles[c["contact"]]).mean() < 0.01
    np.testing.assert_allclose(f.R_world_from_cam @ f.R_world_from_cam.T, np.eye(3), atol=1e-12)


def test_noisy_walk_still_under_a_degree():
    c, R, _C, _res, (rc, tc) = camera_clip("walk", 30.0, 5.0, noisy=True)
    f = floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 1.0


def test_level_camera_gives_the_old_fixed_mapping():
    R, c = floor.world_frame(np.array([0.0, -1.0, 0.0]), -1.5)
    np.testing.assert_allclose(R, R_BLENDER_FROM_OPENCV, atol=1e-12)
    np.testing.assert_allclose(c, [0, 0, 1.5])


def test_never_on_the_ground_raises():
    c, _R, _C, _res, (rc, tc) = camera_clip("float", noisy=True)
    with pytest.raises(floor.FloorNotFoundError, match="floor could not be estimated"):
        floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    with pytest.raises(floor.FloorNotFoundError):
        floor.estimate_floor([], RefineConfig().floor)


def test_motion_world_round_trip():
    c, _R, _C, _res, (rc, tc) = camera_clip("walk", noisy=False)
    Rw, cw = floor.world_frame(np.array([0.1, -0.95, 0.2]), -1.3)
    J0 = ms.REST_JOINTS[0]
    rw, tw = floor.motion_to_world(rc, tc, J0, Rw, cw)
    np.testing.assert_allclose(joints(rw, tw), joints(rc, tc) @ Rw.T + cw, atol=1e-9)
    back = floor.motion_to_camera(rw, tw, J0, Rw, cw)
    np.testing.assert_allclose(back[0], rc, atol=1e-12)
    np.testing.assert_allclose(back[1], tc, atol=1e-12)
