"""The two programs of PyTorch's "Deep Learning with PyTorch: A 60 Minute Blitz" that build and
train a network, in our own words: "Neural Networks" (LeNet, a hand-started backward pass,
walking ``grad_fn``, a hand-written update) and "Training a classifier" (CrossEntropyLoss,
SGD with momentum, accuracy per class).  The tutorial trains on CIFAR-10, which cannot ship
here: the images are random stand-ins whose class is planted in their colour, so that there
is something to learn.

Written for PyTorch; it runs on minigrad because of the imports below (``tests/test_examples.py``
runs it on both engines from the same weights and compares every loss).

    python examples/pytorch/blitz.py [--epochs 2]
"""
import argparse

import numpy as np

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim
from minigrad.utils.data import DataLoader, TensorDataset
from gans.options import add_threads_argument
from gans.threads import use_threads

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class Net(nn.Module):
    """LeNet: two convolution + pooling stages, three linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def neural_networks(net, image, target):
    """The "Neural Networks" part: one loss, the graph behind it, one update by hand."""
    out = net(image)
    net.zero_grad()
    out.backward(torch.ones(1, 10, dtype=out.dtype))   # a backward pass started from our own gradient
    criterion = nn.MSELoss()
    loss = criterion(net(image), target)
    path = [loss.grad_fn, loss.grad_fn.next_functions[0][0], loss.grad_fn.next_functions[0][0].next_functions[0][0]]
    net.zero_grad()
    before = net.conv1.bias.grad
    loss.backward()
    with torch.no_grad():                               # weight = weight - learning_rate * gradient
        for p in net.parameters():
            p -= 0.01 * p.grad
    return loss.item(), before, net.conv1.bias.grad, [type(node).__name__ for node in path]


def stand_in_images(n, seed, dtype=None):
    """3×32×32 noise images; class k brightens colour channel k % 3 by 0.4·(k // 3 + 1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.normal(0, 0.3, (n, 3, 32, 32))
    images[np.arange(n), labels % 3] += 0.4 * (labels[:, None, None] // 3 + 1)
    return TensorDataset(torch.tensor(images, dtype=dtype or torch.float32), torch.tensor(labels))


def train(net, loader, optimizer, criterion):
    losses = []
    for inputs, labels in loader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(net, loader):
    correct, total = np.zeros(10), np.zeros(10)
    with torch.no_grad():
        for images, labels in loader:
            predicted = net(images).argmax(1).numpy()
            for label, guess in zip(labels.numpy(), predicted):
                total[label] += 1
                correct[label] += label == guess
    return correct.sum() / total.sum(), correct / np.maximum(total, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=2000)
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    torch.manual_seed(0)
    net = Net()
    print(net)
    data = stand_in_images(1, 0)
    loss, _, _, path = neural_networks(net, data.tensors[0], torch.randn(1, 10))
    print(f"one loss {loss:.4f}, made by {' <- '.join(path)}")
    trainloader = DataLoader(stand_in_images(args.images, 1), batch_size=4, shuffle=True)
    testloader = DataLoader(stand_in_images(500, 2), batch_size=4)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    for epoch in range(args.epochs):
        losses = train(net, trainloader, optimizer, criterion)
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}")
    overall, per_class = accuracy(net, testloader)
    print(f"accuracy on 500 test images: {overall:.0%}")
    for name, value in zip(CLASSES, per_class):
        print(f"  {name:5s} {value:.0%}")
    return overall


if __name__ == "__main__":
    main()
