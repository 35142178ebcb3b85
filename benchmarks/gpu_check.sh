#!/usr/bin/env bash
# Everything that needs a GPU, in one call: the CUDA tests, parity against PyTorch-CUDA,
# the benchmarks (eager and CUDA-graph replays) and a profile of one step.
#   OUT=folder bash benchmarks/gpu_check.sh        (run from the repository root)
#   STAGES="tests bench" ... runs only those stages (default: tests plain parity bench profile)
# Logs go to $OUT/logs.tar.gz, the benchmark JSON to $OUT; a short summary is printed last.
set -u
OUT=${OUT:-gpu-check}
LOGS=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=quick
PY=${PYTHON:-python3}
STAGES=${STAGES:-tests plain parity bench profile}
# pytest-xdist, where installed, spreads the tests over CPU cores (one GPU is plenty for batch-1 tests)
PARALLEL=$($PY -c "import xdist" 2>/dev/null && echo "-n ${WORKERS:-8}")
stage() { [[ " $STAGES " == *" $1 "* ]] && echo "== $1 ($(date +%T))"; }
finish() { tar -czf "$OUT/logs.tar.gz" -C "$LOGS" .; }
trap finish EXIT

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $PY -c "import numpy, cupy, torch; print('numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"
} 2>&1 | tee "$LOGS/environment.txt"

if stage tests; then
    timeout ${TEST_SECONDS:-150} $PY -m pytest -q -m cuda -p no:cacheprovider $PARALLEL -rf --tb=short \
        --durations=10 tests/ >"$LOGS/tests.log" 2>&1
    echo "pytest exit $?"; grep -E "^FAILED|passed|failed|error" "$LOGS/tests.log" | tail -25
fi

if stage plain; then
    # the engine's own formulas on the GPU, without minigrad.accel (its kernels, plans, flat buffers)
    MINIGRAD_ACCEL=0 timeout ${PLAIN_SECONDS:-90} $PY -m pytest -q -m cuda -p no:cacheprovider $PARALLEL -rf \
        --tb=short tests/test_ops.py tests/test_nn.py tests/test_conv.py tests/test_optim.py >"$LOGS/plain.log" 2>&1
    echo "pytest (MINIGRAD_ACCEL=0) exit $?"; grep -E "^FAILED|passed|failed|error" "$LOGS/plain.log" | tail -10
fi

if stage parity; then
    for case in "classifier-refined 100" "mnist-gan 100" "mnist-cgan 50" "mnist-cnn 50" "celeba-cnn-gan 5" \
                "celeba-cnn-gan-gelu 5" "celeba-gan 5"; do
        set -- $case
        timeout 60 $PY -m gans compare "$1" --steps "$2" --device cuda --out "runs/compare-$1-cuda" \
            >"$LOGS/compare-$1.log" 2>&1
        echo "$1: exit $? $(grep -m1 -i diverge "$LOGS/compare-$1.log")"
    done
    timeout 60 $PY -m gans compare mnist-gan --steps 50 --cross-device --out runs/compare-cross \
        >"$LOGS/compare-cross-device.log" 2>&1
    echo "cross-device: exit $? $(grep -m1 -i diverge "$LOGS/compare-cross-device.log")"
fi

if stage bench; then
    # BENCH_ENGINES=minigrad,minigrad-plain,torch also times minigrad without minigrad.accel
    timeout ${BENCH_SECONDS:-240} $PY -m benchmarks ${BENCH_NAMES:-} --engine ${BENCH_ENGINES:-minigrad,torch} \
        --device cuda --cuda-graph \
        --seconds ${BENCH_BUDGET:-2.0} --no-matmul --json "$OUT/bench-records.json" 2>&1 | tee "$LOGS/bench.log"
    cp benchmarks/results/cuda-* "$OUT/" 2>/dev/null
fi

if stage profile; then
    for name in classifier-refined mnist-gan mnist-cnn celeba-cnn-gan; do
        timeout 40 $PY -m benchmarks.profile $name --device cuda --steps 30 --top 40 >"$LOGS/profile-$name.txt" 2>&1
        head -1 "$LOGS/profile-$name.txt"
    done
    # host-side cost per step, counted: Python calls and CUDA kernel launches, both engines
    timeout 120 $PY -m benchmarks.profile --calls --device cuda --save 2>&1 | tee "$LOGS/calls.log"
    cp benchmarks/results/calls-cuda-* "$OUT/" 2>/dev/null
fi
