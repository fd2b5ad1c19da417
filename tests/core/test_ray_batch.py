"""The batch on Ray: a private Ray on loopback (127.0.0.1 only, 2 CPUs, no dashboard, shut down at the end), a small
batch on synthetic clips, a worker killed mid-clip (redone, nothing lost or recorded twice), and addresses that
cannot be reached (one line, at once)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

sys.path.insert(0, str(Path(__file__).parent))
from test_batch import make_clip, manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_unreachable_address_fails_fast(tmp_path):
    pytest.importorskip("ray")
    (tmp_path / "a.mp4").write_bytes(b"x")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "TCMR_MOCAP_MODELS")}
    models = tmp_path / "models"
    models.mkdir()
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar", "yolo11s.pt"):
        (models / name).write_bytes(b"x")
    for address in ("127.0.0.1:9", "ray://127.0.0.1:9", "nonsense"):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core", "batch", str(tmp_path / "a.mp4"), "-o",
                               str(tmp_path / "out"), "--models", str(models), "--ray", address], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
        assert address in lines[0]
        assert time.perf_counter() - t < 30
    assert not (tmp_path / "out" / "manifest.jsonl").exists()  # nothing was started


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from core.batch.ray_runner import loopback_only

    loopback_only()
    core_dir = str(REPO / "core")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"py_modules": [core_dir]}, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_batch_survives_a_killed_worker(ray_local, models_dir, tmp_path):
    from core.batch import runner
    from core.batch.runner import BatchOptions, run_batch
    from core.result import MotionResult

    ray = ray_local
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")  # loopback only
    psutil = pytest.importorskip("psutil")
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN and c.pid in ours]
    import ipaddress

    def loopback(text):
        ip = ipaddress.ip_address(text)
        return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)

    assert listening and all(loopback(c.laddr.ip) for c in listening), listening
    rows = []
    for name, n in (("a", 40), ("b", 32), ("c", 28)):
        video, boxes = make_clip(tmp_path, name, n)
        rows.append(f"{video} --detections {boxes}")
    listing = tmp_path / "clips.txt"
    listing.write_text("\n".join(rows) + "\n")

    killed = {}
    original = runner._Driver.on_start

    def on_start(self, key, worker):
        original(self, key, worker)
        pid = re.search(r"pid (\d+)", worker)
        if not killed and pid:  # the first clip seen running: kill its worker process mid-clip
            killed["key"], killed["pid"] = key, int(pid.group(1))
            os.kill(killed["pid"], signal.SIGKILL)

    runner._Driver.on_start = on_start
    try:
        opts = BatchOptions(inputs=[str(listing)], out_dir=str(tmp_path / "out"), workers=2, ray="local",
                            capture={"models": str(models_dir), "device": "cpu"})
        summary = run_batch(opts)
    finally:
        runner._Driver.on_start = original
    assert killed, "no clip was seen running"
    assert summary.exit_code == 0, summary.message
    records = manifest(tmp_path / "out")
    assert len(records) == 3 and sorted(r["status"] for r in records) == ["done"] * 3  # once each
    assert len({r["key"] for r in records}) == 3
    redone = next(r for r in records if r["key"] == killed["key"])
    assert redone.get("restarted") is True and f"pid {killed['pid']}" not in redone["worker"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["manifest.jsonl"] + [Path(r["output"]).name for r in records])  # no partial files
    for r in records:
        assert len(MotionResult.load(r["output"]).tracks) == 1
    assert ray.is_initialized()  # joined, not started, by the batch: left running for its owner

    # the CLI on this cluster's address, one more clip: the done ones are skipped, the new one runs on Ray
    video, boxes = make_clip(tmp_path, "d", 26)
    listing.write_text(listing.read_text() + f"{video} --detections {boxes}\n")
    address = ray.get_runtime_context().gcs_address
    env = {k: v for k, v in os.environ.items() if k != "TCMR_MOCAP_MODELS"}
    proc = subprocess.run([sys.executable, "-m", "core", "batch", str(listing), "-o", str(tmp_path / "out"),
                           "--models", str(models_dir), "--device", "cpu", "--ray", address, "--progress-json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stderr.strip().splitlines()[-1])
    assert done["type"] == "done" and done["skipped"] == 3 and done["done"] == 1
    last = manifest(tmp_path / "out")[-1]
    assert Path(last["video"]).name == "d.mp4" and last["status"] == "done" and last["worker"].startswith("ray-")
