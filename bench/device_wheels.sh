#!/usr/bin/env bash
# Fetch, here (where PyPI is reachable), the wheels the lent GPU machine's image lacks, into .whl/ at the repo
# root (in .gitignore: the device tool's `carry` takes it along). That image has torch, numpy, scipy, OpenCV
# and pytest but not these (/work/.library/device/KINDS.md); its Python is 3.12. Pure-Python wheels except lap.
#   bash bench/device_wheels.sh            # then: run(command="bash bench/device_check.sh", carry=[".whl"])
# DEVICE_PYTHON_VERSION=3.11 fetches for another Python (a dry run of device_check.sh on this machine);
# --list prints what it would fetch and fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${DEVICE_PYTHON_VERSION:-3.12}
pin() {  # the exact pin of a runtime package in requirements.txt (name==version)
  grep -E "^$1==" requirements.txt | head -n 1 | sed -E 's/[[:space:];].*//'
}
# ultralytics' own two helpers are not pinned in requirements.txt (pip resolves them); these are the versions
# the runtime environment resolves to today
wanted=("$(pin smplx)" "$(pin ultralytics)" "$(pin lap)" ultralytics-thop==2.2.3 ultralytics-platform==0.1.99)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${wanted[@]}"
  exit 0
fi
for spec in "${wanted[@]}"; do
  [[ $spec == *==* ]] || { echo "no exact pin for '$spec' in requirements.txt" >&2; exit 1; }
done
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .whl "${wanted[@]}"
ls -l .whl
