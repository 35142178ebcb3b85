#!/usr/bin/env bash
# Trains every experiment with the settings shown in README.md and copies its pictures to
# docs/images/experiments/. Run from the project root: bash docs/make_experiment_images.sh
set -euo pipefail
out=docs/images/experiments
mkdir -p "$out"
run() {  # run NAME [gans train options...]
  name=$1; shift
  gans train "$name" --quiet --overwrite --out "runs/readme/$name" "$@" > "runs/readme/$name.log" 2>&1 || { cat "runs/readme/$name.log"; exit 1; }
  cp "runs/readme/$name/samples.png" "$out/$name-samples.png"
  cp "runs/readme/$name/loss.png" "$out/$name-loss.png"
  echo "$name done: $(grep -E '"(test_accuracy|final_g|final_loss|mode_coverage|fid|label_accuracy)"' runs/readme/$name/metrics.json | tr -d ' \n')"
}
mkdir -p runs/readme
run classifier --epochs 4
run classifier-refined --epochs 3
run pattern-1010 --epochs 10
run mnist-gan-first --epochs 1
run mnist-gan
run mnist-cnn --epochs 1
run mnist-cgan
run celeba-gan --limit 300
run celeba-cnn-gan --limit 150
run celeba-cnn-gan-gelu --limit 150
