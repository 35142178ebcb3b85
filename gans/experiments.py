"""The book's experiments: which models, which data, and one training step each.

An experiment draws every random number its training needs (noise seeds, random
labels, the 1010 pattern's jitter) from one NumPy generator as plain arrays, one step
at a time (``Experiment.stream``).  The engine only turns those arrays into tensors.
So minigrad and PyTorch, given the same seed, see exactly the same data stream, and
a run resumed from a checkpoint continues the stream where it stopped.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import models
from .engines import Engine

SUBSET_GAN_EPOCHS = 12  # MNIST GANs on the embedded subset: 60 000 steps, minutes on two CPU cores


@dataclass
class Models:
    """The trainable parts of an experiment: ``classifier`` or ``D`` and ``G``."""
    parts: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["parts"][name]
        except KeyError:
            raise AttributeError(name) from None

    def modules(self):
        return {name: part.model for name, part in self.parts.items()}

    def optimisers(self):
        return {name: part.optimiser for name, part in self.parts.items()}


@dataclass(frozen=True)
class Experiment:
    """One experiment of the book.

    ``kind`` is 'classifier' or 'gan'; ``data`` is 'mnist', 'pattern', 'celeba' (218×178
    images) or 'celeba-crop' (128×128 centre crops); ``build(engine, options)`` returns
    the :class:`Models`; ``epochs`` is the default (for the pattern GAN: steps/1000).
    """
    name: str
    chapter: str
    summary: str
    kind: str
    data: str
    build: Callable
    epochs: int
    book: str
    seed_size: int = 0          # length of G's input
    seed_kind: str = "normal"   # 'normal' (randn), 'uniform' (rand) or 'half' (the constant 0.5)
    labels: int = 0             # 10 for the conditional GAN
    image_shape: tuple = (784,)  # what one example looks like as a model input

    @property
    def is_gan(self):
        return self.kind == "gan"

    # --- the data stream ---------------------------------------------------------------
    def seed(self, rng):
        """One generator input, as the book makes it."""
        if self.seed_kind == "half":
            return np.array([0.5])
        if self.seed_kind == "uniform":
            return rng.random(self.seed_size)
        return rng.standard_normal(self.seed_size)

    def example(self, images, labels, index):
        """Image ``index`` as the model's input (values in [0, 1]) and its label."""
        image = images[index].astype(np.float64) / 255.0
        if self.data == "celeba-crop":
            image = image.transpose(2, 0, 1)  # the book's permute(2, 0, 1)
        return image.reshape(self.image_shape), int(labels[index]) if labels is not None else -1

    def stream(self, dataset, rng, start_step=0, steps=None):
        """Yield ``(step, batch)`` for one training step at a time, from ``start_step``.

        A batch is a dict of NumPy arrays; the order of random draws is fixed, so the
        stream is a pure function of the seed and the dataset.
        """
        n = dataset.size
        step = start_step
        while steps is None or step < steps:
            index = step % n
            batch = {}
            if self.data == "pattern":
                batch["real"] = np.array([rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.2),
                                          rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.2)])
            else:
                image, label = self.example(dataset.images, dataset.labels, index)
                batch["real"] = image
                if self.kind == "classifier" or self.labels:
                    batch["label"] = one_hot(label)
            if self.is_gan:
                batch["seed_d"] = self.seed(rng)
                if self.labels:
                    batch["label_d"] = one_hot(rng.integers(10))
                batch["seed_g"] = self.seed(rng)
                if self.labels:
                    batch["label_g"] = one_hot(rng.integers(10))
            yield step, batch
            step += 1

    # --- one training step ---------------------------------------------------------------
    def tensors(self, e: Engine, batch):
        """A batch of NumPy arrays as the engine's tensors (kept apart from ``step`` so that
        benchmarks can prepare data in advance and time training alone)."""
        return {k: e.tensor(v) for k, v in batch.items()}

    def step(self, m: Models, e: Engine, t, constants):
        """One training iteration as the book does it on a batch of tensors (see ``tensors``);
        returns the loss tensors and D's outputs.

        Classifier: forward, loss, zero_grad, backward, step.  GAN: D on a real example
        (target 1), D on a detached fake (target 0), then G through D (target 1).
        """
        if not self.is_gan:
            loss, _ = m.classifier.train_step((t["real"],), t["label"])
            return {"loss": loss}
        one, zero = constants["one"], constants["zero"]
        real_inputs = (t["real"], t["label"]) if self.labels else (t["real"],)
        d_real_loss, d_real = m.D.train_step(real_inputs, one)
        g_inputs = (t["seed_d"], t["label_d"]) if self.labels else (t["seed_d"],)
        fake = m.G(*g_inputs).detach()
        d_fake_loss, d_fake = m.D.train_step((fake,) + g_inputs[1:], zero)
        g_inputs = (t["seed_g"], t["label_g"]) if self.labels else (t["seed_g"],)
        g_loss, d_of_g = m.G.train_generator_step(m.D, g_inputs, one)
        return {"d_real": d_real_loss, "d_fake": d_fake_loss, "g": g_loss,
                "D(x)": d_real, "D(G(z))": d_of_g}

    def constants(self, e: Engine):
        """Targets made once: ``[1.0]`` and ``[0.0]``."""
        return {"one": e.tensor(np.array([1.0])), "zero": e.tensor(np.array([0.0]))}

    def generate(self, m: Models, e: Engine, seeds, labels=None):
        """G's images for the given seeds (and one-hot labels), as NumPy arrays shaped for display."""
        outputs = []
        with e.no_grad():
            for i, s in enumerate(seeds):
                inputs = (e.tensor(s),) + ((e.tensor(labels[i]),) if self.labels else ())
                outputs.append(e.numpy(m.G(*inputs)))
        return np.stack([display_image(self, o) for o in outputs])


