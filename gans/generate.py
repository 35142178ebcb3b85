"""Images from a trained run: plain samples and the seed experiments of chapter 7."""
from pathlib import Path

import numpy as np

from . import checkpoint, experiments, plots
from .training import build


def load_run(run_dir, engine=None, device="cpu"):
    """The experiment and models of a run, restored from its checkpoint."""
    path = Path(run_dir) / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no checkpoint.npz here; train first with "
                                "'gans train NAME --out DIR'")
    meta, arrays = checkpoint.load(path)
    config = meta["config"]
    experiment, e, m = build(config["experiment"], engine or config["engine"], device, config["dtype"],
                             config["seed"], config.get("options"))
    checkpoint.restore(meta, arrays, m.modules(), m.optimisers(), e)
    return experiment, e, m, meta


def generate(run_dir, out, n=16, label=None, interpolate=False, seed_arithmetic=None, seed=0, engine=None):
    """Write a picture of G's images: ``n`` samples, or a seed experiment.

    ``interpolate``: G at 10 points on the line from seed 1 to seed 2.
    ``seed_arithmetic``: G(seed 1), G(seed 2) and G(seed 1 ± seed 2).
    """
    experiment, e, m, _ = load_run(run_dir, engine)
    if not experiment.is_gan:
        raise ValueError(f"{experiment.name} is a classifier: there is no generator to sample")
    if label is not None and not experiment.labels:
        raise ValueError(f"--label needs the conditional GAN (mnist-cgan), not {experiment.name}")
    if label is not None and not 0 <= label <= 9:
        raise ValueError(f"--label must be a digit 0..9, got {label}")
    rng = np.random.default_rng(seed)
    a, b = experiment.seed(rng), experiment.seed(rng)
    if interpolate:
        seeds = [a + (b - a) * t for t in np.linspace(0, 1, 10)]
        title = "interpolating from seed 1 to seed 2"
    elif seed_arithmetic:
        if seed_arithmetic not in ("sum", "difference"):
            raise ValueError("--seed-arithmetic is 'sum' or 'difference'")
        combined = a + b if seed_arithmetic == "sum" else a - b
        seeds = [a, b, combined]
        title = f"seed 1, seed 2, seed 1 {'+' if seed_arithmetic == 'sum' else '-'} seed 2"
    else:
        seeds = [experiment.seed(rng) for _ in range(n)]
        title = f"{len(seeds)} samples"
    labels = None
    if experiment.labels:
        digits = [label] * len(seeds) if label is not None else [int(k) for k in rng.integers(0, 10, len(seeds))]
        labels = [experiments.one_hot(k) for k in digits]
        title += f", label {label}" if label is not None else ", random labels"
    images = experiment.generate(m, e, seeds, labels)
    rows = 1 if interpolate or seed_arithmetic else None
    plots.samples(out, experiment, images, None, f"{experiment.name}: {title}", rows=rows)
    return images
