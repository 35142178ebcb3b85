#!/usr/bin/env bash
# The comparisons behind README.md's parity table (float64 and float32, CPU).
set -euo pipefail
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
for n in classifier classifier-refined pattern-1010 mnist-gan-first mnist-gan mnist-cnn mnist-cgan; do
  gans compare $n --steps 500 --every 10 --out runs/parity/$n
done
gans compare mnist-gan --steps 500 --every 10 --dtype float32 --out runs/parity/mnist-gan-f32
gans compare classifier-refined --steps 500 --every 10 --dtype float32 --out runs/parity/classifier-refined-f32
for n in celeba-cnn-gan celeba-cnn-gan-gelu; do
  gans compare $n --steps 20 --every 1 --out runs/parity/$n
done
gans compare celeba-gan --steps 500 --every 50 --out runs/parity/celeba-gan
