"""Retargeting on real rigs: Blender's Rigify metarig and a generated Rigify rig, hand-built Mixamo (FBX-like
object transform, cm, Y-up data), UE5 and VRM rigs with A-pose rests, bent elbows, odd rolls and tails, and
a nameless rig (hierarchy detection). The judged quantity: each mapped limb segment's world direction on
the target against the source's (mean < 5°, worst < 12°) over walk + arm raises + squat + full turn, and
the hips' path against the source's scaled by the leg ratio (< 2 cm)."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import rigs  # noqa: E402
from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of  # noqa: E402
from tcmr_mocap.blender_addon.retarget import bake, evaluate, rigdata  # noqa: E402

N_FRAMES = 120
MEAN_DEG, MAX_DEG, PATH_M = 5.0, 12.0, 0.02
EXPECTED_PRESET = {"mixamo": "mixamo", "arms_down": "mixamo", "ue5": "unreal_ue5", "vrm": "vrm", "nameless": "AUTO",
                   "metarig": "rigify_metarig", "rigify": "rigify_generated"}


def make_target(context, style):
    if style == "metarig":
        return rigs.build_metarig(context)
    if style == "rigify":
        return rigs.build_rigify_rig(context)[1]
    return rigs.build_rig(context, style, prefix="mixamorig:" if style == "mixamo" else "")


def snapshot(target):
    anim = target.animation_data
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "actions": sorted(a.name for a in bpy.data.actions),
        "action": anim.action.name if anim and anim.action else None,
        "pose": np.array([np.array(pb.matrix_basis) for pb in target.pose.bones]) if target.type == "ARMATURE"
        else None,
        "modes": [pb.rotation_mode for pb in target.pose.bones] if target.type == "ARMATURE" else None,
        "constraints": sum(len(pb.constraints) for pb in target.pose.bones) if target.type == "ARMATURE" else 0,
    }


def assert_same(a, b):
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)
        else:
            assert a[key] == b[key], key


@pytest.fixture
def source(scene, tmp_path, smpl_arrays):
    return rigs.build_source(bpy.context, tmp_path, smpl_arrays, N_FRAMES, betas=np.array([1.0, 0.5, 0, 0, 0, 0,
                                                                                           0, 0, 0, 0]))


@pytest.mark.parametrize("style", ["mixamo", "arms_down", "ue5", "vrm", "nameless", "metarig", "rigify"])
def test_limbs_follow_the_source(source, style, capsys):
    context = bpy.context
    target = make_target(context, style)
    constraints_before = sum(len(pb.constraints) for pb in target.pose.bones)
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name, preset="AUTO") == {"FINISHED"}
    action = target.animation_data.action
    assert action.name == f"{source.animation_data.action.name} · {target.name}"
    frames = rigdata.frame_range(source.animation_data.action)
    assert len(frames) == N_FRAMES
    errors, path, ratio = rigs.limb_errors(source, target, frames)
    judged = {"upper_arm.L", "upper_arm.R", "forearm.L", "forearm.R", "thigh.L", "thigh.R", "shin.L", "shin.R",
              "foot.L", "foot.R", "spine", "neck"}
    assert judged <= set(errors), sorted(judged - set(errors))
    every = np.concatenate([errors[k] for k in judged])
    with capsys.disabled():
        print(f"\n[{style}] limb angle mean {every.mean():.3f}° max {every.max():.3f}° "
              f"({', '.join(f'{k} {errors[k].max():.2f}' for k in sorted(judged))}); "
              f"hips path max {100 * path.max():.3f} cm; leg ratio {ratio:.3f}")
    assert every.mean() < MEAN_DEG and every.max() < MAX_DEG
    assert path.max() < PATH_M
    # plain keyframes on every frame of the source's range, no constraints added
    bag = channelbag_of(target)
    counts = {len(fc.keyframe_points) for fc in bag.fcurves if "IK_FK" not in fc.data_path
              and "follow" not in fc.data_path}
    assert counts == {N_FRAMES}
    assert sum(len(pb.constraints) for pb in target.pose.bones) == constraints_before
    tbm = bake.resolve_map(target, "AUTO")
    assert tbm.preset == EXPECTED_PRESET[style]


def test_feet_on_the_targets_floor_and_in_place(source):
    context = bpy.context
    target = rigs.build_rig(context, "ue5")
    tbm = bake.resolve_map(target, "AUTO")
    feet = [tbm.bones["foot.L"], tbm.bones["foot.R"]]
    rest_ankle = np.mean([(target.matrix_world @ target.data.bones[f].head_local).z for f in feet])
    frames = rigdata.frame_range(source.animation_data.action)
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name, root_motion=True) == {"FINISHED"}
    ankles = rigs.posed_heads(target, feet, frames)[..., 2].min(axis=1)
    assert abs(np.percentile(ankles, 5) - rest_ankle) < 0.01  # standing feet where the rig's feet stand
    hips = rigs.posed_heads(target, [tbm.bones["hips"]], frames)[:, 0]
    assert np.ptp(hips[:, 0]) > 0.3  # it walks
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name, root_motion=False) == {"FINISHED"}
    hips = rigs.posed_heads(target, [tbm.bones["hips"]], frames)[:, 0]
    assert np.abs(hips[:, :2] - hips[:1, :2]).max() < 1e-4  # in place: no horizontal travel
    assert np.ptp(hips[:, 2]) > 0.1  # but the squat still goes down


def test_rerun_replaces_its_own_result_only(source):
    context = bpy.context
    a = rigs.build_rig(context, "mixamo", name="hero")
    b = rigs.build_rig(context, "vrm", name="sidekick")
    own = bpy.data.actions.new("my take")  # the animator's own action on the rig is kept (fake user)
    own.slots.new(id_type="OBJECT", name="hero")
    a.animation_data_create().action = own
    for _ in range(2):
        assert bpy.ops.tcmr.retarget(source=source.name, target=a.name) == {"FINISHED"}
    assert bpy.ops.tcmr.retarget(source=source.name, target=b.name) == {"FINISHED"}
    names = sorted(x.name for x in bpy.data.actions)
    src_action = source.animation_data.action.name
    assert names == sorted([src_action, f"{src_action} · hero", f"{src_action} · sidekick", "my take"])
    assert bpy.data.actions["my take"].use_fake_user
    assert a.animation_data.action.name == f"{src_action} · hero"


def test_rigify_keys_fk_controls_with_the_switch_set(source):
    context = bpy.context
    meta, rig = rigs.build_rigify_rig(context)
    assert rig.pose.bones["upper_arm_parent.L"]["IK_FK"] == 0.0  # generated in IK
    assert bpy.ops.tcmr.retarget(source=source.name, target=rig.name) == {"FINISHED"}
    bag = channelbag_of(rig)
    paths = {fc.data_path for fc in bag.fcurves}
    for control in ("spine_fk", "upper_arm_fk.L", "forearm_fk.R", "thigh_fk.L", "shin_fk.R", "foot_fk.L", "neck",
                    "head", "spine_fk.002", "f_index.01.L", "thumb.02.R"):
        assert any(p.startswith(f'pose.bones["{control}"].rotation') for p in paths), control
    assert 'pose.bones["torso"].location' in paths
    assert not any(p.startswith('pose.bones["DEF-') for p in paths)  # what an animator keys, not DEF bones
    for limb in ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R"):
        assert f'pose.bones["{limb}"]["IK_FK"]' in paths
        bpy.context.scene.frame_set(10)
        assert rig.pose.bones[limb]["IK_FK"] == pytest.approx(1.0)
    # the shoulder control rotates in Euler (YXZ): keyed as Euler, not switched to quaternions
    assert rig.pose.bones["shoulder.L"].rotation_mode == "YXZ"


# ---------------------------------------------------------------------------------------------- bad input
def test_target_not_an_armature(source):
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    before = snapshot(cube)
    with pytest.raises(RuntimeError, match="must be an armature"):
        bpy.ops.tcmr.retarget(source=source.name, target=cube.name)
    assert_same(before, snapshot(cube))


def test_target_without_humanoid_bones(source):
    data = bpy.data.armatures.new("crane")
    obj = bpy.data.objects.new("crane", data)
    bpy.context.scene.collection.objects.link(obj)
    from tcmr_mocap.blender_addon.scene.armature import edit_mode

    with edit_mode(bpy.context, obj) as arm:
        prev = None
        for i in range(3):
            eb = arm.edit_bones.new(f"boom{i}")
            eb.head, eb.tail = (0, 0, i), (0, 0, i + 1)
            eb.parent = prev
            prev = eb
    before = snapshot(obj)
    with pytest.raises(RuntimeError, match="crane"):
        bpy.ops.tcmr.retarget(source=source.name, target=obj.name)
    assert bpy.context.window_manager.tcmr_job.last_error.startswith("'crane'")
    assert_same(before, snapshot(obj))


def test_missing_required_bones_are_named(source):
    target = rigs.build_rig(bpy.context, "mixamo")
    from tcmr_mocap.blender_addon.scene.armature import edit_mode

    with edit_mode(bpy.context, target) as arm:
        arm.edit_bones.remove(arm.edit_bones["LeftForeArm"])
        arm.edit_bones.remove(arm.edit_bones["RightLeg"])
    before = snapshot(target)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tcmr.retarget(source=source.name, target=target.name)
    message = bpy.context.window_manager.tcmr_job.last_error
    assert "Forearm L" in message and "Shin R" in message, message
    assert "Traceback" not in str(info.value).split("Error: ", 1)[-1].splitlines()[0]
    assert_same(before, snapshot(target))
    # the panel offers what was found, the missing slots empty to fill in, for this rig
    s = bpy.context.scene.tcmr_retarget
    shown = {item.slot: item.bone for item in s.bone_map}
    assert s.target == target and shown["forearm.L"] == "" and shown["shin.R"] == ""
    assert shown["upper_arm.L"] == "LeftArm" and shown["index1.L"] == "LeftHandIndex1"
    next(i for i in s.bone_map if i.slot == "forearm.L").bone = "LeftHand"  # also the hand: one bone per part
    with pytest.raises(RuntimeError, match="'LeftHand' is mapped to Forearm L and Hand L"):
        bpy.ops.tcmr.retarget(source=source.name, target=target.name, preset="CUSTOM")
    for slot, bone in (("hand.L", ""), ("shin.R", "RightFoot"), ("foot.R", "RightToeBase"), ("toe.R", "")):
        next(i for i in s.bone_map if i.slot == slot).bone = bone  # the user's odd choice stands
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name, preset="CUSTOM") == {"FINISHED"}


def test_source_without_action(scene):
    src = rigs.build_rig(bpy.context, "vrm", name="still")
    target = rigs.build_rig(bpy.context, "mixamo")
    before = snapshot(target)
    with pytest.raises(RuntimeError, match="no action"):
        bpy.ops.tcmr.retarget(source=src.name, target=target.name)
    assert_same(before, snapshot(target))


def test_failure_while_baking_leaves_the_target_as_it_was(source, monkeypatch):
    target = rigs.build_rig(bpy.context, "mixamo")
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name) == {"FINISHED"}
    before = snapshot(target)

    real = evaluate.keyframes.fill_fcurve
    calls = []

    def broken(*args, **kw):  # fails half-way through writing the new action
        calls.append(1)
        if len(calls) > 20:
            raise bake.RetargetError("simulated failure while writing keys")
        return real(*args, **kw)

    monkeypatch.setattr(evaluate.keyframes, "fill_fcurve", broken)
    with pytest.raises(RuntimeError, match="simulated failure"):
        bpy.ops.tcmr.retarget(source=source.name, target=target.name)
    assert_same(before, snapshot(target))


# ---------------------------------------------------------------------------------------------- panel / map
def test_panel_map_detect_edit_and_save(source, tmp_path, monkeypatch):
    from tcmr_mocap.blender_addon.retarget import bonemap, ops

    monkeypatch.setattr(ops, "user_preset_dir", lambda: str(tmp_path / "presets"))
    target = rigs.build_rig(bpy.context, "ue5", name="manny")
    s = bpy.context.scene.tcmr_retarget
    s.source, s.target = source, target
    assert bpy.ops.tcmr.retarget_detect() == {"FINISHED"}
    shown = {item.slot: item.bone for item in s.bone_map}
    assert shown["upper_arm.L"] == "upperarm_l" and shown["spine.4"] == "spine_05" and shown["neck.1"] == "neck_02"
    # edit: leave the left forearm undriven -> a required slot missing, named
    next(i for i in s.bone_map if i.slot == "forearm.L").bone = ""
    with pytest.raises(RuntimeError, match="Forearm L"):
        bpy.ops.tcmr.retarget(preset="CUSTOM")
    next(i for i in s.bone_map if i.slot == "forearm.L").bone = "lowerarm_l"
    next(i for i in s.bone_map if i.slot == "toe.L").bone = ""  # optional: fine
    assert bpy.ops.tcmr.retarget(preset="CUSTOM") == {"FINISHED"}
    paths = {fc.data_path for fc in channelbag_of(target).fcurves}
    assert not any('"ball_l"' in p for p in paths) and any('"ball_r"' in p for p in paths)
    assert bpy.ops.tcmr.retarget_save_preset(name="Manny Custom") == {"FINISHED"}
    files = bonemap.preset_files(tmp_path / "presets")
    assert "manny_custom" in files
    bm = bonemap.match_preset(bonemap.load_preset(files["manny_custom"]), [b.name for b in target.data.bones])
    assert bm.bones["forearm.L"] == "lowerarm_l" and "toe.L" not in bm.bones
    assert bpy.ops.tcmr.retarget(preset="manny_custom") == {"FINISHED"}


def test_preset_menu_lists_every_standard(source):
    from tcmr_mocap.blender_addon.retarget import ops, panel

    assert panel.TCMR_PT_retarget.bl_parent_id == "TCMR_PT_mocap"
    ids = [item[0] for item in ops.preset_items(None, bpy.context)]
    assert ids[:2] == ["AUTO", "CUSTOM"]
    assert {"mixamo", "rigify_metarig", "rigify_generated", "unreal_ue4", "unreal_ue5", "vrm", "vroid",
            "ready_player_me", "auto_rig_pro", "character_creator", "daz_genesis8", "daz_genesis9", "humanik",
            "max_biped", "cmu_bvh", "mmd", "smpl"} <= set(ids)
    s = bpy.context.scene.tcmr_retarget
    s.preset = "mixamo"
    assert s.preset == "mixamo"


def test_presets_ship_in_the_extension(tmp_path):
    """The bone-map data files are part of the built extension (not dropped by paths_exclude_pattern)."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    from tcmr_mocap.blender_addon.retarget import bonemap

    cli = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not cli.is_file():
        pytest.skip(f"Blender's extension builder is not at {cli}")
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "tcmr_mocap.zip"
    proc = subprocess.run([sys.executable, str(cli), "build", "--source-dir", str(repo), "--output-filepath",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = set(zipfile.ZipFile(out).namelist())
    for path in bonemap.preset_files().values():
        assert f"blender_addon/retarget/presets/{path.name}" in names
    assert "blender_addon/retarget/bake.py" in names and "blender_addon/export/exporter.py" in names


def test_any_rig_to_any_rig(source):
    """A retargeted Mixamo-style rig (odd rolls, FBX-like transform) is itself a source for a VRM rig."""
    context = bpy.context
    mixamo = rigs.build_rig(context, "mixamo", name="mixamo_hero")
    assert bpy.ops.tcmr.retarget(source=source.name, target=mixamo.name) == {"FINISHED"}
    vrm = rigs.build_rig(context, "vrm", name="vrm_hero")
    assert bpy.ops.tcmr.retarget(source=mixamo.name, target=vrm.name) == {"FINISHED"}
    assert vrm.animation_data.action.name == f"{mixamo.animation_data.action.name} · vrm_hero"
    errors, path, _ = rigs.limb_errors(mixamo, vrm, rigdata.frame_range(mixamo.animation_data.action))
    every = np.concatenate(list(errors.values()))
    assert every.mean() < MEAN_DEG and every.max() < MAX_DEG and path.max() < PATH_M


class _Layout:
    """Records what a draw() puts on screen (background mode has no UI)."""

    def __init__(self, log=None):
        self.log = [] if log is None else log
        self.enabled, self.scale_y = True, 1.0

    def _child(self, *args, **kwargs):
        return _Layout(self.log)

    box = column = row = _child

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text))

    def prop(self, data, name, **kwargs):
        self.log.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        self.log.append(("prop_search", name, search_name))

    def template_list(self, *args, **kwargs):
        self.log.append(("template_list", args[0]))

    def operator(self, idname, **kwargs):
        from types import SimpleNamespace

        op = SimpleNamespace()
        self.log.append(("operator", idname, op))
        return op


