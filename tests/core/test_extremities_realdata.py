"""The real MediaPipe hand and face models on real photos and clip frames (tests/realdata.py), with the body's
wrist and head positions given (the test networks are synthetic, so a capture's own body would be random): hands
and faces are found where visible, finger angles are plausible (an open hand nearly flat, a curled hand curled),
blendshapes are ARKit weights in range, the head faces the camera in frontal portraits, and the body decides
which hand is which."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")
cv2 = pytest.importorskip("cv2")

from core.config import ExtremitiesConfig  # noqa: E402
from core.capture.crop import crop_person  # noqa: E402
from core.extremities import handpose as hp  # noqa: E402
from core.extremities.capture import best_hand, face_confidence  # noqa: E402
from core.extremities.crops import frame_to_crop  # noqa: E402
from core.extremities.face import head_rotmat_from_face  # noqa: E402
from core.extremities.landmarkers import FaceStream, HandStream  # noqa: E402
from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES  # noqa: E402

CFG = ExtremitiesConfig()


def image(real_file, name):
    return cv2.cvtColor(cv2.imread(str(real_file(name))), cv2.COLOR_BGR2RGB)


def clip_frame(real_file, name, index):
    cap = cv2.VideoCapture(str(real_file(name)))
    for _ in range(index + 1):
        ok, frame = cap.read()
    cap.release()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def hand_at(task, rgb, box, wrist, side):
    """(confidence, pose_aa or None, detections) for the ``side`` hand of a body whose wrist is at ``wrist``."""
    with HandStream(task, CFG.hands_per_crop, CFG.min_detection_confidence) as stream:
        detections = stream.detect(crop_person(rgb, box, scale=1.0, crop_size=CFG.crop_px), 0.0)
    conf, pose = best_hand(detections, frame_to_crop(wrist, box, CFG.crop_px), side, CFG)
    return conf, pose, detections


def mean_finger_flexion_deg(pose, side):
    return float(np.degrees(hp.hand_pose_to_angles(pose, side))[:12, 1].mean())  # the four fingers' 12 joints


# pose2sim cam01 (a real person on a force plate, 1080×1920): frame -> (raised, curled hand; hanging, open hand),
# each (crop box (cx, cy, side), wrist) in source pixels, read off the frames by hand
POSE2SIM_HANDS = {
    40: (((533, 393, 170), (510, 405)), ((635, 932, 250), (632, 905))),
    60: (((700, 468, 250), (680, 470)), ((677, 931, 250), (672, 905))),
}


@pytest.mark.parametrize("frame", sorted(POSE2SIM_HANDS))
def test_hands_on_a_real_clip_open_and_curled(real_file, hand_landmarker_task, frame):
    rgb = clip_frame(real_file, "pose2sim_cam01", frame)
    (raised_box, raised_wrist), (low_box, low_wrist) = POSE2SIM_HANDS[frame]
    c_raised, raised, _ = hand_at(hand_landmarker_task, rgb, raised_box, raised_wrist, "right")
    c_low, low, _ = hand_at(hand_landmarker_task, rgb, low_box, low_wrist, "left")
    assert c_raised > 0.3 and c_low > 0.3
    for pose, side in ((raised, "right"), (low, "left")):
        angles = np.degrees(hp.hand_pose_to_angles(pose, side))
        assert (angles >= hp.LIMITS_DEG[..., 0] - 1e-3).all() and (angles <= hp.LIMITS_DEG[..., 1] + 1e-3).all()
    assert mean_finger_flexion_deg(low, "left") < 25.0  # the hanging hand is open (nearly flat)
    assert mean_finger_flexion_deg(raised, "right") > 25.0  # the raised hand is curled
    assert mean_finger_flexion_deg(raised, "right") - mean_finger_flexion_deg(low, "left") > 12.0


def test_the_body_decides_which_hand_it_is(real_file, hand_landmarker_task):
    """obama3 (arms crossed): his right hand is visible. Given the body's right wrist there, the right slot gets it
    and the left (its wrist elsewhere) stays unseen; swap the body's wrists and so do the slots, whatever
    MediaPipe's handedness label says."""
    rgb = image(real_file, "portrait_obama3")
    box, at_hand, elsewhere = (960, 1090, 420), (880, 1120), (600, 1500)
    conf_r, pose_r, detections = hand_at(hand_landmarker_task, rgb, box, at_hand, "right")
    conf_l, pose_l, _ = hand_at(hand_landmarker_task, rgb, box, elsewhere, "left")
    assert len(detections) >= 1 and conf_r > 0 and pose_r is not None and conf_l == 0 and pose_l is None
    swapped_l, pose_sl, _ = hand_at(hand_landmarker_task, rgb, box, at_hand, "left")
    swapped_r, _, _ = hand_at(hand_landmarker_task, rgb, box, elsewhere, "right")
    assert swapped_l > 0 and swapped_r == 0
    # the same fingers, expressed as a left hand: the mirror image of the right hand's rotations
    np.testing.assert_allclose(pose_sl, pose_r * hp.MIRROR_AA, atol=1e-6)