def one_hot(label, n=10):
    v = np.zeros(n)
    v[label] = 1.0
    return v


def display_image(experiment, output):
    """A model output as an image: H×W for MNIST, H×W×3 for CelebA, 1×4 for the pattern."""
    if experiment.data == "pattern":
        return output.reshape(1, 4)
    if experiment.data == "celeba":
        return output.reshape(218, 178, 3)
    if experiment.data == "celeba-crop":
        return output.reshape(3, 128, 128).transpose(1, 2, 0)
    return output.reshape(28, 28)


def _classifier(**refinements):
    return lambda e, options: Models({"classifier": models.mnist_classifier(e, **{**refinements, **options})})


def _gan(discriminator, generator, **kwargs):
    return lambda e, options: Models({"D": discriminator(e, **kwargs), "G": generator(e, **kwargs)})


EXPERIMENTS = {x.name: x for x in [
    Experiment("classifier", "2", "MNIST classifier 784-200-10: Sigmoid, MSE loss, SGD lr 0.01",
               "classifier", "mnist", _classifier(), 4, "book: 88% test accuracy after 4 epochs"),
    Experiment("classifier-refined", "3",
               "the classifier refined: LeakyReLU(0.02), LayerNorm(200), BCE loss, Adam",
               "classifier", "mnist", _classifier(leaky_relu=True, layer_norm=True, bce=True, adam=True), 3,
               "book: 97.2% test accuracy after 3 epochs"),
    Experiment("pattern-1010", "6", "GAN learning the 1010 pattern: 4-3-1 discriminator, 1-3-4 generator",
               "gan", "pattern", _gan(models.pattern_discriminator, models.pattern_generator), 10,
               "book: D's MSE loss settles at the ideal 0.25; G outputs about 1 0 1 0",
               seed_size=1, seed_kind="half", image_shape=(4,)),
    Experiment("mnist-gan-first", "7", "first MNIST GAN: Sigmoid, MSE, SGD, one random input (mode collapse)",
               "gan", "mnist", _gan(models.mnist_discriminator_first, models.mnist_generator_first), 1,
               "book: every generated image looks the same (mode collapse)", seed_size=1, seed_kind="uniform"),
    Experiment("mnist-gan", "7", "improved MNIST GAN: LeakyReLU, LayerNorm, BCE, Adam 1e-4, 100-dim normal seed",
               "gan", "mnist", _gan(models.mnist_discriminator, models.mnist_generator), 4,
               "book: varied, recognisable digits after 4 epochs", seed_size=100),
    Experiment("mnist-cnn", "9", "convolutional MNIST classifier: Conv k5 s2, Conv k3 s2, BatchNorm, View(250)",
               "classifier", "mnist", lambda e, options: Models({"classifier": models.mnist_cnn_classifier(e)}), 3,
               "book: 98.1% test accuracy", image_shape=(1, 1, 28, 28)),
    Experiment("celeba-gan", "8", "fully connected CelebA GAN on 218×178×3 images (116412-100-1, 100-300-116412)",
               "gan", "celeba", _gan(models.celeba_discriminator, models.celeba_generator), 1,
               "book: blurry but face-like images after 1 epoch", seed_size=100, image_shape=(218, 178, 3)),
    Experiment("celeba-cnn-gan", "9", "convolutional CelebA GAN on 128×128 crops (kernel-8 stride-2, BatchNorm)",
               "gan", "celeba-crop", _gan(models.celeba_cnn_discriminator, models.celeba_cnn_generator), 1,
               "book: sharper faces than the MLP GAN", seed_size=100, image_shape=(1, 3, 128, 128)),
    Experiment("celeba-cnn-gan-gelu", "9", "the convolutional CelebA GAN with GELU activations",
               "gan", "celeba-crop", _gan(models.celeba_cnn_discriminator, models.celeba_cnn_generator, gelu=True), 1,
               "book: smoother, better-balanced faces", seed_size=100, image_shape=(1, 3, 128, 128)),
    Experiment("mnist-cgan", "10", "conditional GAN: one-hot label concatenated to the image and the seed",
               "gan", "mnist", _gan(models.mnist_discriminator, models.mnist_generator, labels=10), 12,
               "book: G draws the digit it is asked for", seed_size=100, labels=10),
]}


def get(name):
    """The experiment called ``name``, or a clear error listing the known ones."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