def test_panel_section_draws_the_flow(source, tmp_path):
    from types import SimpleNamespace

    target = rigs.build_rig(bpy.context, "ue5")
    s = bpy.context.scene.tcmr_retarget
    s.source, s.target = source, target
    s.root_motion = False
    s.use_export_range, s.export_start, s.export_end = True, 5, 50
    layout = _Layout()
    bpy.types.TCMR_PT_retarget.draw(SimpleNamespace(layout=layout), bpy.context)
    ops = {entry[1]: entry[2] for entry in layout.log if entry[0] == "operator"}
    assert {"tcmr.retarget", "tcmr.retarget_detect", "tcmr.export_action"} <= set(ops)
    assert ops["tcmr.retarget"].root_motion is False and ops["tcmr.retarget"].preset == "AUTO"
    assert (ops["tcmr.export_action"].frame_start, ops["tcmr.export_action"].frame_end) == (5, 50)
    assert not any(e[0] == "template_list" for e in layout.log)  # no map until Detect
    assert bpy.ops.tcmr.retarget_detect() == {"FINISHED"}
    layout = _Layout()
    bpy.types.TCMR_PT_retarget.draw(SimpleNamespace(layout=layout), bpy.context)
    assert ("template_list", "TCMR_UL_bone_map") in layout.log
    assert any(e[0] == "operator" and e[1] == "tcmr.retarget_save_preset" for e in layout.log)
    row = _Layout()
    item = s.bone_map[0]
    bpy.types.TCMR_UL_bone_map.draw_item(None, bpy.context, row, s, item, 0, s, "bone_map_index", 0)
    assert ("label", "Hips") in row.log and ("prop_search", "bone", "bones") in row.log


