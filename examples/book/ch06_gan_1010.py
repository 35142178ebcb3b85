"""Chapter 6, simple GANs: a generator learns the 1010 pattern, written as the book writes it, on minigrad.

Discriminator 4 → 3 Sigmoid → 1 Sigmoid and generator 1 → 3 Sigmoid → 4 Sigmoid, MSE loss,
SGD with learning rate 0.01.  When the generator has learned the pattern the discriminator
can no longer tell real from fake: it answers 0.5 to both, and its MSE loss settles at
0.25.  The book trains for 10 000 iterations.

Only the imports differ from the book's code (``import minigrad as torch`` and
``import minigrad.nn as nn``).

    python examples/book/ch06_gan_1010.py [--quick] [--out runs/book/ch06]
"""
import argparse
import random
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # pictures go to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
from gans.options import add_threads_argument  # noqa: E402
from gans.threads import use_threads  # noqa: E402


def generate_real():
    real_data = torch.FloatTensor(
        [random.uniform(0.8, 1.0),
         random.uniform(0.0, 0.2),
         random.uniform(0.8, 1.0),
         random.uniform(0.0, 0.2)])
    return real_data


def generate_random(size):
    random_data = torch.rand(size)
    return random_data


def plot_progress(progress, path, ylim=(0, 1.0)):
    # the book: pandas.DataFrame(self.progress).plot(ylim=(0, 1.0), figsize=(16,8), alpha=0.1, marker='.', ...)
    plt.figure(figsize=(16, 8))
    plt.plot(progress, '.', alpha=0.1)
    plt.ylim(*ylim)
    plt.yticks((0, 0.25, 0.5))
    plt.grid(True)
    plt.savefig(path)
    plt.close()


class Discriminator(nn.Module):

    def __init__(self):
        # initialise parent pytorch class
        super().__init__()

        # define neural network layers
        self.model = nn.Sequential(
            nn.Linear(4, 3),
            nn.Sigmoid(),
            nn.Linear(3, 1),
            nn.Sigmoid()
        )

        # create loss function
        self.loss_function = nn.MSELoss()

        # create optimiser, using stochastic gradient descent
        self.optimiser = torch.optim.SGD(self.parameters(), lr=0.01)

        # counter and accumulator for progress
        self.counter = 0
        self.progress = []

    def forward(self, inputs):
        # simply run model
        return self.model(inputs)

    def train(self, inputs, targets):
        # calculate the output of the network
        outputs = self.forward(inputs)

        # calculate loss
        loss = self.loss_function(outputs, targets)

        # increase counter and accumulate error every 10
        self.counter += 1
        if (self.counter % 10 == 0):
            self.progress.append(loss.item())
        if (self.counter % 10000 == 0):
            print("counter = ", self.counter)

        # zero gradients, perform a backward pass, update weights
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()

    def plot_progress(self, path):
        plot_progress(self.progress, path)


class Generator(nn.Module):

    def __init__(self):
        # initialise parent pytorch class
        super().__init__()

        # define neural network layers
        self.model = nn.Sequential(
            nn.Linear(1, 3),
            nn.Sigmoid(),
            nn.Linear(3, 4),
            nn.Sigmoid()
        )

        # create optimiser, using stochastic gradient descent
        self.optimiser = torch.optim.SGD(self.parameters(), lr=0.01)

        # counter and accumulator for progress
        self.counter = 0
        self.progress = []

    def forward(self, inputs):
        # simply run model
        return self.model(inputs)

    def train(self, D, inputs, targets):
        # calculate the output of the network
        g_output = self.forward(inputs)

        # pass onto Discriminator
        d_output = D.forward(g_output)

        # calculate error
        loss = D.loss_function(d_output, targets)

        # increase counter and accumulate error every 10
        self.counter += 1
        if (self.counter % 10 == 0):
            self.progress.append(loss.item())

        # zero gradients, perform a backward pass, update weights
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()

    def plot_progress(self, path):
        plot_progress(self.progress, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 000 iterations instead of 10 000")
    parser.add_argument("--out", default="runs/book/ch06")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(0)
    torch.manual_seed(0)

    # a discriminator trained on real data and random noise first (the book's check)
    D = Discriminator()
    for i in range(1000 if args.quick else 10000):
        D.train(generate_real(), torch.FloatTensor([1.0]))
        D.train(generate_random(4), torch.FloatTensor([0.0]))
    print("D(real) =", D.forward(generate_real()).item(), " D(random) =", D.forward(generate_random(4)).item())

    # create Discriminator and Generator
    D = Discriminator()
    G = Generator()

    image_list = []

    # train Discriminator and Generator
    for i in range(8000 if args.quick else 10000):

        # train discriminator on true
        D.train(generate_real(), torch.FloatTensor([1.0]))

        # train discriminator on false
        # use detach() so gradients in G are not calculated
        D.train(G.forward(torch.FloatTensor([0.5])).detach(), torch.FloatTensor([0.0]))

        # train generator
        G.train(D, torch.FloatTensor([0.5]), torch.FloatTensor([1.0]))

        # add image to list every 1000
        if (i % 1000 == 0):
            image_list.append(G.forward(torch.FloatTensor([0.5])).detach().numpy())

    D.plot_progress(out / "discriminator_progress.png")
    G.plot_progress(out / "generator_progress.png")

    # the generator's output as it trained, one column per 1000 iterations
    plt.figure(figsize=(16, 8))
    plt.imshow(numpy.array(image_list).T, interpolation='none', cmap='Blues')
    plt.savefig(out / "pattern_evolution.png")
    plt.close()

    pattern = G.forward(torch.FloatTensor([0.5])).detach().numpy()
    print("G(0.5) =", pattern)
    return {"d_progress": D.progress, "g_progress": G.progress, "pattern": pattern.tolist()}


if __name__ == "__main__":
    main()
