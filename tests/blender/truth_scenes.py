"""Ground truth for the hands/face stage: the CC0 MakeHuman character (real_rigs: MPFB's game_engine rig with 30
finger bones, the 52 ARKit face shape keys) rendered in known finger poses and known shape-key weights.

- Hands: each shot bends the character's finger joints by known angles (about each joint's hinge: the axis across
  the finger, in the palm's plane; the thumb towards the palm's middle), and looks at the back of the hand, at its
  palm (the hand turned a quarter turn about its axis, palm to the front) or at its thumb's side, framing the hand
  as a full-body shot of real footage would (the 0.32 m hand crop about 200 px); the truth is the posed joints in
  3D (wrist, thumb CMC/MCP/IP/tip, the fingers' MCP/PIP/DIP/tip: bone heads and tails), from which
  tests/extremity_truth.py measures each joint's flexion.
- Faces: each shot sets shape-key weights (jawOpen, eyeBlink, mouthSmile …) and looks at the face from a view
  (:func:`face_view`: angle, distance, studio light, skin colour; from the front at 1.25 m the face is about 85 px
  wide). Eyes (white, dark iris) and a dark mouth cavity are added: the base mesh has holes there. The sweeps of
  bench/bench_face_calibration.py (:func:`sweep_shots`, :func:`mixed_weights`) use :func:`render_faces`.
- Workbench, studio light, a skin colour; 512×512 px, 50 mm lens on a 36 mm sensor.

:func:`render` writes ``shot_<k>.png`` and ``truth.json`` (per shot: kind, side, camera focal length in pixels,
the wrist and hand (middle knuckle) or head in pixels with their depths, the 3D joints and which of them the
camera sees (:func:`visible`), the weights) into a folder. Needs bpy; tests/extremity_truth.py (no bpy) measures
the folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

SIZE_PX = 512
LENS_MM, SENSOR_MM = 50.0, 36.0
FOCAL_PX = SIZE_PX * LENS_MM / SENSOR_MM
HAND_DISTANCE_M = 1.1  # the 0.32 m hand crop is then ~207 px: a person filling a 1080p frame
FACE_DISTANCE_M = 1.25  # the face (~0.15 m) ~ 85 px wide
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
SKIN, EYE_WHITE, IRIS, MOUTH = (0.80, 0.58, 0.47), (0.90, 0.90, 0.88), (0.12, 0.08, 0.05), (0.18, 0.06, 0.06)

# finger poses: {finger: (joint 1, 2, 3) flexion in degrees added to the rest pose}
_CURL = {
    "open": {f: (0, 0, 0) for f in FINGERS},
    "relaxed": {"thumb": (10, 10, 10), "index": (15, 25, 15), "middle": (20, 30, 20), "ring": (25, 35, 20),
                "pinky": (30, 40, 25)},
    "half": {"thumb": (15, 25, 25), **{f: (40, 55, 35) for f in FINGERS[1:]}},
    "fist": {"thumb": (20, 40, 40), **{f: (75, 95, 60) for f in FINGERS[1:]}},
    "point": {"thumb": (20, 35, 30), "index": (0, 0, 0), **{f: (70, 90, 55) for f in ("middle", "ring", "pinky")}},
    "graded": {"thumb": (0, 10, 10), "index": (5, 10, 5), "middle": (25, 35, 25), "ring": (45, 60, 40),
               "pinky": (65, 80, 50)},
    "hook": {"thumb": (5, 15, 15), **{f: (0, 70, 50) for f in FINGERS[1:]}},
}
# hand shots: (side, pose, view): view "back" (the back of the hand to the camera), "palm", or "thumb" (the
# thumb's side: the fingers bend across the picture)
HAND_SHOTS = [("l", p, "back") for p in _CURL] + [("l", p, "palm") for p in ("open", "half", "graded")] + \
             [("l", p, "thumb") for p in ("relaxed", "half", "fist", "hook")] + \
             [("r", p, "back") for p in ("relaxed", "half", "point")]
# face expressions of the issue (#23): shape-key weights
FACE_WEIGHTS = [
    {},
    {"jawOpen": 0.35},
    {"jawOpen": 0.7},
    {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
    {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5},
    {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
    {"jawOpen": 0.5, "mouthSmileLeft": 0.6, "mouthSmileRight": 0.6, "eyeBlinkLeft": 0.3, "eyeBlinkRight": 0.3},
]
# Face views (see face_view). The response maps of core/extremities/calibration.py were fitted on renders from
# FIT_VIEWS (bench/bench_face_calibration.py) and are checked on views never fitted: WIDE_VIEWS (chosen before the
# fit: the head turned 30° and 40°, seen from 15° above, two studio lights never fitted) and HELD_OUT_VIEWS
# (chosen after the wide views' results, before rendering them: other angles, distances, lights and skins within
# the fitted range of yaw <= 25°, pitch <= 10°, 0.9-2 m).
DARK_SKIN, MEDIUM_SKIN, LIGHT_SKIN = (0.40, 0.24, 0.16), (0.60, 0.40, 0.30), (0.90, 0.72, 0.62)
FIT_VIEWS = (
    {}, {"yaw_deg": 25.0}, {"pitch_deg": 10.0}, {"pitch_deg": -10.0}, {"light": "rim.sl"}, {"distance_m": 2.0},
    {"skin": DARK_SKIN}, {"yaw_deg": 25.0, "pitch_deg": 10.0, "light": "rim.sl"},
    {"yaw_deg": -15.0, "pitch_deg": -8.0, "distance_m": 2.0, "light": "outdoor.sl"},
    {"distance_m": 0.9, "light": "studio.sl", "skin": DARK_SKIN},
)
HELD_OUT_VIEWS = (
    {"yaw_deg": -12.0, "pitch_deg": 5.0, "distance_m": 1.5},
    {"yaw_deg": 10.0, "pitch_deg": -5.0, "distance_m": 1.1, "light": "studio.sl"},
    {"yaw_deg": 20.0, "distance_m": 1.7, "skin": MEDIUM_SKIN},
    {"pitch_deg": -6.0, "distance_m": 1.3, "light": "outdoor.sl", "skin": LIGHT_SKIN},
)
WIDE_VIEWS = (
    {"yaw_deg": -30.0, "pitch_deg": 5.0, "distance_m": 1.6, "light": "paint.sl"},
    {"yaw_deg": 15.0, "pitch_deg": -5.0, "distance_m": 1.0, "light": "basic.sl", "skin": MEDIUM_SKIN},
    {"pitch_deg": 15.0, "distance_m": 1.4, "light": "studio.sl", "light_turn_deg": 90.0, "skin": LIGHT_SKIN},
    {"yaw_deg": 40.0},
)
# the sweep's channels: name -> the shape keys set together
SWEEP_CHANNELS = {"jawOpen": ("jawOpen",), "eyeBlink": ("eyeBlinkLeft", "eyeBlinkRight"),
                  "mouthSmile": ("mouthSmileLeft", "mouthSmileRight")}


def mixed_weights(count: int, seed: int) -> list:
    """``count`` seeded mixed expressions: jawOpen, both eyes' blink and both smiles, each present with
    probability 0.7 at a weight uniform in [0.1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        w = {}
        for names in SWEEP_CHANNELS.values():
            if rng.random() < 0.7:
                value = round(float(rng.uniform(0.1, 1.0)), 2)
                w.update({n: value for n in names})
        out.append(w)
    return out


def sweep_shots(views, weights, channels=SWEEP_CHANNELS) -> list:
    """Per view: the neutral face and each channel alone at each weight -> face shots for :func:`render_faces`."""
    return [{"weights": {}, "view": dict(v)} for v in views] + [
        {"weights": {n: float(w) for n in names}, "view": dict(v)}
        for v in views for names in channels.values() for w in weights]


# the face shots of render() (the Blender test's ground truth): the issue's expressions and two mixed ones, on the
# first two held-out views
FACE_SHOTS = [{"weights": w, "view": dict(v)} for k, v in enumerate(HELD_OUT_VIEWS[:2])
              for w in FACE_WEIGHTS + mixed_weights(2, seed=k)]


def spec() -> dict:
    """What :func:`render` makes (a cache of renders is valid while this and this file's code stay the same)."""
    return {"size": SIZE_PX, "lens": LENS_MM, "hand_m": HAND_DISTANCE_M, "face_m": FACE_DISTANCE_M, "curl": _CURL,
            "hands": HAND_SHOTS, "faces": FACE_SHOTS}


# ---------------------------------------------------------------------------------------------- scene
def _material(name, rgb):
    import bpy

    m = bpy.data.materials.new(name)
    m.diffuse_color = (*rgb, 1.0)
    return m


def _sphere(context, name, centre, radius, material):
    import bpy

    bpy.ops.mesh.primitive_uv_sphere_add(radius=float(radius), location=tuple(centre), segments=32, ring_count=16)
    obj = context.active_object
    obj.name = name
    obj.data.materials.append(material)
    return obj


def _eyes_and_mouth(context, assets, arm) -> None:
    """White eyeballs with a dark iris (faces looking forward, within 28° of -Y) where MakeHuman's eye helpers are,
    and a dark sphere inside the mouth (seen when the jaw opens); all carried by the head bone."""
    white, iris = _material("eye white", EYE_WHITE), _material("iris", IRIS)
    made = []
    for side in ("l", "r"):
        ix = assets.groups[f"helper-{side}-eye"]
        centre = assets.verts[ix].mean(axis=0)
        radius = 0.95 * float(np.abs(assets.verts[ix] - centre).max(axis=0).mean())
        eye = _sphere(context, f"eye_{side}", centre, radius, white)
        eye.data.materials.append(iris)
        for poly in eye.data.polygons:
            poly.material_index = int(poly.normal[1] < -np.cos(np.radians(28.0)))
        made.append(eye)
    tongue = assets.verts[assets.groups["helper-tongue"]].mean(axis=0)
    made.append(_sphere(context, "mouth", tongue + [0.0, 0.005, 0.012], 0.028, _material("mouth", MOUTH)))
    context.view_layer.update()
    for obj in made:
        world = obj.matrix_world.copy()
        obj.parent, obj.parent_type, obj.parent_bone = arm, "BONE", "head"
        obj.matrix_world = world


def build(context, assets):
    """The character with eyes and mouth, Workbench set up, a camera. Returns (armature, body, camera)."""
    import bpy
    import real_rigs

    arm = real_rigs.build_character(context, assets, real_rigs.RigSpec("game_engine"), name="mh", shape_keys=True)
    body = next(c for c in arm.children if c.type == "MESH")
    body.data.materials.append(_material("skin", SKIN))
    _eyes_and_mouth(context, assets, arm)
    scene = context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light, shading.color_type, shading.show_cavity = "STUDIO", "MATERIAL", False
    scene.render.resolution_x = scene.render.resolution_y = SIZE_PX
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    cam = bpy.data.objects.new("truth camera", bpy.data.cameras.new("truth camera"))
    scene.collection.objects.link(cam)
    cam.data.lens, cam.data.sensor_width, cam.data.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
    scene.camera = cam
    return arm, body, cam


# ---------------------------------------------------------------------------------------------- posing
def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _bone_names(side: str) -> dict:
    """{finger: [3 bone names]} and the hand bone of game_engine's ``side`` ("l"/"r")."""
    return {f: [f"{f}_0{k}_{side}" for k in (1, 2, 3)] for f in FINGERS}, f"hand_{side}"


def _back_normal(heads: dict, side: str) -> np.ndarray:
    """The back of the hand's normal from the wrist, index and little finger knuckles (rest or posed)."""
    n = np.cross(heads[f"index_01_{side}"] - heads[f"hand_{side}"], heads[f"pinky_01_{side}"] - heads[f"hand_{side}"])
    return _unit(n if side == "l" else -n)


def pose_hand(arm, side: str, curl: dict, view: str) -> None:
    """Bend each finger joint by ``curl`` (degrees) about its hinge and turn the wrist for ``view``."""
    from mathutils import Quaternion

    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
    chains, hand = _bone_names(side)
    rest = {b.name: np.array(b.head_local) for b in arm.data.bones}
    back = _back_normal(rest, side)
    palm_middle = 0.5 * (rest[hand] + rest[f"middle_01_{side}"])
    for finger, bones in chains.items():
        for k, name in enumerate(bones):
            bone = arm.data.bones[name]
            d = _unit(np.array(bone.tail_local) - np.array(bone.head_local))
            towards = -back if finger != "thumb" else _unit(_unit(palm_middle - rest[name]) - back)
            towards = _unit(towards - (towards @ d) * d)
            axis_world = _unit(np.cross(d, towards))  # +angle turns d towards ``towards``
            axis_local = np.array(bone.matrix_local)[:3, :3].T @ axis_world
            arm.pose.bones[name].rotation_quaternion = Quaternion(axis_local.tolist(), np.radians(curl[finger][k]))
    if view == "palm":  # the hand turned about its own axis by a quarter turn, its palm to the front (-Y)
        bone = arm.data.bones[hand]
        along_world = _unit(rest[f"middle_01_{side}"] - rest[hand])
        along = np.array(bone.matrix_local)[:3, :3].T @ along_world
        turns = [Quaternion(along.tolist(), np.radians(a)) for a in (90.0, -90.0)]
        R = [np.array(bone.matrix_local)[:3, :3] @ np.array(q.to_matrix()) @ np.array(bone.matrix_local)[:3, :3].T
             for q in turns]
        arm.pose.bones[hand].rotation_quaternion = turns[int(np.argmax([(r @ back)[1] for r in R]))]


def hand_joints(arm, side: str) -> np.ndarray:
    """(21, 3) posed world joints in MediaPipe's landmark order (wrist, thumb CMC..tip, index MCP..tip, …)."""
    chains, hand = _bone_names(side)
    mw = np.array(arm.matrix_world)
    pts = [np.array(arm.pose.bones[hand].head)]
    for finger in FINGERS:
        pbs = [arm.pose.bones[n] for n in chains[finger]]
        pts += [np.array(pb.head) for pb in pbs] + [np.array(pbs[-1].tail)]
    pts = np.array(pts)
    return pts @ mw[:3, :3].T + mw[:3, 3]


def visible(context, cam, points, under_skin_m: float = 0.02) -> list:
    """Per world point (K, 3): whether the camera sees it — the first surface on the ray towards it lies no more
    than ``under_skin_m`` in front of it (a joint is inside its finger; another finger or the palm in front hides
    it)."""
    from mathutils import Vector

    depsgraph = context.evaluated_depsgraph_get()
    eye = np.array(cam.matrix_world.translation)
    out = []
    for p in np.asarray(points, dtype=np.float64):
        ray = p - eye
        dist = float(np.linalg.norm(ray))
        hit, where, *_ = context.scene.ray_cast(depsgraph, Vector(eye.tolist()), Vector((ray / dist).tolist()),
                                                distance=dist + 0.05)
        out.append(bool(not hit or np.linalg.norm(np.array(where) - eye) >= dist - under_skin_m))
    return out


def _look(cam, position, target) -> None:
    from mathutils import Vector

    cam.location = Vector(tuple(position))
    cam.rotation_euler = (Vector(tuple(target)) - Vector(tuple(position))).to_track_quat("-Z", "Y").to_euler()


def _project(cam, points) -> tuple[np.ndarray, np.ndarray]:
    """World points (K, 3) -> (pixels (K, 2) x right / y down, depths (K,)) through the scene camera."""
    M = np.linalg.inv(np.array(cam.matrix_world))
    p = np.asarray(points, dtype=np.float64) @ M[:3, :3].T + M[:3, 3]  # camera: x right, y up, looking along -z
    depth = -p[:, 2]
    px = np.stack([SIZE_PX / 2 + FOCAL_PX * p[:, 0] / depth, SIZE_PX / 2 - FOCAL_PX * p[:, 1] / depth], axis=-1)
    return px, depth


# ---------------------------------------------------------------------------------------------- rendering
def render(context, assets, folder) -> dict:
    """Render every shot into ``folder`` (PNG per shot + truth.json). Returns the truth dict."""
    import bpy

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arm, body, cam = build(context, assets)
    scene = context.scene
    shots = []
    for side, pose, view in HAND_SHOTS:
        pose_hand(arm, side, _CURL[pose], view)
        context.view_layer.update()
        joints = hand_joints(arm, side)
        centre = joints[[0, 5, 9, 13, 17]].mean(axis=0)
        back = _back_normal({f"hand_{side}": joints[0], f"index_01_{side}": joints[5],
                             f"pinky_01_{side}": joints[17]}, side)
        toward = {"back": back, "palm": -back, "thumb": _unit(joints[5] - joints[17])}[view]
        _look(cam, centre + HAND_DISTANCE_M * toward, centre)
        context.view_layer.update()
        shots.append(_shot(scene, cam, folder, len(shots), {"kind": "hand", "side": "left" if side == "l" else
                                                             "right", "pose": pose, "view": view,
                                                             "joints": joints.tolist(),
                                                             "visible": visible(context, cam, joints)},
                           {"wrist": joints[0], "hand": joints[9]}))
    pose_hand(arm, "l", _CURL["open"], "back")
    shots += _face_shots(context, arm, body, cam, folder, FACE_SHOTS, len(shots))
    truth = {"focal_px": FOCAL_PX, "size_px": SIZE_PX, "spec": spec(), "shots": shots}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    bpy.data.objects.remove(cam)
    return truth


def face_view(view: Optional[dict] = None) -> dict:
    """A face shot's view with its defaults filled in: ``yaw_deg`` (the camera turned about the vertical through
    the eyes; + towards the character's left), ``pitch_deg`` (+ above the eyes, looking down), ``distance_m``
    (from the eyes), ``light`` (a Workbench studio light: Default, basic.sl, outdoor.sl, paint.sl, rim.sl,
    studio.sl), ``light_turn_deg`` (that light turned about Z) and ``skin`` (linear RGB)."""
    return {"yaw_deg": 0.0, "pitch_deg": 0.0, "distance_m": FACE_DISTANCE_M, "light": "Default",
            "light_turn_deg": 0.0, "skin": list(SKIN), **(view or {})}


def render_faces(context, assets, folder, shots: list) -> dict:
    """Render face ``shots`` ({"weights": {ARKit name: weight}, "view": see :func:`face_view`}) of the character
    into ``folder`` (``shot_<k>.png`` + truth.json, as :func:`render`). Returns the truth dict."""
    import bpy

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arm, body, cam = build(context, assets)
    truth = {"focal_px": FOCAL_PX, "size_px": SIZE_PX, "shots": _face_shots(context, arm, body, cam, folder, shots)}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    bpy.data.objects.remove(cam)
    return truth


def _face_shots(context, arm, body, cam, folder, shots: list, first: int = 0) -> list:
    from mathutils import Matrix

    scene = context.scene
    keys = body.data.shape_keys.key_blocks
    shading = scene.display.shading
    skin = body.data.materials[0]
    out = []
    for shot in shots:
        view = face_view(shot.get("view"))
        for kb in keys[1:]:
            kb.value = 0.0
        for name, value in shot["weights"].items():
            keys[name].value = value
        shading.studio_light, shading.studiolight_rotate_z = view["light"], np.radians(view["light_turn_deg"])
        skin.diffuse_color = (*view["skin"], 1.0)
        context.view_layer.update()
        head = arm.pose.bones["head"]
        centre = np.array(arm.matrix_world @ (0.5 * (head.head + head.tail)))
        eyes = np.array([0.0, centre[1], 1.545])  # between the eyes
        turn = np.array(Matrix.Rotation(np.radians(view["yaw_deg"]), 3, "Z") @
                        Matrix.Rotation(-np.radians(view["pitch_deg"]), 3, "X"))
        _look(cam, eyes + turn @ [0.0, -view["distance_m"], 0.0], eyes)
        info = {"kind": "face", "weights": shot["weights"]}
        if shot.get("view"):
            info["view"] = view
        out.append(_shot(scene, cam, folder, first + len(out), info, {"head": centre}))
    shading.studio_light, shading.studiolight_rotate_z = "Default", 0.0
    skin.diffuse_color = (*SKIN, 1.0)
    return out


def _shot(scene, cam, folder, index: int, info: dict, points: dict) -> dict:
    import bpy

    name = f"shot_{index:02d}.png"
    scene.render.filepath = str(folder / name)
    bpy.ops.render.render(write_still=True)
    px, depth = _project(cam, np.array(list(points.values())))
    info.update(image=name, **{k: {"px": px[i].tolist(), "depth_m": float(depth[i])} for i, k in enumerate(points)})
    return info
