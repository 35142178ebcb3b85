"""``gans graph NAME``: the computation graph of one training step of a book model.

The graph goes from the loss back to every parameter: for a classifier, the loss of one
example; for a GAN, the generator's step by default (the loss of D(G(z)) against 1, which
runs through both networks; only G's optimiser uses it), or the discriminator's step on
a real example with ``part='D'``.  The inputs are random arrays of the right shapes: a
graph's structure does not depend on the data, so no data set is loaded.
"""
import numpy as np

import minigrad

from . import experiments
from .training import build


def training_step(name, part="G", seed=0):
    """The loss tensor of one training step of experiment ``name`` on minigrad, and the
    names for the graph: parameters as ``D.0.weight``, inputs as ``image``, ``target``, …"""
    experiment, e, m = build(name, "minigrad", seed=seed)
    rng = np.random.default_rng(seed)
    names = {}

    def tensor(array, name):
        t = e.tensor(array)
        names[name] = t
        return t

    for part_name, module in m.modules().items():
        names.update({f"{part_name}.{n}": p for n, p in module.named_parameters()})
    label = (tensor(experiments.one_hot(rng.integers(10)), "label"),) if experiment.labels else ()
    if not experiment.is_gan:
        image = tensor(rng.random(experiment.image_shape), "image")
        loss = m.classifier.loss_function(m.classifier.model(image), tensor(experiments.one_hot(3), "target"))
    elif part == "D":
        image = tensor(rng.random(experiment.image_shape), "image")
        loss = m.D.loss_function(m.D.model(image, *label), tensor(np.array([1.0]), "target"))
    elif part == "G":
        fake = m.G.model(tensor(experiment.seed(rng), "seed"), *label)
        names["G(z)"] = fake
        loss = m.D.loss_function(m.D.model(fake, *label), tensor(np.array([1.0]), "target"))
    else:
        raise ValueError(f"part must be 'D' or 'G', not {part!r}")
    names["loss"] = loss
    return loss, names


def draw_training_step(name, out, part="G", values=False, seed=0, renderer=None):
    """Draw one training step's graph of experiment ``name`` into ``out`` (.svg, .png, .pdf, .dot)."""
    loss, names = training_step(name, part, seed)
    return minigrad.viz.draw(loss, out, values=values, params=names, renderer=renderer)