def test_rigify_ik_controls_follow_the_pose(source):
    """Switching a retargeted Rigify limb to IK keeps the pose: the IK hand/foot controls and poles are keyed
    on the baked FK pose."""
    _, rig = rigs.build_rigify_rig(bpy.context)
    assert bpy.ops.tcmr.retarget(source=source.name, target=rig.name) == {"FINISHED"}
    paths = {fc.data_path for fc in channelbag_of(rig).fcurves}
    for c in ("hand_ik.L", "foot_ik.R", "upper_arm_ik_target.L", "thigh_ik_target.R"):
        assert f'pose.bones["{c}"].location' in paths, c
    ends = ["DEF-hand.L", "DEF-hand.R", "DEF-foot.L", "DEF-foot.R", "DEF-forearm.L", "DEF-shin.R"]
    frames = [15, 45, 60, 95]
    fk = rigs.posed_heads(rig, ends, frames)
    bag = channelbag_of(rig)
    for fc in bag.fcurves:  # every limb to IK
        if fc.data_path.endswith('["IK_FK"]'):
            points = np.zeros(2 * len(fc.keyframe_points), dtype=np.float32)
            fc.keyframe_points.foreach_get("co", points)
            points[1::2] = 0.0
            fc.keyframe_points.foreach_set("co", points)
            fc.update()
    ik = rigs.posed_heads(rig, ends, frames)
    err = np.linalg.norm(ik - fk, axis=-1)
    assert err[:, :4].max() < 0.005, err  # hands and feet where FK had them
    # elbows and knees: Rigify's IK (pole off by default) picks its own bend plane: close, not exact
    assert err[:, 4:].max() < 0.1, err


