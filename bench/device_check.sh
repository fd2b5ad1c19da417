#!/usr/bin/env bash
# Issue 8's GPU checks as one prepared run for the lent GPU machine (the device tool), after
# `bash bench/device_wheels.sh` here:
#   run(command="bash bench/device_check.sh", carry=[".whl"], timeout_s=540)
# 1. installs the carried wheels (.whl/) into /tmp/tcmr_site; 2. prints the machine; 3. the CUDA tests
# (tests/core/test_cuda.py and the float32 guard's); 4. the model stage on the GPU against the official scheme
# (bench_speed.py --part model: ms/frame -> frames/s, fp32 exact and bf16); 5. whole captures on the GPU per stage
# (--part capture). Each step writes its output into $OUT as it goes, so a run cut short still returns what it
# finished. Knobs: DEVICE (cuda; cpu = a dry run here), PYTHON (python3), THREADS (8), MODEL_FRAMES (1024),
# CLIP_FRAMES (240), ROUNDS (2), STEPS ("tests model capture"), WHEELS (.whl).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
threads=${THREADS:-8}
rounds=${ROUNDS:-2}
steps=" ${STEPS:-tests model capture} "
export PYTHONUNBUFFERED=1
echo "output in $OUT"
wheels=${WHEELS:-.whl}
if compgen -G "$wheels/*.whl" >/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/tcmr_site \
    "$wheels"/*.whl || { echo "the carried wheels did not install"; exit 1; }
  export PYTHONPATH=/tmp/tcmr_site${PYTHONPATH:+:$PYTHONPATH}
fi
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "no nvidia-smi"
  echo "CPU cores: $(nproc)"
  "$py" -c "import torch, numpy, cv2, ultralytics, smplx; print('torch', torch.__version__, 'CUDA', torch.version.cuda, \
'GPU', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, '| numpy', numpy.__version__, \
'| cv2', cv2.__version__, '| ultralytics', ultralytics.__version__)"
} 2>&1 | tee "$OUT/machine.txt"
status=0
if [[ $steps == *" tests "* ]]; then
  "$py" -m pytest -q -p no:cacheprovider -rs tests/core/test_cuda.py tests/core/test_tcmr_float32.py \
    "tests/core/test_network.py::test_cuda_matches_cpu" 2>&1 | tee "$OUT/tests.txt" || status=1
fi
if [[ $steps == *" model "* ]]; then
  "$py" bench/bench_speed.py --device "$device" --part model --frames "${MODEL_FRAMES:-1024}" --rounds 3 \
    --threads "$threads" 2>&1 | tee "$OUT/bench_model.md" || status=1
fi
if [[ $steps == *" capture "* ]]; then
  "$py" bench/bench_speed.py --device "$device" --part capture --clip-frames "${CLIP_FRAMES:-240}" \
    --rounds "$rounds" --threads "$threads" 2>&1 | tee "$OUT/bench_capture.md" || status=1
fi
exit $status
