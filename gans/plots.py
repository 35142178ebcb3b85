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


# The columns of losses.csv drawn together: one quantity per chart, as the book draws them.
# (columns, y label, title); a column in none of them gets a chart of its own.
LOSS_CHARTS = (
    (("d_real", "d_fake"), "D's loss", "the discriminator's loss: on real images, on G's images"),
    (("g",), "G's loss", "the generator's loss: D's verdict on G's images against the target 'real'"),
    (("D(x)", "D(G(z))"), "D's output (1: real)", "what the discriminator says"),
    (("loss",), "loss", "the classifier's loss"),
)
SERIES_LABELS = {"d_real": "d_real: on real images", "d_fake": "d_fake: on G's images", "g": "g: G's loss",
                 "D(x)": "D(x): on real images", "D(G(z))": "D(G(z)): on G's images", "loss": "loss"}
SMOOTHING_WINDOWS = 25  # the smoothed line averages over this fraction (1/25) of the run
LOG_SCALE_SPREAD = 10  # a loss whose 99th percentile is this many times its median is drawn on a log axis


def read_losses(csv_path):
    """``(steps, {column: values})`` from a losses.csv, as NumPy arrays (empty before the first row)."""
    with open(csv_path) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = [c for c in reader.fieldnames or [] if c != "step"]
    steps = np.array([int(r["step"]) for r in rows], dtype=np.int64)
    return steps, {c: np.array([float(r[c]) for r in rows]) for c in columns}


def moving_average(values, window):
    """The mean of each ``window`` consecutive values: ``len(values) - window + 1`` of them
    (``window`` is cut to ``len(values)``)."""
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(window, len(values)))
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def loss_scale(values):
    """'log' for positive losses whose rare spikes dwarf the typical value (a discriminator
    that is usually sure has BCE losses near 0.01 and spikes to 5: on a linear axis the
    typical losses are a line at zero); 'linear' otherwise."""
    values = np.asarray(values)
    if len(values) == 0 or values.min() <= 0:
        return "linear"
    return "log" if np.percentile(values, 99) > LOG_SCALE_SPREAD * np.median(values) else "linear"


def loss_figure(csv_path, title, engine):
    """The losses of a run, one quantity per chart: for a GAN, D's losses, G's loss and D's
    outputs D(x), D(G(z)) on three charts with a shared step axis; for a classifier, its loss.
    Each logged value is a faint dot (the book's ``df.plot(alpha=0.1, marker='.')``) under a
    moving average over a 25th of the run.  Loss axes scale to the data (logarithmic where
    :func:`loss_scale` says so, the line then a geometric mean); D's outputs are probabilities
    and keep the axis 0..1."""
    steps, series = read_losses(csv_path)
    charts = [(tuple(c for c in columns if c in series), label, what) for columns, label, what in LOSS_CHARTS]
    charts = [chart for chart in charts if chart[0]]
    charted = {c for columns, _, _ in charts for c in columns}
    charts += [((c,), c, c) for c in series if c not in charted]
    fig, axes = plt.subplots(len(charts), 1, figsize=(10, 1.2 + 2.8 * len(charts)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    window = max(1, len(steps) // SMOOTHING_WINDOWS)
    colours = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for ax, (columns, label, what) in zip(axes, charts):
        log = columns[0] != "D(x)" and loss_scale(np.concatenate([series[c] for c in columns])) == "log"
        for column in columns:
            colour = next(colours)
            ax.plot(steps, series[column], ".", color=colour, alpha=0.15, markersize=3)
            if len(steps):
                # on a log axis the line averages what the eye sees, the logarithms (a geometric mean)
                line = (np.exp(moving_average(np.log(series[column]), window)) if log
                        else moving_average(series[column], window))
                ax.plot(moving_average(steps, window), line, "-", color=colour, linewidth=1.8,
                        label=SERIES_LABELS.get(column, column))
        if columns[0] == "D(x)":
            ax.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="0.5: D cannot tell")
            ax.set_ylim(-0.03, 1.03)
        if log:
            ax.set_yscale("log")
            label += " (log scale)"
            what += " (lines: geometric means)" if window > 1 else ""
        ax.set_ylabel(label)
        ax.set_title(what, fontsize=10, loc="left")
        ax.grid(True, alpha=0.4)
        if len(steps):
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no losses logged yet", transform=ax.transAxes, ha="center", va="center")
    every = int(steps[1] - steps[0]) if len(steps) > 1 else 1
    axes[-1].set_xlabel(f"training step (dots: each logged step; lines: mean of {window * every} steps)"
                        if window > 1 else "training step (each logged step)")
    fig.suptitle(f"{title} [{engine}]: losses during training")
    fig.tight_layout()
    return fig


def losses(path, csv_path, title, engine):
    """Draw :func:`loss_figure` of ``csv_path`` to ``path`` (PNG)."""
    _save(loss_figure(csv_path, title, engine), path)


def samples(path, experiment, images, labels=None, title=None, rows=None, histogram=None, cols=None):
    """Generated images tiled into one picture: 3×4 for GANs, one row per class for the
    conditional GAN (or ``rows`` by ``cols``), bars for the 1010 pattern.  ``histogram`` (10
    counts: how many of N samples the evaluator reads as each digit) adds a bar chart beside the grid."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0, 1)
    if experiment.data == "pattern":
        return pattern_bars(path, images, title or f"{experiment.name}: G(0.5)")
    n = len(images)
    rows = rows or (10 if labels is not None else (1 if n == 1 else 3))
    cols = cols or int(np.ceil(n / rows))
    mosaic = tile(images, rows, cols)
    h = images.shape[1] + 2
    size = (max(cols * 1.4, 3), max(rows * 1.4 * mosaic.shape[0] / rows / h, 1))
    if histogram is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig, (ax, bars) = plt.subplots(1, 2, figsize=(size[0] + 3.5, max(size[1], 3)),
                                       gridspec_kw={"width_ratios": [size[0], 3.5]})
        class_histogram(bars, histogram)
        bars.set_box_aspect(0.8)  # a chart, not a column as tall as ten rows of digits
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
    ax.set_ylim(0, 1.2 * max(counts.max(), 1))  # room for the legend above the bars
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
