"""Benchmark of the hands/face stage (core/extremities) on real footage: cost per crop and per person-frame, and the
share of frames where a hand / the face is found.

    .venv/bin/python bench/bench_extremities.py [--markdown]

The body's hand and head positions are given (the test networks are synthetic): on pose2sim cam01 (1080×1920,
a real person, hands visible, face pixelated) both hands' positions were read off frames 40, 50, 60 and 70 by hand
and are interpolated in between; the crops, streams (MediaPipe VIDEO mode), hand choice and finger fit are the
stage's own (core.extremities.capture.best_hand, fit_hand_either_depth). Timed as the stage runs: crop and
landmarker per crop, the finger fits batched per hand at the end (score_hands, as _TrackState.fit_hands),
their time spread over the crops. The face is timed on the same frames
(pixelated: it should not be found) and on the real portraits (astronaut, obama, obama3, biden, camera_man).
Model files: tests/conftest.py's (the hand bundle built from the mediapipe 0.10.21 tflites, Google's face bundle).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import realdata  # noqa: E402

from core.config import ExtremitiesConfig  # noqa: E402
from core.capture.crop import crop_person  # noqa: E402
from core.extremities.capture import best_hand, face_confidence, score_hands, wrist_agreement  # noqa: E402
from core.extremities.crops import frame_to_crop  # noqa: E402
from core.extremities.landmarkers import FaceStream, HandStream  # noqa: E402

# frame -> ((right hand centre, right wrist), (left hand centre, left wrist)); source pixels, read off by hand
KEYS = {
    40: (((533, 393), (510, 405)), ((635, 932), (632, 905))),
    50: (((660, 414), (640, 420)), ((658, 941), (655, 915))),
    60: (((700, 468), (680, 470)), ((677, 931), (672, 905))),
    70: (((680, 510), (662, 510)), ((712, 906), (708, 885))),
}
HEAD = {40: (470, 560), 50: (700, 560), 60: (740, 580), 70: (740, 600)}  # the pixelated face
PORTRAITS = {"astronaut": (225, 125, 200), "portrait_obama": (440, 250, 480), "portrait_obama3": (770, 440, 480),
             "portrait_biden": (560, 420, 480), "camera_man": (215, 150, 180)}
HAND_SIDE_PX = 250  # 0.32 m at this person's scale (~ 800 px per metre)


def hand_task(folder: Path) -> Path:
    path = folder / "hand_landmarker.task"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.write(realdata.path("palm_detection_tflite"), "hand_detector.tflite")
        zf.write(realdata.path("hand_landmark_tflite"), "hand_landmarks_detector.tflite")
    return path


def interpolate(frame: int, index: int, part: int) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(KEYS)
    lo = max(k for k in keys if k <= frame)
    hi = min(k for k in keys if k >= frame)
    u = 0.0 if hi == lo else (frame - lo) / (hi - lo)
    a, b = np.array(KEYS[lo][index][part], float), np.array(KEYS[hi][index][part], float)
    return (1 - u) * a + u * b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    import cv2

    cfg = ExtremitiesConfig()
    face_task = realdata.path("face_landmarker_task")
    with tempfile.TemporaryDirectory() as tmp:
        task = hand_task(Path(tmp))
        cap = cv2.VideoCapture(str(realdata.path("pose2sim_cam01")))
        frames = {}
        for i in range(71):
            ok, frame = cap.read()
            if i >= 40:
                frames[i] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        cap.release()
        hand_ms, face_ms, found = [], [], {"right": 0, "left": 0, "face": 0}
        candidates = {"right": [], "left": []}  # the pipeline fits a track's hands together at its end
        streams = [HandStream(task, cfg.hands_per_crop, cfg.min_detection_confidence) for _ in range(2)]
        face_stream = FaceStream(face_task, cfg.min_detection_confidence)
        try:
            for i, rgb in frames.items():
                t = i / 60.0
                for index, side in ((0, "right"), (1, "left")):
                    centre, wrist = interpolate(i, index, 0), interpolate(i, index, 1)
                    box = (centre[0], centre[1], HAND_SIDE_PX)
                    t0 = time.perf_counter()
                    crop = crop_person(rgb, box, scale=1.0, crop_size=cfg.crop_px)
                    detections = streams[index].detect(crop, t)
                    hand_ms.append(1000 * (time.perf_counter() - t0))
                    wrist_px = frame_to_crop(wrist, box, cfg.crop_px)
                    conf, _ = best_hand(detections, wrist_px, side, cfg)  # (one fit per call: timed apart)
                    found[side] += conf > 0
                    near = [(wrist_agreement(d, wrist_px, cfg.crop_px), d.image_xyz) for d in detections]
                    candidates[side] += [(a, xyz) for a, xyz in near if a > 0]
                k = min(HEAD, key=lambda f: abs(f - i))
                box = (*HEAD[k], 0.40 * 800)
                t0 = time.perf_counter()
                face = face_stream.detect(crop_person(rgb, box, scale=1.0, crop_size=cfg.crop_px), t)
                face_ms.append(1000 * (time.perf_counter() - t0))
                found["face"] += face_confidence(face, cfg.crop_px) > 0
        finally:
            for s in streams + [face_stream]:
                s.close()
        t0 = time.perf_counter()
        for side, kept in candidates.items():  # as _TrackState.fit_hands: one batched fit per hand of a track
            if kept:
                score_hands(np.stack([xyz for _, xyz in kept]), [a for a, _ in kept], side, cfg)
        fit_ms = 1000 * (time.perf_counter() - t0) / max(len(hand_ms), 1)
        portraits, portrait_ms = 0, []
        for name, box in PORTRAITS.items():
            rgb = cv2.cvtColor(cv2.imread(str(realdata.path(name))), cv2.COLOR_BGR2RGB)
            with FaceStream(face_task, cfg.min_detection_confidence) as stream:
                crop = crop_person(rgb, box, scale=1.0, crop_size=cfg.crop_px)
                stream.detect(crop, 0.0)  # (the first call of a stream pays its set-up)
                t0 = time.perf_counter()
                face = stream.detect(crop, 0.1)
                portrait_ms.append(1000 * (time.perf_counter() - t0))
            portraits += face_confidence(face, cfg.crop_px) > 0
    n = len(frames)
    hand_mean, face_mean = float(np.mean(hand_ms[2:])) + fit_ms, float(np.mean(face_ms[1:]))
    person_frame = 2 * hand_mean + face_mean
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    rows = [
        ("hand crop (crop + landmarker; batched choice + fit), ms",
         f"{hand_mean:.1f} (median landmarker {np.median(hand_ms):.1f}, fit {fit_ms:.2f})"),
        ("face crop (crop + landmarker), ms", f"{face_mean:.1f} (portraits: {np.mean(portrait_ms):.1f})"),
        ("person-frame (2 hands + face), ms", f"{person_frame:.1f}"),
        ("pose2sim frames 40-70: right hand found", f"{found['right']}/{n}"),
        ("pose2sim frames 40-70: left hand found", f"{found['left']}/{n}"),
        ("pose2sim frames 40-70: face found (pixelated: should be 0)", f"{found['face']}/{n}"),
        ("portraits: face found", f"{portraits}/{len(PORTRAITS)}"),
    ]
    if args.markdown:
        print(f"extremities benchmark, {time.strftime('%Y-%m-%d')}, {machine}\n\n| what | result |\n|---|---|")
        for what, result in rows:
            print(f"| {what} | {result} |")
    else:
        for what, result in rows:
            print(f"{what:60s} {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
