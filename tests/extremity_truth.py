"""Measure the hands/face stage on the ground-truth renders of tests/blender/truth_scenes.py (no bpy here).

Hands: per shot, the stage's own steps — the crop of the hand (``ExtremitiesConfig.hand_crop_m`` at the hand's
depth, around the hand joint projected by the scene camera), MediaPipe's hand landmarker (VIDEO mode, a fresh
stream), the choice by the body's wrist and the fit (core.extremities.capture.best_hand) — give a finger pose;
its flexion per joint (core.extremities.handpose.hand_pose_to_angles, the flex component) is compared with the
flexion of the rendered joints, measured plainly from their 3D positions (:func:`joint_flexion`): for a finger's
first joint the angle of its first bone below the palm's plane (wrist, index and little knuckles), for the others
the angle between consecutive bones; the thumb's CMC (joint 1) is not compared (no plain measure of it).

Faces: the face crop (``face_crop_m``) around the projected head, MediaPipe's face landmarker, and its weights
(raw, and calibrated by the refine stage's ``standard`` map) against the rendered shape-key weights (jawOpen,
eyeBlinkLeft/Right, mouthSmileLeft/Right).

``python tests/extremity_truth.py FOLDER`` prints the measures as JSON (the Blender tests call it in the core's
Python when theirs has no mediapipe).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FACE_WEIGHTS = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight")
# landmarks of each finger's joints 1-3 and tip, in HAND_JOINT_NAMES finger order (index, middle, pinky, ring, thumb)
_CHAINS = {"index": (5, 6, 7, 8), "middle": (9, 10, 11, 12), "pinky": (17, 18, 19, 20), "ring": (13, 14, 15, 16),
           "thumb": (1, 2, 3, 4)}


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def joint_flexion(joints, side: str) -> np.ndarray:
    """(15,) flexion in degrees of each joint (HAND_JOINT_NAMES order) from 21 joint positions (metres, any
    frame); NaN for the thumb's first joint. Positive: towards the palm (fingers: about the axis across the
    hand, back of the hand × wrist-to-middle-knuckle; the thumb's joints: unsigned)."""
    P = np.asarray(joints, dtype=np.float64)
    n = np.cross(P[5] - P[0], P[17] - P[0])
    back = _unit(n if side == "left" else -n)
    across = _unit(np.cross(back, P[9] - P[0]))  # turning a finger about it by + curls it into the palm
    out = []
    for finger, marks in _CHAINS.items():
        d = _unit(P[list(marks[1:])] - P[list(marks[:-1])])  # (3, 3) the finger's bones
        out.append(np.nan if finger == "thumb" else np.degrees(np.arcsin(np.clip(-(d[0] @ back), -1, 1))))
        for k in (1, 2):
            angle = np.degrees(np.arccos(np.clip(d[k - 1] @ d[k], -1, 1)))
            out.append(angle if finger == "thumb" or np.cross(d[k - 1], d[k]) @ across >= 0 else -angle)
    return np.array(out)


def flexion_visible(visible) -> np.ndarray:
    """(15,) bool: a joint's flexion is visible when the joint and the next one (or the tip) are (21 flags)."""
    v = np.asarray(visible, dtype=bool)
    return np.array([v[marks[k]] and v[marks[k + 1]] for marks in _CHAINS.values() for k in range(3)])


def _crop(rgb, centre_px, depth_m: float, metres: float, focal_px: float, crop_px: int):
    from core.capture.crop import crop_person

    box = (float(centre_px[0]), float(centre_px[1]), focal_px * metres / depth_m)
    return crop_person(rgb, box, scale=1.0, crop_size=crop_px), box


def measure_hand(rgb, shot: dict, focal_px: float, task) -> dict:
    from core.config import ExtremitiesConfig
    from core.extremities.capture import best_hand
    from core.extremities.crops import frame_to_crop
    from core.extremities.handpose import fit_hand, hand_pose_to_angles
    from core.extremities.landmarkers import HandStream

    cfg = ExtremitiesConfig()
    crop, box = _crop(rgb, shot["hand"]["px"], shot["hand"]["depth_m"], cfg.hand_crop_m, focal_px, cfg.crop_px)
    with HandStream(task, cfg.hands_per_crop, cfg.min_detection_confidence) as stream:
        detections = stream.detect(crop, 0.0)
    wrist = frame_to_crop(shot["wrist"]["px"], box, cfg.crop_px)
    conf, pose = best_hand(detections, wrist, shot["side"], cfg)
    truth = joint_flexion(shot["joints"], shot["side"])
    exact = fit_hand(np.asarray(shot["joints"])[None], shot["side"])[0][0]  # the fit on the true joints
    out = {"found": pose is not None, "conf": conf, "truth_deg": truth.tolist(),
           "visible": flexion_visible(shot["visible"]).tolist(),
           "fit_exact_deg": np.degrees(hand_pose_to_angles(exact, shot["side"])[:, 1]).tolist()}
    if pose is not None:
        out["measured_deg"] = np.degrees(hand_pose_to_angles(pose, shot["side"])[:, 1]).tolist()
    return out