FACES = {  # name -> head crop (cx, cy, side) in source pixels, read off the photos
    "astronaut": (225, 125, 200), "portrait_obama": (440, 250, 480), "portrait_obama3": (770, 440, 480),
    "portrait_biden": (560, 420, 480),
}


@pytest.mark.parametrize("name", sorted(FACES))
def test_faces_on_real_portraits(real_file, face_landmarker_task, name):
    rgb = image(real_file, name)
    box = FACES[name]
    with FaceStream(face_landmarker_task, CFG.min_detection_confidence) as stream:
        face = stream.detect(crop_person(rgb, box, scale=1.0, crop_size=CFG.crop_px), 0.0)
    assert face is not None and face_confidence(face, CFG.crop_px) > 0.5
    weights = dict(zip(ARKIT_BLENDSHAPE_NAMES, face.blendshapes))
    assert face.blendshapes.shape == (52,) and (face.blendshapes >= 0).all() and (face.blendshapes <= 1).all()
    assert weights["tongueOut"] == 0.0
    smiling = name in ("astronaut", "portrait_obama")  # both smile broadly; obama3 and biden do not
    smile = (weights["mouthSmileLeft"] + weights["mouthSmileRight"]) / 2
    assert (smile > 0.5) if smiling else (smile < 0.3), smile
    height, width = rgb.shape[:2]
    R = head_rotmat_from_face(face.matrix, box, float(np.hypot(width, height)), width, height)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    forward = R @ [0.0, 0.0, 1.0]  # the head's forward in the camera frame: towards the camera is -z
    up = R @ [0.0, 1.0, 0.0]  # its up: image up is -y
    assert np.degrees(np.arccos(-forward[2])) < 30.0 and up[1] < -0.85  # a frontal, upright portrait


def test_no_face_in_a_crop_without_one(real_file, face_landmarker_task, hand_landmarker_task):
    """A crop of a dark suit (biden's torso): no face, no hand; the stage records nothing (confidence 0)."""
    rgb = image(real_file, "portrait_biden")
    with FaceStream(face_landmarker_task, CFG.min_detection_confidence) as stream:
        face = stream.detect(crop_person(rgb, (480, 1700, 400), scale=1.0, crop_size=CFG.crop_px), 0.0)
    assert face is None and face_confidence(face, CFG.crop_px) == 0.0
    conf, pose, _ = hand_at(hand_landmarker_task, rgb, (480, 1700, 400), (480, 1700), "left")
    assert conf == 0.0 and pose is None


PORTRAITS = {**FACES, "camera_man": (215, 150, 180)}  # camera_man: in profile, an eye at a viewfinder
# who rests and who smiles (read off the photos): obama3 and biden look on calmly, astronaut and obama smile
# broadly (obama with his mouth a little open), camera_man squints into his camera
CALM, SMILING = ("portrait_obama3", "portrait_biden"), ("astronaut", "portrait_obama")


@pytest.mark.parametrize("name", sorted(PORTRAITS))
def test_the_face_calibration_does_real_faces_no_harm(real_file, face_landmarker_task, name):
    """The refine stage's standard face calibration (core.extremities.calibration) on real faces: open eyes stay
    open and closed mouths closed (MediaPipe reads real open eyes 0.15-0.30: the maps' knees keep such scores),
    smiles stay smiles, and no channel is lifted by more than 0.1."""
    from core.extremities.calibration import calibrate_face

    with FaceStream(face_landmarker_task, CFG.min_detection_confidence) as stream:
        face = stream.detect(crop_person(image(real_file, name), PORTRAITS[name], scale=1.0, crop_size=CFG.crop_px),
                             0.0)
    assert face is not None
    raw = np.asarray(face.blendshapes, dtype=np.float64)
    weights, info = calibrate_face(raw[None], np.array([True]), "standard")
    got, before = dict(zip(ARKIT_BLENDSHAPE_NAMES, weights[0])), dict(zip(ARKIT_BLENDSHAPE_NAMES, raw))
    assert info["mode"] == "standard"
    assert (weights[0] - raw <= 0.1).all() and (weights[0] >= raw - 1e-9).all()
    blink = max(got["eyeBlinkLeft"], got["eyeBlinkRight"])
    if name in CALM + SMILING:  # eyes open (obama's smile narrows them a little)
        assert blink <= 0.35 and blink <= max(before["eyeBlinkLeft"], before["eyeBlinkRight"]) + 0.05, blink
    assert got["jawOpen"] <= (0.25 if name == "portrait_obama" else 0.05), got["jawOpen"]
    smile = (got["mouthSmileLeft"] + got["mouthSmileRight"]) / 2
    assert (smile > 0.8) if name in SMILING else (smile < 0.1), smile
