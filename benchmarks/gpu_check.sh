#!/usr/bin/env bash
# Everything that needs a GPU, in one call: the CUDA tests, parity against PyTorch-CUDA,
# the benchmarks (eager and CUDA-graph replays) and a profile of one step.
#   OUT=folder bash benchmarks/gpu_check.sh        (run from the repository root)
# Logs and JSON go to $OUT; a short table is printed last.
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=quick
PY=${PYTHON:-python3}
stage() { echo "== $1 ($(date +%T))"; }

stage environment
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $PY -c "import numpy, cupy, torch; print('numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"
} 2>&1 | tee "$OUT/environment.txt"

stage "CUDA tests"
timeout ${TEST_SECONDS:-150} $PY -m pytest -q -m cuda -p no:cacheprovider -rf --tb=short tests/ \
    >"$OUT/tests.log" 2>&1
echo "pytest exit $?"; grep -E "passed|failed|error" "$OUT/tests.log" | tail -3

stage "parity (float64, TF32 off)"
for case in "classifier-refined 100" "mnist-gan 100" "mnist-cgan 50" "mnist-cnn 50" "celeba-cnn-gan 5"; do
    set -- $case
    timeout 60 $PY -m gans compare "$1" --steps "$2" --device cuda --out "runs/compare-$1-cuda" \
        >"$OUT/compare-$1.log" 2>&1
    echo "$1: exit $? $(grep -m1 -i diverge "$OUT/compare-$1.log") $(grep -m1 "parameter difference" "$OUT/compare-$1.log")"
done
timeout 60 $PY -m gans compare mnist-gan --steps 50 --cross-device --out runs/compare-cross \
    >"$OUT/compare-cross-device.log" 2>&1
echo "cross-device mnist-gan: exit $? $(grep -m1 -iE 'diverge|within|max' "$OUT/compare-cross-device.log")"

stage benchmarks
timeout ${BENCH_SECONDS:-240} $PY -m benchmarks --device cuda --cuda-graph --seconds ${BENCH_BUDGET:-1.5} \
    --no-matmul --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
cp benchmarks/results/cuda-* "$OUT/" 2>/dev/null

stage profile
for name in classifier-refined mnist-gan; do
    timeout 40 $PY -m benchmarks.profile $name --device cuda --steps 100 --top 30 >"$OUT/profile-$name.txt" 2>&1
    head -1 "$OUT/profile-$name.txt"
done

stage summary
grep -E "passed|failed" "$OUT/tests.log" | tail -1
grep -vE "^(machine|saved)" "$OUT/bench.log" | tail -45