@pytest.mark.parametrize("names", ["kept", "erased"])
def test_structure_detection_on_the_real_metarig(scene, names):
    """Without presets: the metarig (fingers, face, heels, breasts, pelvis bones) mapped by its names and
    hierarchy, and with every name erased by the rest shape and hierarchy alone."""
    from tcmr_mocap.blender_addon.retarget import detect

    meta = rigs.build_metarig(bpy.context)
    info = rigdata.rig_info(meta)
    original = list(info.names)
    if names == "erased":
        info.names = [f"b{i:03d}" for i in range(len(original))]
    bm = detect.detect_by_structure(info)
    got = {slot: original[info.names.index(bone)] for slot, bone in bm.bones.items()}
    want = {"hips": "spine", "spine.0": "spine.001", "spine.1": "spine.002", "spine.2": "spine.003",
            "neck.0": "spine.004", "neck.1": "spine.005", "head": "spine.006"}
    for s in "LR":
        want.update({f"{p}.{s}": f"{p}.{s}" for p in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin",
                                                      "foot", "toe")})
    assert got == want


def test_constraint_that_overrides_keys_is_reported(source):
    """A rig whose shin is pinned by a constraint: the retarget still bakes, and says which way it is off."""
    target = rigs.build_rig(bpy.context, "ue5")
    con = target.pose.bones["calf_l"].constraints.new("LIMIT_ROTATION")
    con.use_limit_x = con.use_limit_y = con.use_limit_z = True
    con.owner_space = "LOCAL"
    _, info = bake.retarget(bpy.context, source, target)
    assert info["residual_deg"] > 10.0
    assert info["passes"] < bake.MAX_PASSES  # it stops once a pass no longer helps
    assert len(target.pose.bones["calf_l"].constraints) == 1  # the rig's own constraint stays, none added


