"""The pictures of a run: the loss plot in the book's style, sample grids, confusion matrix."""
import csv

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .checkpoint import write_atomically  # noqa: E402


def _save(fig, path):
    """Write a figure atomically (a half-written PNG never replaces a good one)."""
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=80, bbox_inches="tight"))
    plt.close(fig)


def losses(path, csv_path, title, engine):
    """Losses against training steps as faint dots, like the book's ``df.plot(alpha=0.1, marker='.')``."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    fig, ax = plt.subplots(figsize=(10, 5))
    if rows:
        steps = np.array([int(r["step"]) for r in rows])
        for column in rows[0]:
            if column == "step":
                continue
            ax.plot(steps, [float(r[column]) for r in rows], ".", alpha=0.15, label=column)
        legend = ax.legend(loc="upper right", markerscale=2)
        for handle in legend.legend_handles:
            handle.set_alpha(1)
    ax.set_ylim(bottom=0)
    ax.set_yticks([0, 0.25, 0.5, 1.0])
    ax.grid(True)
    ax.set_xlabel("training step")
    ax.set_title(f"{title} [{engine}]")
    _save(fig, path)


def samples(path, experiment, images, labels=None, title=None, rows=None, histogram=None):
    """Generated images tiled into one picture: 3×4 for GANs, one row per class for the
    conditional GAN, bars for the 1010 pattern.  ``histogram`` (10 counts: how
    many of N samples the evaluator reads as each digit) adds a bar chart beside the grid."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0, 1)
    if experiment.data == "pattern":
        return pattern_bars(path, images, title or f"{experiment.name}: G(0.5)")
    n = len(images)
    rows = rows or (10 if labels is not None else (1 if n == 1 else 3))
    cols = int(np.ceil(n / rows))
    mosaic = tile(images, rows, cols)
    h = images.shape[1] + 2
    size = (max(cols * 1.4, 3), max(rows * 1.4 * mosaic.shape[0] / rows / h, 1))
    if histogram is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig, (ax, bars) = plt.subplots(1, 2, figsize=(size[0] + 3.5, max(size[1], 3)),
                                       gridspec_kw={"width_ratios": [size[0], 3.5]})
        class_histogram(bars, histogram)
    cmap = None if images.ndim == 4 else "gray"
    ax.imshow(mosaic, cmap=cmap, interpolation="none", vmin=0, vmax=1)
    ax.set_xticks([])
    if labels is not None:
        ax.set_yticks([h * r + h / 2 for r in range(rows)])
        ax.set_yticklabels([str(int(np.argmax(labels[r * cols]))) for r in range(rows)])
        ax.set_ylabel("requested digit")
    else:
        ax.set_yticks([])
    ax.set_title(title or f"{experiment.name}: generated from fixed seeds", fontsize=9)
    _save(fig, path)


def pattern_bars(path, outputs, title):
    """The 1010 pattern GAN's four outputs as bars against the target pattern."""
    fig, ax = plt.subplots(figsize=(4, 2.6))
    values = outputs.reshape(-1, 4)[-1]
    ax.bar(range(4), values, color="C0", label="G's output")
    ax.plot(range(4), [1, 0, 1, 0], "r_", markersize=30, label="pattern 1 0 1 0")
    ax.set_xticks(range(4))
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="center right")
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def class_histogram(ax, counts):
    """Bars of how many samples the evaluator reads as each digit, with the 1% coverage line."""
    counts = np.asarray(counts)
    ax.bar(range(len(counts)), counts, color="tab:blue")
    ax.axhline(0.01 * counts.sum(), color="tab:red", linewidth=1, label="1% of samples")
    ax.set_xticks(range(len(counts)))
    ax.set_xlabel("digit (evaluator's reading)")
    ax.set_title(f"classes of {counts.sum()} samples", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def tile(images, rows, cols, pad=2):
    """Images (N×H×W or N×H×W×3) laid out row by row on a white background."""
    n, h, w = images.shape[:3]
    mosaic = np.ones((rows * (h + pad), cols * (w + pad)) + images.shape[3:])
    for i in range(n):
        r, c = divmod(i, cols)
        mosaic[r * (h + pad) + pad // 2:r * (h + pad) + pad // 2 + h,
               c * (w + pad) + pad // 2:c * (w + pad) + pad // 2 + w] = images[i]
    return mosaic


def confusion(path, matrix, accuracy, title):
    """The classifier's confusion matrix on the test set (rows: true digit, columns: guess)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=6,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{title}: test accuracy {accuracy:.1%}")
    _save(fig, path)
