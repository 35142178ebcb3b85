"""Every network of the book, written once against an engine handle.

``engine.nn`` is ``minigrad.nn`` or ``torch.nn``; the same function builds either
version, so "the minigrad model" and "the PyTorch model" cannot drift apart.  Layer
sizes, activations, losses, optimisers and learning rates are the book's.
"""
from .engines import Engine


class Trainable:
    """A network with its loss function and optimiser, trained one example at a time
    as the book does (the book calls the method ``train``; that name belongs to
    ``nn.Module.train(mode)``, so here it is ``train_step``)."""

    def __init__(self, engine: Engine, model, loss_function, make_optimiser):
        self.model = engine.place(model)
        self.loss_function = loss_function
        self.optimiser = make_optimiser(self.model.parameters())

    def __call__(self, *inputs):
        return self.model(*inputs)

    def train_step(self, inputs, targets):
        """forward, loss, zero_grad, backward, step; returns (loss, outputs)."""
        outputs = self.model(*inputs)
        loss = self.loss_function(outputs, targets)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss, outputs

    def train_generator_step(self, discriminator, inputs, targets):
        """The book's ``Generator.train(D, inputs, targets)``: G's output goes through D
        and D's loss is minimised with respect to G's parameters only."""
        g_output = self.model(*inputs)
        d_output = discriminator.model(g_output, *inputs[1:])  # a cGAN passes the label on
        loss = discriminator.loss_function(d_output, targets)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss, d_output


# --- chapter 2 and 3: the MNIST classifier ---------------------------------------------

def mnist_classifier(e: Engine, leaky_relu=False, layer_norm=False, bce=False, adam=False):
    """Ch. 2: 784-200-10 with Sigmoid, MSE and SGD (lr 0.01).  Ch. 3 switches on each
    refinement: LeakyReLU(0.02), LayerNorm(200), BCE loss, Adam (default lr 0.001)."""
    nn = e.nn
    layers = [nn.Linear(784, 200), nn.LeakyReLU(0.02) if leaky_relu else nn.Sigmoid()]
    if layer_norm:
        layers.append(nn.LayerNorm(200))
    layers += [nn.Linear(200, 10), nn.Sigmoid()]
    loss = nn.BCELoss() if bce else nn.MSELoss()
    optimiser = (lambda p: e.optim.Adam(p)) if adam else (lambda p: e.optim.SGD(p, lr=0.01))
    return Trainable(e, nn.Sequential(*layers), loss, optimiser)


# --- chapter 6: the 1010 pattern --------------------------------------------------------

def pattern_discriminator(e: Engine):
    nn = e.nn
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    return Trainable(e, model, nn.MSELoss(), lambda p: e.optim.SGD(p, lr=0.01))


def pattern_generator(e: Engine):
    nn = e.nn
    model = nn.Sequential(nn.Linear(1, 3), nn.Sigmoid(), nn.Linear(3, 4), nn.Sigmoid())
    return Trainable(e, model, None, lambda p: e.optim.SGD(p, lr=0.01))


# --- chapter 7: MNIST GANs --------------------------------------------------------------

def mnist_discriminator_first(e: Engine):
    """The first attempt: Sigmoid, MSE, SGD."""
    nn = e.nn
    model = nn.Sequential(nn.Linear(784, 200), nn.Sigmoid(), nn.Linear(200, 1), nn.Sigmoid())
    return Trainable(e, model, nn.MSELoss(), lambda p: e.optim.SGD(p, lr=0.01))


def mnist_generator_first(e: Engine):
    """The first attempt: one random number in, Sigmoid, SGD."""
    nn = e.nn
    model = nn.Sequential(nn.Linear(1, 200), nn.Sigmoid(), nn.Linear(200, 784), nn.Sigmoid())
    return Trainable(e, model, None, lambda p: e.optim.SGD(p, lr=0.01))