def test_source_read_from_its_keys_as_blender_evaluates_it(source):
    """A plain source (the capture armature; a rig with quaternion, Euler and axis-angle bones) is read from its
    keys in numpy: the same pose matrices as Blender's own evaluation, frame by frame."""
    mixamo = rigs.build_rig(bpy.context, "mixamo", name="keyed")
    assert bpy.ops.tcmr.retarget(source=source.name, target=mixamo.name) == {"FINISHED"}
    modes = ["XYZ", "ZXY", "AXIS_ANGLE"]
    for k, pb in enumerate(list(mixamo.pose.bones)[:3]):  # re-key three bones in other rotation modes
        pb.rotation_mode = modes[k]
    assert bpy.ops.tcmr.retarget(source=source.name, target=mixamo.name) == {"FINISHED"}
    spare = mixamo.pose.bones["LeftHandIndex2"]  # and one keyed by hand in axis-angle
    spare.rotation_mode = "AXIS_ANGLE"
    for frame, angle in ((1, 0.2), (60, 1.1)):
        spare.rotation_axis_angle = (angle, 0.3, 0.0, 1.0)
        spare.keyframe_insert("rotation_axis_angle", frame=frame)
    frames = np.arange(1, N_FRAMES + 1, 7)
    for obj in (source, mixamo):
        P = rigdata.keyed_pose(obj, frames)
        assert P is not None
        for t, f in enumerate(frames):
            bpy.context.scene.frame_set(int(f))
            Q = rigdata.pose_matrices(obj)  # float32 in Blender: compare to its precision (the rig is in cm)
            np.testing.assert_allclose(P[t][:, :3, :3], Q[:, :3, :3], atol=1e-5)
            np.testing.assert_allclose(P[t][:, :3, 3], Q[:, :3, 3], atol=1e-6 * np.abs(Q[:, :3, 3]).max() + 1e-6)
    mixamo.pose.bones[0].constraints.new("COPY_ROTATION")  # constraints: Blender must evaluate
    assert rigdata.keyed_pose(mixamo, frames) is None
