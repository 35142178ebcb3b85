"""Chapter 7, handwritten digits: the improved MNIST GAN, written as the book writes it, on minigrad.

Discriminator 784 → 200 LeakyReLU → LayerNorm → 1 Sigmoid with BCE loss; generator
100 normal random numbers → 200 LeakyReLU → LayerNorm → 784 Sigmoid; Adam with learning
rate 0.0001 for both.  The book trains 4 epochs of 60 000 images and gets varied,
recognisable digits; it then walks from one seed to another in 12 steps and adds, subtracts
and multiplies seeds to see what the generator learned.

Only the imports differ from the book's code (``import minigrad as torch``,
``import minigrad.nn as nn``, ``from minigrad.utils.data import Dataset``); the digits
come from ``gans.data.load_mnist`` instead of pandas reading ``mnist_train.csv``.

    python examples/book/ch07_mnist_gan.py [--quick] [--csv mnist_train.csv] [--out runs/book/ch07]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # pictures go to files
import matplotlib.pyplot as plt  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
from minigrad.utils.data import Dataset  # noqa: E402

from gans.data import load_mnist  # noqa: E402
from gans.options import add_threads_argument  # noqa: E402
from gans.threads import use_threads  # noqa: E402


class MnistDataset(Dataset):

    def __init__(self, csv_file=None, limit=None):
        mnist = load_mnist("train", csv_file)
        self.source = mnist.source
        self.images = mnist.images[:limit]
        self.labels = mnist.labels[:limit]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        # image target (label)
        label = self.labels[index]
        target = torch.zeros((10))
        target[label] = 1.0

        # image data, normalised from 0-255 to 0-1
        image_values = torch.FloatTensor(self.images[index].reshape(784)) / 255.0

        # return label, image data tensor and target tensor
        return label, image_values, target


def generate_random_image(size):
    random_data = torch.rand(size)
    return random_data


def generate_random_seed(size):
    random_data = torch.randn(size)
    return random_data


def plot_progress(progress, path):
    # the book: pandas.DataFrame(self.progress).plot(ylim=(0), figsize=(16,8), alpha=0.1, marker='.', ...)
    plt.figure(figsize=(16, 8))
    plt.plot(progress, '.', alpha=0.1)
    plt.ylim(bottom=0)
    plt.yticks((0, 0.25, 0.5, 1.0, 5.0))
    plt.grid(True)
    plt.savefig(path)
    plt.close()


class Discriminator(nn.Module):

    def __init__(self):
        # initialise parent pytorch class
        super().__init__()

        # define neural network layers
        self.model = nn.Sequential(
            nn.Linear(784, 200),
            nn.LeakyReLU(0.02),

            nn.LayerNorm(200),

            nn.Linear(200, 1),
            nn.Sigmoid()
        )

        # create loss function
        self.loss_function = nn.BCELoss()

        # create optimiser, using the Adam optimiser
        self.optimiser = torch.optim.Adam(self.parameters(), lr=0.0001)

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
            nn.Linear(100, 200),
            nn.LeakyReLU(0.02),

            nn.LayerNorm(200),

            nn.Linear(200, 784),
            nn.Sigmoid()
        )

        # create optimiser, using the Adam optimiser
        self.optimiser = torch.optim.Adam(self.parameters(), lr=0.0001)

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


def plot_images(G, path):
    # plot several outputs from the trained generator
    f, axarr = plt.subplots(2, 3, figsize=(16, 8))
    for i in range(2):
        for j in range(3):
            output = G.forward(generate_random_seed(100))
            img = output.detach().numpy().reshape(28, 28)
            axarr[i, j].imshow(img, interpolation='none', cmap='Blues')
    plt.savefig(path)
    plt.close()


def plot_seed_experiments(G, interpolation_path, arithmetic_path):
    # the seed experiments: 12 images on the way from seed1 to seed2, then what the
    # generator makes of the seeds' sum, difference and product
    seed1 = generate_random_seed(100)
    seed2 = generate_random_seed(100)
    f, axarr = plt.subplots(3, 4, figsize=(16, 12))
    count = 0
    for i in range(3):
        for j in range(4):
            seed = seed1 + (seed2 - seed1) / 11 * count
            output = G.forward(seed)
            img = output.detach().numpy().reshape(28, 28)
            axarr[i, j].imshow(img, interpolation='none', cmap='Blues')
            count = count + 1
    plt.savefig(interpolation_path)
    plt.close()
    seeds = [seed1, seed2, seed1 + seed2, seed1 - seed2, seed1 * seed2]
    titles = ["seed1", "seed2", "seed1 + seed2", "seed1 - seed2", "seed1 * seed2"]
    f, axarr = plt.subplots(1, 5, figsize=(16, 4))
    for ax, seed, title in zip(axarr, seeds, titles):
        ax.imshow(G.forward(seed).detach().numpy().reshape(28, 28), interpolation='none', cmap='Blues')
        ax.set_title(title)
    plt.savefig(arithmetic_path)
    plt.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 500 images, 1 epoch")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--csv", help="the book's mnist_train.csv (default: the imported or embedded digits)")
    parser.add_argument("--out", default="runs/book/ch07")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    mnist_dataset = MnistDataset(args.csv, limit=1500 if args.quick else None)
    epochs = 1 if args.quick else args.epochs
    print(f"training on {len(mnist_dataset)} images from {mnist_dataset.source}")

    # create Discriminator and Generator
    D = Discriminator()
    G = Generator()
    with torch.no_grad():
        untrained_mean = float(G.forward(generate_random_seed(100)).mean().item())

    # train Discriminator and Generator
    for epoch in range(epochs):
        print("epoch = ", epoch + 1)

        for label, image_data_tensor, target_tensor in mnist_dataset:
            # train discriminator on true
            D.train(image_data_tensor, torch.FloatTensor([1.0]))

            # train discriminator on false
            # use detach() so gradients in G are not calculated
            D.train(G.forward(generate_random_seed(100)).detach(), torch.FloatTensor([0.0]))

            # train generator
            G.train(D, generate_random_seed(100), torch.FloatTensor([1.0]))

    D.plot_progress(out / "discriminator_progress.png")
    G.plot_progress(out / "generator_progress.png")
    plot_images(G, out / "generated.png")
    plot_seed_experiments(G, out / "seed_interpolation.png", out / "seed_arithmetic.png")

    # MNIST digits are mostly background: about 13% ink on average; an untrained G draws grey
    with torch.no_grad():
        trained_mean = sum(G.forward(generate_random_seed(100)).mean().item() for _ in range(20)) / 20
    print(f"mean pixel of G's images: {untrained_mean:.2f} before training, {trained_mean:.2f} after "
          f"(real digits: {mnist_dataset.images.mean() / 255:.2f})")
    return {"d_progress": D.progress, "g_progress": G.progress, "untrained_mean": untrained_mean,
            "trained_mean": trained_mean}


if __name__ == "__main__":
    main()