def measure_face(rgb, shot: dict, focal_px: float, task) -> dict:
    """MediaPipe's 52 scores on the stage's face crop ("scores", raw), and FACE_WEIGHTS of them raw ("raw") and
    calibrated by the ``standard`` map (core.extremities.calibration: what the refine stage applies; "measured")."""
    from core.config import ExtremitiesConfig
    from core.extremities.calibration import map_scores
    from core.extremities.capture import face_confidence
    from core.extremities.landmarkers import FaceStream
    from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

    cfg = ExtremitiesConfig()
    crop, _ = _crop(rgb, shot["head"]["px"], shot["head"]["depth_m"], cfg.face_crop_m, focal_px, cfg.crop_px)
    with FaceStream(task, cfg.min_detection_confidence) as stream:
        det = stream.detect(crop, 0.0)
    conf = face_confidence(det, cfg.crop_px)
    out = {"found": conf > 0, "conf": conf, "truth": {n: float(shot["weights"].get(n, 0.0)) for n in FACE_WEIGHTS}}
    if conf > 0:
        index = [ARKIT_BLENDSHAPE_NAMES.index(n) for n in FACE_WEIGHTS]
        mapped = map_scores(det.blendshapes)
        out["scores"] = [float(v) for v in det.blendshapes]
        out["raw"] = {n: float(det.blendshapes[k]) for n, k in zip(FACE_WEIGHTS, index)}
        out["measured"] = {n: float(mapped[k]) for n, k in zip(FACE_WEIGHTS, index)}
    return out


def measure(folder, hand_task, face_task) -> dict:
    """Every shot of ``folder`` measured, and a summary: hand joints' mean absolute flexion error (degrees) over
    the visible joints of the shots where the hand was found (and over all their joints, per joint, per view);
    face weights' largest and mean error."""
    import cv2

    folder = Path(folder)
    truth = json.loads((folder / "truth.json").read_text())
    results = []
    for shot in truth["shots"]:
        rgb = cv2.cvtColor(cv2.imread(str(folder / shot["image"])), cv2.COLOR_BGR2RGB)
        if shot["kind"] == "hand":
            r = measure_hand(rgb, shot, truth["focal_px"], hand_task)
        else:
            r = measure_face(rgb, shot, truth["focal_px"], face_task)
        results.append({**{k: shot[k] for k in ("kind", "image") if k in shot},
                        **{k: shot[k] for k in ("side", "pose", "view", "weights") if k in shot}, **r})
    return {"shots": results, "summary": summarise(results)}


def summarise(results: list) -> dict:
    """Hands: see :func:`measure`. Faces: per FACE_WEIGHTS channel the largest and mean error, calibrated (the
    ``standard`` map) and raw (``_raw``), and the share of (shot, channel) values within 0.2 of the truth."""
    hands = [r for r in results if r["kind"] == "hand"]
    found = [r for r in hands if r["found"]]
    summary = {"hand_shots": len(hands), "hands_found": len(found)}
    if found:
        err = np.abs(np.array([r["measured_deg"] for r in found]) - np.array([r["truth_deg"] for r in found]))
        exact = np.abs(np.array([r["fit_exact_deg"] for r in found]) - np.array([r["truth_deg"] for r in found]))
        seen = np.array([r["visible"] for r in found]) & np.isfinite(err)
        summary["flexion_error_visible_deg"] = float(err[seen].mean())
        summary["visible_joints"] = int(seen.sum())
        summary["flexion_error_all_deg"] = float(np.nanmean(err))
        summary["all_joints"] = int(np.isfinite(err).sum())
        summary["flexion_error_per_joint_deg"] = [round(float(np.nanmean(c)), 1) if np.isfinite(c).any() else None
                                                  for c in err.T]  # (HAND_JOINT_NAMES order; thumb1: None)
        summary["flexion_error_per_view_deg"] = {
            view: float(np.nanmean(err[[r["view"] == view for r in found]]))
            for view in dict.fromkeys(r["view"] for r in found)}
        summary["fit_on_true_joints_error_deg"] = float(np.nanmean(exact))
    faces = [r for r in results if r["kind"] == "face"]
    seen = [r for r in faces if r["found"]]
    summary.update(face_shots=len(faces), faces_found=len(seen))
    if seen:
        for key, label in (("measured", ""), ("raw", "_raw")):
            err = {n: [abs(r[key][n] - r["truth"][n]) for r in seen] for n in FACE_WEIGHTS}
            summary["face_error_max" + label] = {n: float(max(v)) for n, v in err.items()}
            summary["face_error_mean" + label] = {n: float(np.mean(v)) for n, v in err.items()}
            summary["face_within_0.2" + label] = float(np.mean([e <= 0.2 for v in err.values() for e in v]))
    return summary


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder, hand_task, face_task = args[:3]
    print(json.dumps(measure(folder, hand_task, face_task)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
