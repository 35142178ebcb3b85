"""Chapter 8, human faces: the fully connected CelebA GAN, written as the book writes it, on minigrad.

The discriminator flattens a 218×178×3 photo (``View``) into 116 412 numbers → 100 LeakyReLU →
LayerNorm → 1 Sigmoid, BCE loss; the generator maps 100 normal random numbers → 300
LeakyReLU → LayerNorm → 116 412 Sigmoid, viewed as 218×178×3.  Adam with learning rate
0.0001.  The book trains 1 epoch of 20 000 faces on a GPU and gets blurry faces.

Only the imports differ from the book's code (``import minigrad as torch``, ``import
minigrad.nn as nn``, ``from minigrad.utils.data import Dataset``), plus one line so that it
also runs without a GPU: the book writes ``torch.cuda.FloatTensor`` everywhere, here
``FloatTensor`` is that on a GPU and the CPU's ``torch.FloatTensor`` otherwise (on a machine
without CUDA, ``torch.cuda.FloatTensor`` raises an error that says so).

The faces come from the book's HDF5 file (``gans data celeba --from img_align_celeba.zip``);
without it, or with ``--quick``, from synthetic face-like images in the same layout.

    python examples/book/ch08_celeba_gan.py [--quick] [--data celeba.h5] [--out runs/book/ch08]
"""
import argparse
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")  # pictures go to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
from minigrad.utils.data import Dataset  # noqa: E402

from gans.data import ensure_celeba, make_synthetic_celeba  # noqa: E402
from gans.options import add_threads_argument  # noqa: E402
from gans.threads import use_threads  # noqa: E402

# the book's GPU set-up: new tensors go to the GPU when there is one
if torch.cuda.is_available():
    torch.set_default_tensor_type(torch.cuda.FloatTensor)
    print("using cuda:", torch.cuda.get_device_name(0))
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
FloatTensor = torch.cuda.FloatTensor if torch.cuda.is_available() else torch.FloatTensor


def generate_random_image(size):
    random_data = torch.rand(size)
    return random_data


def generate_random_seed(size):
    random_data = torch.randn(size)
    return random_data


# modified from https://github.com/pytorch/vision/issues/720
class View(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape,

    def forward(self, x):
        return x.view(*self.shape)


class CelebADataset(Dataset):

    def __init__(self, file):
        self.file_object = h5py.File(file, 'r')
        self.dataset = self.file_object['img_align_celeba']

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        if (index >= len(self.dataset)):
            raise IndexError()
        img = numpy.array(self.dataset[str(index) + '.jpg'])
        return FloatTensor(img) / 255.0

    def plot_image(self, index, path):
        plt.imshow(numpy.array(self.dataset[str(index) + '.jpg']), interpolation='nearest')
        plt.savefig(path)
        plt.close()


def plot_progress(progress, path):
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
            View(218 * 178 * 3),

            nn.Linear(3 * 218 * 178, 100),
            nn.LeakyReLU(),

            nn.LayerNorm(100),

            nn.Linear(100, 1),
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
        if (self.counter % 1000 == 0):
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
            nn.Linear(100, 3 * 10 * 10),
            nn.LeakyReLU(),

            nn.LayerNorm(3 * 10 * 10),

            nn.Linear(3 * 10 * 10, 3 * 218 * 178),

            nn.Sigmoid(),
            View((218, 178, 3))
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
            img = output.detach().cpu().numpy()
            axarr[i, j].imshow(img, interpolation='none', cmap='Blues')
    plt.savefig(path)
    plt.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 steps on 3 synthetic faces")
    parser.add_argument("--data", help="CelebA HDF5 file in the book's layout (default: gans' cache or synthetic)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default="runs/book/ch08")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    if args.quick:
        data = make_synthetic_celeba(out / "synthetic_celeba.h5", 3)
    else:
        data, synthetic = ensure_celeba(args.data)
    celeba_dataset = CelebADataset(data)
    celeba_dataset.plot_image(0, out / "face_0.png")

    # create Discriminator and Generator, and move them to the GPU when there is one
    D = Discriminator()
    D.to(device)
    G = Generator()
    G.to(device)
    with torch.no_grad():
        d_real_before = D.forward(celeba_dataset[0]).item()

    epochs = 1 if args.quick else args.epochs
    for epoch in range(epochs):
        print("epoch = ", epoch + 1)

        # train Discriminator and Generator
        for image_data_tensor in celeba_dataset:
            # train discriminator on true
            D.train(image_data_tensor, FloatTensor([1.0]))

            # train discriminator on false
            # use detach() so gradients in G are not calculated
            D.train(G.forward(generate_random_seed(100)).detach(), FloatTensor([0.0]))

            # train generator
            G.train(D, generate_random_seed(100), FloatTensor([1.0]))

    D.plot_progress(out / "discriminator_progress.png")
    G.plot_progress(out / "generator_progress.png")
    plot_images(G, out / "generated.png")

    if torch.cuda.is_available():
        print("memory allocated (GB):", torch.cuda.memory_allocated(device) / (1024 * 1024 * 1024))
        print("max memory allocated (GB):", torch.cuda.max_memory_allocated(device) / (1024 * 1024 * 1024))

    # what D says now about a real face and about a generated one
    with torch.no_grad():
        d_real = D.forward(celeba_dataset[0]).item()
        d_fake = D.forward(G.forward(generate_random_seed(100))).item()
    print(f"D(real face) = {d_real_before:.3f} before training, {d_real:.3f} after; D(generated) = {d_fake:.3f}")
    return {"d_progress": D.progress, "g_progress": G.progress, "d_real_before": d_real_before, "d_real": d_real,
            "d_fake": d_fake}


if __name__ == "__main__":
    main()
