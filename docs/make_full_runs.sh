#!/usr/bin/env bash
# The book's full-length trainings on all 60 000 MNIST digits, both engines, one thread each,
# timed (README.md, "Full-length runs"). MNIST=path/to/mnist bash docs/make_full_runs.sh
set -euo pipefail
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
D=${MNIST:?set MNIST to the folder with the MNIST files}
for engine in minigrad torch; do
  /usr/bin/time -f "classifier-refined $engine: %e s wall" \
    gans train classifier-refined --engine $engine --epochs 3 --data "$D" --quiet --overwrite --out runs/full/classifier-refined-$engine
done
for engine in minigrad torch; do
  /usr/bin/time -f "mnist-gan $engine: %e s wall" \
    gans train mnist-gan --engine $engine --epochs 4 --data "$D" --quiet --overwrite --out runs/full/mnist-gan-$engine &
done
wait
