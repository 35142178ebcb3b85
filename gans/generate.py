"""Images from a trained run: plain samples and the seed experiments of chapter 7, as a grid
at native size (PNG or JPEG) with a titled figure beside it, or as an array (.npy)."""
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint, experiments, plots
from .images import save_image
from .training import build


def load_run(run_dir, engine=None, device="cpu"):
    """The experiment and models of a run, restored from its checkpoint (or the one before
    it, with a note on stderr, when that one is missing or damaged)."""
    path = Path(run_dir) / "checkpoint.npz"
    if not path.is_file() and not checkpoint.previous_path(path).is_file():
        raise FileNotFoundError(f"{run_dir}: no checkpoint.npz here; train first with "
                                "'gans train NAME --out DIR'")
    meta, arrays, note = checkpoint.load_latest(path)
    if note:
        print(f"note: {note}", file=sys.stderr)
    config = meta["config"]
    experiment, e, m = build(config["experiment"], engine or config["engine"], device, config["dtype"],
                             config["seed"], config.get("options"))
    checkpoint.restore(meta, arrays, m.modules(), m.optimisers(), e)
    return experiment, e, m, meta


MAX_GRID = 4096  # images in one picture (a 64 × 64 grid of digits is 1.8 k pixels a side)
SEED_ARITHMETIC = {"sum": ("+", lambda a, b: a + b), "difference": ("-", lambda a, b: a - b),
                   "product": ("×", lambda a, b: a * b)}
OUTPUTS = {".png": "the grid at native size (PNG)", ".jpg": "the grid as JPEG", ".jpeg": "the grid as JPEG",
           ".npy": "the images as an array, N×28×28 in [0, 1] for MNIST (what 'gans eval --images' reads)"}
FIGURE_SUFFIX = "-figure.png"  # the titled picture beside a .png/.jpg grid: samples.png -> samples-figure.png


@dataclass
class Generated:
    """What :func:`generate` made: the images (as ``experiment.generate`` shapes them for
    display), the digit each was drawn for (conditional GAN; else None), the title that says
    what they are, and the files written."""
    images: np.ndarray
    digits: list
    title: str
    files: list


def output_kind(out):
    """The suffix of ``out`` (lower case) if generate writes it, else ValueError naming it and the choices."""
    suffix = Path(out).suffix.lower()
    if suffix not in OUTPUTS:
        raise ValueError(f"--out {out}: cannot write {suffix or 'a file without a suffix'}; "
                         f"use {', '.join(OUTPUTS)}")
    return suffix


def figure_path(out):
    """Where the titled figure goes beside the grid ``out``: same folder, stem + '-figure.png'."""
    out = Path(out)
    return out.with_name(out.stem + FIGURE_SUFFIX)


def generate(run_dir, out, n=None, label=None, interpolate=False, seed_arithmetic=None, seed=0, engine=None,
             nrow=None, padding=2, normalize=False, pad_value=1.0):
    """Write G's images to ``out``: ``n`` samples, or a seed experiment; returns :class:`Generated`.

    The seed experiments of chapter 7, as the book's notebook runs them:
    ``interpolate``: G at 12 evenly spaced points from seed 1 to seed 2, in 3 rows of 4.
    ``seed_arithmetic``: G(seed 1), G(seed 2) and G of their 'sum', 'difference' or
    elementwise 'product' (the notebook's last cell multiplies them).
    The conditional GAN draws digit ``label`` (default: a random digit per sample; the seed
    experiments keep one label, 0 unless given, so that only the seed changes).

    ``out`` by its suffix (see ``OUTPUTS``): a .png or .jpg/.jpeg grid of the images at native size,
    ``nrow`` to a row (default 8; 4 for ``interpolate``, the book's 3×4; 3 for ``seed_arithmetic``)
    with ``padding`` pixels of ``pad_value`` between them (``gans.images.make_grid``; ``normalize``
    stretches the images' min..max to 0..1), plus the titled figure beside it (:func:`figure_path`);
    or a .npy file of the images as G made them.
    """
    suffix = output_kind(out)
    if n is not None and (interpolate or seed_arithmetic):
        raise ValueError("--n: --interpolate draws 12 images and --seed-arithmetic 3; leave out --n")
    n = 16 if n is None else n
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    if label is not None and not 0 <= label <= 9:
        raise ValueError(f"--label must be a digit 0..9, got {label}")
    if nrow is not None and nrow < 1:
        raise ValueError(f"--nrow must be at least 1, got {nrow}")
    if padding < 0:
        raise ValueError(f"--padding must be 0 or more, got {padding}")
    if seed_arithmetic and seed_arithmetic not in SEED_ARITHMETIC:
        raise ValueError(f"--seed-arithmetic is one of {', '.join(SEED_ARITHMETIC)}, not {seed_arithmetic!r}")
    if interpolate and seed_arithmetic:
        raise ValueError("--interpolate and --seed-arithmetic are two experiments: give one")
    if suffix != ".npy" and n > MAX_GRID:
        raise ValueError(f"--n {n}: a picture holds at most {MAX_GRID} images; write them to FILE.npy instead")
    if not 0 <= pad_value <= 1:
        raise ValueError(f"--pad-value is a grey level from 0 (black) to 1 (white), got {pad_value}")
    experiment, e, m, _ = load_run(run_dir, engine)
    if not experiment.is_gan:
        raise ValueError(f"{experiment.name} is a classifier: there is no generator to sample")
    if label is not None and not experiment.labels:
        raise ValueError(f"--label needs the conditional GAN (mnist-cgan), not {experiment.name}")
    rng = np.random.default_rng(seed)
    a, b = experiment.seed(rng), experiment.seed(rng)
    if interpolate:
        seeds = [a + (b - a) / 11 * count for count in range(12)]
        title = "interpolating from seed 1 to seed 2"
    elif seed_arithmetic:
        sign, combine = SEED_ARITHMETIC[seed_arithmetic]
        seeds = [a, b, combine(a, b)]
        title = f"seed 1, seed 2, seed 1 {sign} seed 2"
    else:
        seeds = [experiment.seed(rng) for _ in range(n)]
        title = f"{len(seeds)} samples"
    labels = digits = None
    if experiment.labels:
        if label is None and (interpolate or seed_arithmetic):
            label = 0  # one digit along the whole experiment: the seed is what changes
        digits = [label] * len(seeds) if label is not None else [int(k) for k in rng.integers(0, 10, len(seeds))]
        labels = [experiments.one_hot(k) for k in digits]
        title += f", label {label}" if label is not None else ", random labels"
    images = experiment.generate(m, e, seeds, labels)
    title = f"{experiment.name}: {title}"
    if suffix == ".npy":
        checkpoint.write_atomically(out, lambda f: np.save(f, images))
        return Generated(images, digits, title, [Path(out)])
    nrow = nrow or (4 if interpolate else 3 if seed_arithmetic else 8)
    save_image(images, out, nrow=nrow, padding=padding, normalize=normalize, pad_value=pad_value)
    cols = min(nrow, len(images))  # the figure laid out as the grid
    plots.samples(figure_path(out), experiment, images, None, title, rows=-(-len(images) // cols), cols=cols)
    return Generated(images, digits, title, [Path(out), figure_path(out)])
