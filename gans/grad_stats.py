"""Per-layer gradient and weight norms during training: ``grad_stats.csv`` and ``grad_stats.png``.

``gans train NAME --grad-stats K`` records, every K steps and for every layer of every
network (a layer is a module prefix: ``0``, ``3``, ``model.0``), the norm of the
gradient its optimiser used and the norm of its weights:

    step,part,layer,grad_norm,weight_norm
    10,classifier,0 (Linear),0.0123,20.1

The gradient is read right after each optimiser step, where ``.grad`` holds exactly
what that step used (``train_step`` zeroes the gradients before each backward).  That
matters for a GAN: the generator's backward also runs through D and adds to D's
``.grad``, so reading D's gradients at the end of the whole step would mix in G's step.
D takes two steps per iteration, on a real then a fake example; the row is D's step on
the fake one, the last D update of the iteration.

This is how a learner sees why chapter 3's refinements help: with Sigmoid and MSE the
first layer's gradient is orders of magnitude smaller than with LeakyReLU, LayerNorm and
BCE.
"""
import csv
import math
from pathlib import Path

import numpy as np

from .csvlog import CsvLog

COLUMNS = ["step", "part", "layer", "grad_norm", "weight_norm"]


class GradStats:
    """Watches the optimisers of an experiment's :class:`~gans.experiments.Models`.

    Call :meth:`begin` before a training step and :meth:`end` after it; on every
    ``every``-th step the norms are written to ``grad_stats.csv`` in ``folder``.
    :meth:`close` draws ``grad_stats.png``.  ``keep_until`` keeps the rows of a resumed
    run up to its checkpoint.
    """

    def __init__(self, folder, models, engine, every, keep_until=0, title=""):
        if every < 1:
            raise ValueError(f"grad stats are recorded every K >= 1 steps, not every {every}")
        self.folder, self.every, self.engine, self.title = Path(folder), every, engine, title
        self.recording = False
        self.latest = {}  # part -> [(layer, grad_norm, weight_norm)] from its last optimiser step
        self.layers = {part: layers_of(trainable.model) for part, trainable in models.parts.items()}
        for part, trainable in models.parts.items():
            self._watch(part, trainable)
        self.csv_path = self.folder / "grad_stats.csv"
        self.log = CsvLog(self.csv_path, COLUMNS, keep_until)

    def _watch(self, part, trainable):
        """Read the norms right after each of this part's optimiser steps (see the module doc)."""
        optimiser_step = trainable.optimiser.step

        def step_and_record(*args, **kwargs):
            result = optimiser_step(*args, **kwargs)
            if self.recording:
                self.latest[part] = self.norms(part)
            return result

        trainable.optimiser.step = step_and_record

    def norms(self, part):
        """``[(layer, ‖grad‖, ‖weights‖)]`` for each layer of ``part``, grouped by module prefix."""
        result = []
        for layer, params in self.layers[part]:
            grads = [p.grad for p in params if p.grad is not None]
            grad_norm = math.sqrt(sum(_squared_norm(self.engine.numpy(g)) for g in grads)) if grads else float("nan")
            weight_norm = math.sqrt(sum(_squared_norm(self.engine.numpy(p)) for p in params))
            result.append((layer, grad_norm, weight_norm))
        return result

    def begin(self, step):
        """Before training step ``step`` (counted from 1): record it if it is due."""
        self.recording = step % self.every == 0
        self.latest = {}

    def end(self, step):
        if not self.recording:
            return
        for part, rows in self.latest.items():
            for layer, grad_norm, weight_norm in rows:
                self.log.append({"step": step, "part": part, "layer": layer,
                                "grad_norm": f"{grad_norm:.6g}", "weight_norm": f"{weight_norm:.6g}"})
        self.log.flush()
        self.recording = False

    def close(self):
        self.log.close()
        plot(self.folder / "grad_stats.png", {"": self.csv_path}, self.title)


def layers_of(model):
    """``[(layer name, [parameters])]``: parameters grouped by the module that owns them,
    named by its prefix and type, e.g. ``'0 (Linear)'``, in the model's order."""
    modules = dict(model.named_modules())
    layers = {}
    for name, p in model.named_parameters():
        prefix = name.rpartition(".")[0]
        kind = type(modules.get(prefix, model)).__name__
        layers.setdefault(f"{prefix or '(top)'} ({kind})", []).append(p)
    return list(layers.items())


def _squared_norm(array):
    # squares in the array's precision, summed in float64: no float64 copy of the array (much
    # faster than converting first on the CelebA GAN's 35-million-weight layer), same digits
    return float(np.sum(np.square(np.asarray(array)), dtype=np.float64))


def read(csv_path):
    """``{(part, layer): (steps, grad_norms, weight_norms)}`` from a ``grad_stats.csv``."""
    series = {}
    with open(csv_path) as f:
        for r in csv.DictReader(f):
            steps, grads, weights = series.setdefault((r["part"], r["layer"]), ([], [], []))
            steps.append(int(r["step"]))
            grads.append(float(r["grad_norm"]))
            weights.append(float(r["weight_norm"]))
    return {key: tuple(np.array(v) for v in values) for key, values in series.items()}


def plot(path, runs, title=""):
    """Draw grad_stats: one column per network part, gradient norms (log scale) on top,
    weight norms below, one line per layer.  ``runs`` maps a label to a grad_stats.csv;
    several runs share the axes (a colour per run, a line style per layer) to compare them, e.g.
    ``{'ch. 2': 'runs/a/grad_stats.csv', 'ch. 3': 'runs/b/grad_stats.csv'}``."""
    from . import plots
    plt = plots.plt
    data = {label: read(p) for label, p in runs.items()}
    parts = list(dict.fromkeys(part for series in data.values() for part, _ in series))
    fig, axes = plt.subplots(2, max(len(parts), 1), figsize=(max(5.5 * len(parts), 8), 6.5), squeeze=False,
                             sharex="col")
    styles = ["-", "--", ":", "-."]
    for column, part in enumerate(parts):
        top, bottom = axes[0][column], axes[1][column]
        for r, (label, series) in enumerate(data.items()):
            layers = [layer for p, layer in series if p == part]
            for i, layer in enumerate(layers):
                steps, grads, weights = series[(part, layer)]
                name = f"{label}: {layer}" if label else layer
                # one run: a colour per layer; several: a colour per run, a line style per layer
                colour, style = (f"C{i}", "-") if len(data) == 1 else (f"C{r}", styles[i % len(styles)])
                top.plot(steps, grads, style, color=colour, label=name, linewidth=1)
                bottom.plot(steps, weights, style, color=colour, label=name, linewidth=1)
        top.set_yscale("log")
        top.set_title(f"{part}: ‖gradient‖ per layer" if part else "‖gradient‖ per layer", fontsize=10)
        bottom.set_title(f"{part}: ‖weights‖ per layer" if part else "‖weights‖ per layer", fontsize=10)
        bottom.set_xlabel("training step")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plots._save(fig, path)
