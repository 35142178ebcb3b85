"""A convolutional MNIST classifier in the style of PyTorch's examples repository: two
convolutions, max pooling, dropout, log-softmax and the negative log likelihood, Adadelta with a
StepLR schedule, batches from a DataLoader, and the trained weights saved with ``save``.

Written for PyTorch; it runs on minigrad because of the imports below (``tests/test_examples.py``
runs it on both engines from the same weights and compares every loss).

    python examples/pytorch/mnist_cnn.py [--epochs 3] [--quick] [--save-model mnist_cnn.pt]
"""
import argparse
import time

import numpy as np

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim
from minigrad.optim.lr_scheduler import StepLR
from minigrad.utils.data import DataLoader, TensorDataset
from gans.options import add_threads_argument
from gans.threads import use_threads


class Net(nn.Module):
    def __init__(self, dropout=(0.25, 0.5)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)       # 28×28 → 26×26
        self.conv2 = nn.Conv2d(8, 16, 3, 1)      # → 24×24, pooled to 12×12
        self.dropout1 = nn.Dropout(dropout[0])
        self.dropout2 = nn.Dropout(dropout[1])
        self.fc1 = nn.Linear(16 * 12 * 12, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def mnist(split, limit=None, dtype=None):
    """(images as (N, 1, 28, 28) in [0, 1], normalised as PyTorch's example does; labels)."""
    from gans.data.mnist import load_mnist
    data = load_mnist(split)
    images = (data.images[:limit].astype(np.float32) / 255.0 - 0.1307) / 0.3081
    images = torch.tensor(images[:, None], dtype=dtype or torch.float32)
    return TensorDataset(images, torch.tensor(data.labels[:limit]))


def train(model, loader, optimizer, log_interval=None):
    """One epoch; the loss of every batch."""
    model.train()
    losses = []
    for batch, (data, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log_interval and batch % log_interval == 0:
            print(f"  batch {batch:4d}/{len(loader)}  loss {loss.item():.4f}")
    return losses


def test(model, loader):
    """(mean loss, accuracy) on the test data."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            total += F.nll_loss(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
            count += len(target)
    return total / count, correct / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1000 training images, 1 epoch")
    parser.add_argument("--save-model", metavar="PATH")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    torch.manual_seed(args.seed)
    limit = 1000 if args.quick else None
    train_loader = DataLoader(mnist("train", limit), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(mnist("test", limit), batch_size=1000)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, (1 if args.quick else args.epochs) + 1):
        started = time.perf_counter()
        losses = train(model, train_loader, optimizer, log_interval=None if args.quick else 20)
        loss, accuracy = test(model, test_loader)
        print(f"epoch {epoch}: train loss {np.mean(losses):.4f}, test loss {loss:.4f}, accuracy {accuracy:.1%} "
              f"({time.perf_counter() - started:.0f} s, {args.threads} thread(s))")
        scheduler.step()
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)
    return accuracy


if __name__ == "__main__":
    main()
