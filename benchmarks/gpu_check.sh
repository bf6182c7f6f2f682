#!/usr/bin/env bash
# The GPU check, in one run on a machine with an NVIDIA GPU, CuPy, PyTorch (CUDA),
# NumPy and pytest (no package registry needed). From the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Steps, each under its own time limit (about 8 minutes in all); a step that fails or
# runs out of time is recorded and the next one runs:
#   1. pip install --no-deps -e .                       (GPU_CHECK_SKIP_INSTALL=1: skip)
#   2. pytest -m gpu tests/gpu: counts, worst parity errors (parity.json)
#   3. benchmarks/bench.py --device cuda --cpu-baseline: barenet vs PyTorch CUDA,
#      and barenet's own CPU training speed on this machine for the GPU/CPU ratio
#   4. benchmarks/gpu_train.py: cnn-deep on 60,000 synthetic 28x28 images, timed
#   5. benchmarks/gpu_summary.py: the figures and the issue's targets, in summary.txt
# Everything goes under $OUT (eight files at most): summary.txt (the machine, each step's
# status and time), gpu_tests.txt/.xml, parity.json, bench_cuda.txt/.json,
# train_cuda.txt/.json. Exit status: 0 when every step passed, 1 when one failed, 3
# when there is no CuPy or no GPU (nothing else is run then).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
# The tree's own barenet, whether or not the install step below succeeds.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
PY=${PYTHON:-python}
failed=0

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS LOG COMMAND...: run COMMAND under a time limit, its output in LOG
# (also shown), and record the outcome; never stops the script.
step() {
    local name=$1 limit=$2 log=$3 start rc
    shift 3
    start=$(date +%s)
    set +e
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    local took=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        note "step $name: ok (${took} s)"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        note "step $name: TIMED OUT after ${limit} s"
        failed=1
    else
        note "step $name: FAILED, exit $rc (${took} s)"
        failed=1
    fi
}

note "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
note "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: not available')"
note "$($PY -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)')"

if ! $PY - >>"$SUMMARY" 2>&1 <<'EOF'
import cupy
n = cupy.cuda.runtime.getDeviceCount()
assert n > 0, "no CUDA GPU"
print("cupy", cupy.__version__, "cuda runtime", cupy.cuda.runtime.runtimeGetVersion(), "gpus", n)
EOF
then
    note "no CuPy or no CUDA GPU here (see above): nothing to check; pip install barenet[gpu] on a GPU machine"
    exit 3
fi
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' \
    >>"$SUMMARY" 2>&1 || note "torch: not importable (the PyTorch comparisons will skip)"

if [ "${GPU_CHECK_SKIP_INSTALL:-0}" = 1 ]; then
    note "step install: skipped (GPU_CHECK_SKIP_INSTALL=1)"
else
    step install 60 "$OUT/summary.install.log" $PY -m pip install --no-deps --no-build-isolation -e .
    cat "$OUT/summary.install.log" >>"$SUMMARY" && rm -f "$OUT/summary.install.log"
fi

BARENET_GPU_REPORT="$OUT/parity.json" step gpu-tests 200 "$OUT/gpu_tests.txt" \
    $PY -m pytest -m gpu tests/gpu -q -p no:cacheprovider -rs --junitxml="$OUT/gpu_tests.xml"
grep -E "passed|failed|error" "$OUT/gpu_tests.txt" | tail -1 | sed 's/^/  tests: /' >>"$SUMMARY" || true

step bench 150 "$OUT/bench_cuda.txt" \
    $PY benchmarks/bench.py --device cuda --cpu-baseline --threads "$(nproc)" \
    --json "$OUT/bench_cuda.json"

step train 90 "$OUT/train_cuda.txt" \
    $PY benchmarks/gpu_train.py --device cuda --n-train 60000 --epochs 2 --batch-size 64 \
    --json "$OUT/train_cuda.json"

$PY benchmarks/gpu_summary.py "$OUT" | tee -a "$SUMMARY" || note "gpu_summary: failed"
note "done: $([ "$failed" = 0 ] && echo 'every step passed' || echo 'some step failed')"
exit "$failed"
