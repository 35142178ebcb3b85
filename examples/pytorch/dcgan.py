"""A small DCGAN in the style of PyTorch's DCGAN example, on MNIST digits: transposed
convolutions with BatchNorm2d and ReLU in the generator, strided convolutions with LeakyReLU
in the discriminator, ``model.apply(weights_init)``, BCELoss, Adam with betas (0.5, 0.999),
labels made with ``torch.full`` and ``fill_``.

Written for PyTorch; it runs on minigrad because of the imports below (``tests/test_examples.py``
runs it on both engines from the same weights and compares every loss).

    python examples/pytorch/dcgan.py [--epochs 1] [--quick] [--out dcgan.png]
"""
import argparse
import time

import numpy as np

import minigrad as torch
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.utils.data import DataLoader, TensorDataset
from gans.options import add_threads_argument
from gans.threads import use_threads

NZ, NGF, NDF = 16, 16, 16  # noise size, generator and discriminator widths


class Generator(nn.Module):
    """noise (N, NZ, 1, 1) → 7×7 → 14×14 → 28×28 image in [-1, 1]"""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, noise):
        return self.main(noise)


class Discriminator(nn.Module):
    """image (N, 1, 28, 28) → 14×14 → 7×7 → probability that it is real"""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, 1, 7, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, image):
        return self.main(image).view(-1)


def weights_init(m):
    """The DCGAN paper's initialisation: N(0, 0.02) for convolutions, N(1, 0.02) for BatchNorm."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0)


def digits(limit=None, dtype=None):
    from gans.data.mnist import load_mnist
    images = load_mnist("train").images[:limit].astype(np.float32) / 127.5 - 1  # [-1, 1], as Tanh gives
    return TensorDataset(torch.tensor(images[:, None], dtype=dtype or torch.float32))


def train_step(netG, netD, optimizerG, optimizerD, real, noise, criterion):
    """One step of each network, as the DCGAN example takes them; (loss D, loss G, D(x), D(G(z)))."""
    batch = real.shape[0]
    label = torch.full((batch,), 1.0, dtype=real.dtype)
    netD.zero_grad()
    output = netD(real)
    loss_real = criterion(output, label)
    loss_real.backward()
    fake = netG(noise)
    label.fill_(0.0)
    output_fake = netD(fake.detach())
    loss_fake = criterion(output_fake, label)
    loss_fake.backward()
    optimizerD.step()
    netG.zero_grad()
    label.fill_(1.0)  # the generator wants its images called real
    loss_g = criterion(netD(fake), label)
    loss_g.backward()
    optimizerG.step()
    return (loss_real + loss_fake).item(), loss_g.item(), output.mean().item(), output_fake.mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--quick", action="store_true", help="1 000 digits")
    parser.add_argument("--out", help="a PNG of 16 generated digits (needs matplotlib)")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    torch.manual_seed(args.seed)
    loader = DataLoader(digits(1000 if args.quick else None), batch_size=args.batch_size, shuffle=True)
    netG, netD = Generator().apply(weights_init), Discriminator().apply(weights_init)
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(0.5, 0.999))
    history = []
    for epoch in range(args.epochs):
        started = time.perf_counter()
        for (real,) in loader:
            history.append(train_step(netG, netD, optimizerG, optimizerD, real,
                                      torch.randn(real.shape[0], NZ, 1, 1), criterion))
        loss_d, loss_g, d_x, d_g_z = np.mean(history[-len(loader):], axis=0)
        print(f"epoch {epoch + 1}: loss D {loss_d:.3f}, loss G {loss_g:.3f}, D(x) {d_x:.3f}, D(G(z)) {d_g_z:.3f} "
              f"({time.perf_counter() - started:.0f} s, {args.threads} thread(s))")
    if args.out:
        import matplotlib.pyplot as plt
        with torch.no_grad():
            images = netG.eval()(torch.randn(16, NZ, 1, 1)).detach().numpy()[:, 0]
        figure, axes = plt.subplots(4, 4, figsize=(4, 4))
        for axis, image in zip(axes.flat, images):
            axis.imshow(image, cmap="gray")
            axis.axis("off")
        figure.savefig(args.out)
    return history


if __name__ == "__main__":
    main()
