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


SEED_ARITHMETIC = {"sum": ("+", lambda a, b: a + b), "difference": ("-", lambda a, b: a - b),
                   "product": ("×", lambda a, b: a * b)}


def generate(run_dir, out, n=16, label=None, interpolate=False, seed_arithmetic=None, seed=0, engine=None):
    """Write a picture of G's images: ``n`` samples, or a seed experiment.

    The seed experiments of chapter 7, as the book's notebook runs them:
    ``interpolate``: G at 12 evenly spaced points from seed 1 to seed 2, in 3 rows of 4.
    ``seed_arithmetic``: G(seed 1), G(seed 2) and G of their 'sum', 'difference' or
    elementwise 'product' (the notebook's last cell multiplies them).
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
        seeds = [a + (b - a) / 11 * count for count in range(12)]
        title = "interpolating from seed 1 to seed 2"
    elif seed_arithmetic:
        if seed_arithmetic not in SEED_ARITHMETIC:
            raise ValueError(f"--seed-arithmetic is one of {', '.join(SEED_ARITHMETIC)}, not {seed_arithmetic!r}")
        sign, combine = SEED_ARITHMETIC[seed_arithmetic]
        seeds = [a, b, combine(a, b)]
        title = f"seed 1, seed 2, seed 1 {sign} seed 2"
    else:
        seeds = [experiment.seed(rng) for _ in range(n)]
        title = f"{len(seeds)} samples"
    labels = None
    if experiment.labels:
        digits = [label] * len(seeds) if label is not None else [int(k) for k in rng.integers(0, 10, len(seeds))]
        labels = [experiments.one_hot(k) for k in digits]
        title += f", label {label}" if label is not None else ", random labels"
    images = experiment.generate(m, e, seeds, labels)
    rows = 3 if interpolate else (1 if seed_arithmetic else None)
    plots.samples(out, experiment, images, None, f"{experiment.name}: {title}", rows=rows)
    return images