def mnist_discriminator(e: Engine, labels=0):
    """The improved discriminator: LeakyReLU, LayerNorm, BCE, Adam 1e-4 (``labels=10``: ch. 10)."""
    nn = e.nn
    model = nn.Sequential(nn.Linear(784 + labels, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                          nn.Linear(200, 1), nn.Sigmoid())
    if labels:
        model = e.Conditional(model)
    return Trainable(e, model, nn.BCELoss(), lambda p: e.optim.Adam(p, lr=0.0001))


def mnist_generator(e: Engine, labels=0):
    """The improved generator: a 100-number normal seed, LeakyReLU, LayerNorm, Adam 1e-4."""
    nn = e.nn
    model = nn.Sequential(nn.Linear(100 + labels, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                          nn.Linear(200, 784), nn.Sigmoid())
    if labels:
        model = e.Conditional(model)
    return Trainable(e, model, None, lambda p: e.optim.Adam(p, lr=0.0001))


# --- chapter 8: CelebA, fully connected ---------------------------------------------------

CELEBA_PIXELS = 218 * 178 * 3


def celeba_discriminator(e: Engine):
    """Here the book keeps LeakyReLU's default slope, 0.01 (chapter 7 uses 0.02)."""
    nn = e.nn
    model = nn.Sequential(e.View(CELEBA_PIXELS), nn.Linear(CELEBA_PIXELS, 100), nn.LeakyReLU(),
                          nn.LayerNorm(100), nn.Linear(100, 1), nn.Sigmoid())
    return Trainable(e, model, nn.BCELoss(), lambda p: e.optim.Adam(p, lr=0.0001))


def celeba_generator(e: Engine):
    nn = e.nn
    model = nn.Sequential(nn.Linear(100, 300), nn.LeakyReLU(), nn.LayerNorm(300),
                          nn.Linear(300, CELEBA_PIXELS), nn.Sigmoid(), e.View(218, 178, 3))
    return Trainable(e, model, None, lambda p: e.optim.Adam(p, lr=0.0001))


# --- chapter 9: convolutions --------------------------------------------------------------

def mnist_cnn_classifier(e: Engine):
    """28×28 → Conv(k5, s2) → 12×12 → Conv(k3, s2) → 5×5, so 10 channels × 25 = View(250)."""
    nn = e.nn
    model = nn.Sequential(
        nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.LeakyReLU(0.02), nn.BatchNorm2d(10),
        nn.Conv2d(10, 10, kernel_size=3, stride=2), nn.LeakyReLU(0.02), nn.BatchNorm2d(10),
        e.View(250), nn.Linear(250, 10), nn.Sigmoid())
    return Trainable(e, model, nn.BCELoss(), lambda p: e.optim.Adam(p))


def celeba_cnn_discriminator(e: Engine, gelu=False):
    """128×128 → 61×61 → 27×27 → 10×10 with kernel-8 stride-2 convolutions."""
    nn = e.nn
    act = nn.GELU if gelu else (lambda: nn.LeakyReLU(0.2))
    model = nn.Sequential(
        nn.Conv2d(3, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), act(),
        nn.Conv2d(256, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), act(),
        nn.Conv2d(256, 3, kernel_size=8, stride=2), act(),
        e.View(3 * 10 * 10), nn.Linear(3 * 10 * 10, 1), nn.Sigmoid())
    return Trainable(e, model, nn.BCELoss(), lambda p: e.optim.Adam(p, lr=0.0001))


def celeba_cnn_generator(e: Engine, gelu=False):
    """11×11 → 28×28 → 62×62 → 128×128 with kernel-8 stride-2 transposed convolutions."""
    nn = e.nn
    act = nn.GELU if gelu else (lambda: nn.LeakyReLU(0.2))
    model = nn.Sequential(
        nn.Linear(100, 3 * 11 * 11), act(), e.View(1, 3, 11, 11),
        nn.ConvTranspose2d(3, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), act(),
        nn.ConvTranspose2d(256, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), act(),
        nn.ConvTranspose2d(256, 3, kernel_size=8, stride=2, padding=1), nn.BatchNorm2d(3),
        nn.Sigmoid())
    return Trainable(e, model, None, lambda p: e.optim.Adam(p, lr=0.0001))
