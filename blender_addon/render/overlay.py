"""Render the captured body over its footage through the matched camera (the TCMR demo's overlay, in Blender).

:func:`setup_overlay` makes the scene render that way and keeps the settings in the scene, so the saved
``.blend`` renders the same on a farm (``blender -b clip.blend -a``); :func:`render` then renders it:

- the engine draws the 3D scene (the skinned SMPL mesh, or a retargeted character) with a transparent film
  through the capture's camera (its focal length and sensor are the core's, see ``camera.py``);
- the compositor lays that over the footage (the camera's background movie clip, scaled to the render size),
  so the output frame is the video frame with the body drawn where the network put it;
- Workbench by default (fast, works headless without a GPU); ``EEVEE`` or ``CYCLES`` on request (a sun light
  and a grey world are added for them when the scene has no light);
- output: a video (``.mp4``/``.mov``/``.mkv``/``.avi``, H.264 through FFmpeg) or an image sequence (a path
  with ``#`` for the frame number, e.g. ``frames/overlay_####.png``; a plain ``.png``/``.jpg``/``.exr`` path
  gets ``_####`` before its extension). :func:`render` numbers the images by the **video frame** each one shows
  (``overlay_0100.png`` is video frame 100, on scene frame 101); a farm rendering the saved ``.blend`` with
  ``blender -b clip.blend -a`` numbers them by scene frame, as Blender does;
- ``frames``: (first, last) **scene** frames, inclusive (default: the scene's range); ``scale``: resolution
  percentage (100 = the video's size). H.264 needs even sizes: where the scaled size of a video output is odd, the
  render size is rounded down to even and the pixel aspect set so the camera still sees exactly the video's view
  (the footage is stretched to the same size, so body and footage stay aligned).

The view transform is set to *Standard* so the footage comes out with the colours it went in with.
Works with Blender 4.4 (``scene.node_tree``) and 5.x (``scene.compositing_node_group``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Optional

import bpy

from ...core.errors import InvalidArgumentError, MocapError

ENGINES = {"WORKBENCH": "BLENDER_WORKBENCH", "EEVEE": "BLENDER_EEVEE", "CYCLES": "CYCLES"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi"}
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".exr": "OPEN_EXR", ".tif": "TIFF", ".tiff": "TIFF"}
BODY_COLOUR = (0.30, 0.62, 1.00)  # Workbench single colour: a light blue that stands out from most footage
TREE_NAME = "TCMR overlay"
DEFAULT_SAMPLES = {"BLENDER_EEVEE": 16, "CYCLES": 32}


def output_kind(path: str) -> tuple[str, str]:
    """OUT path -> ("video" | "images", Blender's file_format). InvalidArgumentError for anything else."""
    ext = os.path.splitext(path)[1].lower()
    if ext in VIDEO_EXTENSIONS:
        return "video", "FFMPEG"
    if ext in IMAGE_FORMATS:
        return "images", IMAGE_FORMATS[ext]
    raise InvalidArgumentError(f"--render {path}: give a video (.mp4, .mov, .mkv, .avi) or an image sequence "
                               "(.png, .jpg, .exr, .tif; '#' marks the frame number, e.g. frames/out_####.png)")


def frame_path(path: str, frame: int) -> str:
    """The file Blender writes for ``frame`` of an image-sequence ``path`` (see :func:`_blender_filepath`)."""
    pattern = _blender_filepath(path)
    head, hashes, tail = _split_hashes(pattern)
    return f"{head}{frame:0{len(hashes)}d}{tail}"


def _split_hashes(path: str) -> tuple[str, str, str]:
    end = path.rfind("#")
    start = end
    while start > 0 and path[start - 1] == "#":
        start -= 1
    return path[:start], path[start:end + 1], path[end + 1:]


def _blender_filepath(path: str) -> str:
    path = os.path.abspath(path)
    if output_kind(path)[0] == "images" and "#" not in os.path.basename(path):
        stem, ext = os.path.splitext(path)
        path = f"{stem}_####{ext}"
    return path


def _engine_id(engine: str) -> str:
    key = str(engine or "WORKBENCH").upper().replace("BLENDER_", "")
    if key == "EEVEE_NEXT":
        key = "EEVEE"
    if key not in ENGINES:
        raise InvalidArgumentError(f"unknown render engine {engine!r} (use workbench, eevee or cycles)")
    return ENGINES[key]


def _set_engine(scene, engine: str) -> str:
    wanted = _engine_id(engine)
    for candidate in (wanted, "BLENDER_EEVEE_NEXT") if wanted == "BLENDER_EEVEE" else (wanted,):
        try:
            scene.render.engine = candidate
            return candidate
        except TypeError:
            continue
    raise InvalidArgumentError(f"this Blender has no {engine} render engine (use workbench)")


def footage_clip(scene):
    """The movie clip behind the scene camera (what the capture set up), or None."""
    cam = scene.camera
    if cam is None or cam.type != "CAMERA":
        return None
    for bg in cam.data.background_images:
        if bg.source == "MOVIE_CLIP" and bg.clip is not None:
            return bg.clip
    return None


def setup_overlay(scene, output: str, engine: str = "WORKBENCH", frames: Optional[tuple] = None,
                  scale: int = 100, footage: bool = True, hide: tuple = (), samples: Optional[int] = None) -> dict:
    """Make ``scene`` render the overlay to ``output`` (settings stay in the scene). Returns what was chosen.
    ``samples``: EEVEE/Cycles samples per pixel (default :data:`DEFAULT_SAMPLES`: a preview, not Blender's
    final-quality 4096 for Cycles); ``hide``: objects left out of the render (the SMPL body under a retargeted
    character)."""
    if scene.camera is None:
        raise MocapError("the scene has no camera to render through (capture or import with the scene set up)")
    kind, file_format = output_kind(output)
    if not 1 <= int(scale) <= 1000:
        raise InvalidArgumentError(f"render scale must be a percentage from 1 to 1000, got {scale}")
    os.makedirs(os.path.dirname(os.path.abspath(output)) or ".", exist_ok=True)
    r = scene.render
    engine_id = _set_engine(scene, engine)
    r.resolution_percentage = int(scale)
    if kind == "video":
        _even_size(r)
    r.film_transparent = True
    r.use_compositing = True
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    if frames is not None:
        first, last = frames
        first = scene.frame_start if first is None else int(first)
        last = scene.frame_end if last is None else int(last)
        if last < first:
            raise InvalidArgumentError(f"render frame range {first}:{last} is empty")
        scene.frame_start, scene.frame_end = first, last
    if engine_id == "BLENDER_WORKBENCH":
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "SINGLE"
        shading.single_color = BODY_COLOUR
        shading.show_shadows = False
        shading.show_cavity = False
    else:
        _ensure_light(scene)
        count = int(samples or DEFAULT_SAMPLES[engine_id.replace("_NEXT", "")])
        if engine_id == "CYCLES":
            scene.cycles.samples = count
        else:
            scene.eevee.taa_render_samples = count
    for obj in hide:
        obj.hide_render = True
    for obj in scene.objects:
        if obj.type == "ARMATURE":
            obj.hide_render = True  # bones never render, but keep other engines from trying
    ims = r.image_settings
    if kind == "video":
        if "media_type" in ims.bl_rna.properties:
            ims.media_type = "VIDEO"
        ims.file_format = "FFMPEG"
        r.ffmpeg.format = "MPEG4" if output.lower().endswith((".mp4", ".mov")) else (
            "MKV" if output.lower().endswith(".mkv") else "AVI")
        if output.lower().endswith(".mov"):
            r.ffmpeg.format = "QUICKTIME"
        r.ffmpeg.codec = "H264"
        r.ffmpeg.constant_rate_factor = "HIGH"
        r.ffmpeg.audio_codec = "NONE"
        ims.color_mode = "RGB"
        r.filepath = os.path.abspath(output)
        r.use_file_extension = False
    else:
        if "media_type" in ims.bl_rna.properties:
            ims.media_type = "IMAGE"
        ims.file_format = file_format
        ims.color_mode = "RGB" if file_format == "JPEG" else "RGBA"
        r.filepath = _blender_filepath(output)
        r.use_file_extension = False
    clip = footage_clip(scene) if footage else None
    _build_compositor(scene, clip)
    return {"engine": engine_id, "kind": kind, "filepath": r.filepath, "footage": clip is not None,
            "frames": (scene.frame_start, scene.frame_end)}


def _even_size(r) -> None:
    """Make the output size even (H.264) without changing what the camera sees: an odd width or height is rounded
    down, and the pixel aspect takes up the difference."""
    full_w, full_h = r.resolution_x * r.pixel_aspect_x, r.resolution_y * r.pixel_aspect_y  # the view's shape
    w = r.resolution_x * r.resolution_percentage // 100  # what Blender would write
    h = r.resolution_y * r.resolution_percentage // 100
    if w % 2 == 0 and h % 2 == 0 and w > 0 and h > 0:
        return
    w, h = max(2, w - w % 2), max(2, h - h % 2)
    ratio = (full_w * h) / (full_h * w)  # pixel aspect x / y that keeps the view
    r.resolution_x, r.resolution_y, r.resolution_percentage = w, h, 100
    r.pixel_aspect_x, r.pixel_aspect_y = (ratio, 1.0) if ratio >= 1.0 else (1.0, 1.0 / ratio)


def _ensure_light(scene) -> None:
    if any(o.type == "LIGHT" for o in scene.objects):
        return
    data = bpy.data.lights.new("TCMR render light", type="SUN")
    data.energy = 3.0
    light = bpy.data.objects.new("TCMR render light", data)
    light.rotation_euler = (0.9, 0.0, 0.6)
    scene.collection.objects.link(light)
    if scene.world is None:
        scene.world = bpy.data.worlds.new("TCMR render world")
    scene.world.color = (0.3, 0.3, 0.3)


def _build_compositor(scene, clip) -> None:
    """Render layer over the footage (or alone when there is none), scaled to the render size."""
    new_api = hasattr(scene, "compositing_node_group")
    if new_api:
        tree = bpy.data.node_groups.get(TREE_NAME)
        if tree is None or tree.bl_idname != "CompositorNodeTree":
            tree = bpy.data.node_groups.new(TREE_NAME, "CompositorNodeTree")
        tree.nodes.clear()
        if not any(getattr(i, "in_out", "") == "OUTPUT" for i in tree.interface.items_tree):
            tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        scene.compositing_node_group = tree
        out = tree.nodes.new("NodeGroupOutput")
    else:  # Blender 4.x
        scene.use_nodes = True
        tree = scene.node_tree
        tree.nodes.clear()
        out = tree.nodes.new("CompositorNodeComposite")
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene = scene
    layers.location = (-400, 200)
    out.location = (400, 0)
    if clip is None:
        tree.links.new(layers.outputs["Image"], out.inputs[0])
        return
    movie = tree.nodes.new("CompositorNodeMovieClip")
    movie.clip = clip
    movie.location = (-600, -100)
    fit = tree.nodes.new("CompositorNodeScale")
    fit.location = (-350, -100)
    if "Type" in fit.inputs:  # 5.x: options are sockets
        fit.inputs["Type"].default_value = "Render Size"
        fit.inputs["Frame Type"].default_value = "Stretch"
    else:
        fit.space = "RENDER_SIZE"
        fit.frame_method = "STRETCH"
    over = tree.nodes.new("CompositorNodeAlphaOver")
    over.location = (100, 0)
    tree.links.new(movie.outputs["Image"], fit.inputs[0])
    if "Background" in over.inputs:  # 5.x
        background, foreground = over.inputs["Background"], over.inputs["Foreground"]
    else:  # 4.x: Fac, Image (back), Image (front)
        background, foreground = over.inputs[1], over.inputs[2]
    tree.links.new(fit.outputs[0], background)
    tree.links.new(layers.outputs["Image"], foreground)
    tree.links.new(over.outputs[0], out.inputs[0])


def video_frame_of(scene, frame: int) -> int:
    """The video frame the footage shows on scene frame ``frame`` (the clip's driven offset included), or
    ``frame - 1`` without footage. Call after ``scene.frame_set(frame)``."""
    clip = footage_clip(scene)
    return frame - 1 + (int(clip.frame_offset) if clip is not None else 0)


def render(scene, on_frame=None) -> list:
    """Render the scene's frame range with the settings :func:`setup_overlay` made. Returns the files written
    (the video, or one image per frame, named by the video frame it shows). ``on_frame(done, total)`` after each
    frame. Raises MocapError when Blender cannot render (one line)."""
    r = scene.render
    first, last = scene.frame_start, scene.frame_end
    total = last - first + 1
    if r.image_settings.file_format == "FFMPEG":
        count = [0]

        def handler(*_):
            count[0] += 1
            if on_frame is not None:
                on_frame(count[0], total)
        bpy.app.handlers.render_write.append(handler)
        try:
            with quiet_gpu_messages():
                _render_op(animation=True, scene=scene.name)
        finally:
            bpy.app.handlers.render_write.remove(handler)
        return [r.filepath] if os.path.isfile(r.filepath) else []
    pattern, current, written = r.filepath, scene.frame_current, []
    try:
        for k, frame in enumerate(range(first, last + 1), 1):
            scene.frame_set(frame)
            r.filepath = frame_path(pattern, video_frame_of(scene, frame))
            with quiet_gpu_messages():
                _render_op(write_still=True, scene=scene.name)
            if os.path.isfile(r.filepath):
                written.append(r.filepath)
            if on_frame is not None:
                on_frame(k, total)
    finally:
        r.filepath = pattern
        scene.frame_set(current)
    return written


def _render_op(**kwargs) -> None:
    try:
        bpy.ops.render.render(**kwargs)
    except RuntimeError as err:  # e.g. an encoder refusing the size; one line, not a traceback
        raise MocapError(f"render failed: {str(err).strip().splitlines()[-1]}") from None


GPU_NOISE = ("EGL Error", "Unable to open a display", "Warning: No GPU found")  # headless GPU probing chatter


@contextlib.contextmanager
def quiet_gpu_messages():
    """Keep what Blender's GPU set-up prints to the process's stderr while rendering headless (``EGL Error
    (0x3009) ...`` lines: it probes for a display and falls back) off the user's terminal; every other line is
    passed on afterwards."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (a GUI): nothing to filter
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not line.startswith(GPU_NOISE)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
