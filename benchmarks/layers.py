"""Forward + backward time of every convolution and batch-norm layer of the book's CNNs,
minigrad against PyTorch, at batch size 1 in float32 (how the book trains them).

    python -m benchmarks.layers [--json PATH] [--rounds N] [--only NAME] [--device cuda]
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.layers    # one core each

Both engines get the same weights (state_dict exchange), the same input and the same
upstream gradient.  One step is ``y = layer(x); y.backward(g)`` with the input needing a
gradient too (inside a network every layer but the first passes one on).  The engines
take turns within each round, so a slow spell of the machine hits both alike; each turn
starts with one untimed step, so that the other engine's idle BLAS/OpenMP threads (which
spin for a while after their work) have stopped competing for the cores.  The median
over rounds is reported, with the ratio minigrad / PyTorch (< 1: minigrad faster).  The
load average before and after is saved too: on a busy machine the numbers mean little.
"""
import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import time

import numpy as np
import torch

import minigrad
import minigrad.nn as mnn
from gans.threads import THREAD_VARIABLES

# (name, layer on an engine's nn module, input shape); BatchNorm2d in training mode
LAYERS = [
    ("MNIST Conv2d(1,10,5,2)", lambda nn: nn.Conv2d(1, 10, 5, 2), (1, 1, 28, 28)),
    ("MNIST BatchNorm2d(10)", lambda nn: nn.BatchNorm2d(10), (1, 10, 12, 12)),
    ("MNIST Conv2d(10,10,3,2)", lambda nn: nn.Conv2d(10, 10, 3, 2), (1, 10, 12, 12)),
    ("MNIST BatchNorm2d(10) 5x5", lambda nn: nn.BatchNorm2d(10), (1, 10, 5, 5)),
    ("CelebA D Conv2d(3,256,8,2)", lambda nn: nn.Conv2d(3, 256, 8, 2), (1, 3, 128, 128)),
    ("CelebA D BatchNorm2d(256) 61x61", lambda nn: nn.BatchNorm2d(256), (1, 256, 61, 61)),
    ("CelebA D Conv2d(256,256,8,2)", lambda nn: nn.Conv2d(256, 256, 8, 2), (1, 256, 61, 61)),
    ("CelebA D BatchNorm2d(256) 27x27", lambda nn: nn.BatchNorm2d(256), (1, 256, 27, 27)),
    ("CelebA D Conv2d(256,3,8,2)", lambda nn: nn.Conv2d(256, 3, 8, 2), (1, 256, 27, 27)),
    ("CelebA G ConvTranspose2d(3,256,8,2)", lambda nn: nn.ConvTranspose2d(3, 256, 8, 2), (1, 3, 11, 11)),
    ("CelebA G BatchNorm2d(256) 28x28", lambda nn: nn.BatchNorm2d(256), (1, 256, 28, 28)),
    ("CelebA G ConvTranspose2d(256,256,8,2)", lambda nn: nn.ConvTranspose2d(256, 256, 8, 2), (1, 256, 28, 28)),
    ("CelebA G BatchNorm2d(256) 62x62", lambda nn: nn.BatchNorm2d(256), (1, 256, 62, 62)),
    ("CelebA G ConvTranspose2d(256,3,8,2,p=1)", lambda nn: nn.ConvTranspose2d(256, 3, 8, 2, padding=1),
     (1, 256, 62, 62)),
    ("CelebA G BatchNorm2d(3) 128x128", lambda nn: nn.BatchNorm2d(3), (1, 3, 128, 128)),
]


class Engine:
    """One layer on one engine, ready to run forward + backward."""

    def __init__(self, name, layer, x, upstream, synchronize):
        self.name, self.layer, self.x, self.upstream, self.synchronize = name, layer, x, upstream, synchronize

    def step(self):
        self.layer.zero_grad()
        self.x.grad = None
        self.layer(self.x).backward(self.upstream)
        self.synchronize()


def engines_for(make, shape, device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    theirs = make(torch.nn)
    ours = make(mnn)
    ours.load_state_dict(theirs.state_dict())
    theirs.to(device), ours.to(device)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        out_shape = tuple(theirs(torch.from_numpy(x).to(device)).shape)
    g = rng.standard_normal(out_shape).astype(np.float32)
    torch_sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return [Engine("minigrad", ours, minigrad.tensor(x, device=device, requires_grad=True),
                   minigrad.tensor(g, device=device), minigrad.cuda.synchronize),
            Engine("torch", theirs, torch.tensor(x, device=device, requires_grad=True),
                   torch.tensor(g, device=device), torch_sync)]


def measure(engines, rounds, budget_s, repeats=None):
    """Median µs per step for each engine; engines alternate inside every round."""
    for e in engines:  # warm up (allocators, BLAS threads, first-call caches)
        e.step()
        e.step()
    if repeats is None:  # enough steps per sample that a sample takes ≥ ~2 ms
        start = time.perf_counter()
        engines[0].step()
        once = time.perf_counter() - start
        repeats = max(1, int(0.002 / max(once, 1e-7)))
    samples = {e.name: [] for e in engines}
    deadline = time.perf_counter() + budget_s
    for r in range(rounds):
        order = engines if r % 2 == 0 else engines[::-1]
        for e in order:
            e.step()  # untimed: the other engine's spinning threads settle down
            start = time.perf_counter_ns()
            for _ in range(repeats):
                e.step()
            samples[e.name].append((time.perf_counter_ns() - start) / repeats / 1e3)
        if r >= 4 and time.perf_counter() > deadline:
            break
    return samples, repeats


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "hostname": socket.gethostname(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "minigrad": minigrad.__version__, "platform": platform.platform(),
            "thread_settings": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ}}
    if minigrad.cuda.is_available():
        info["gpu"], info["cupy"] = minigrad.cuda.get_device_name(), minigrad.backend.module_for("cuda").__version__
    return info


def markdown(results, info, device):
    where = info.get("gpu", "?") if device == "cuda" else f"{info['cpu']}, {info['cores']} cores"
    lines = [f"Forward + backward, batch 1, float32, {device} — {where}, numpy {info['numpy']}, "
             f"torch {info['torch']} ({info['torch_threads']} threads)", "",
             "| layer | input | minigrad µs | torch µs | minigrad / torch |",
             "|---|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['layer']} | {'×'.join(map(str, r['input']))} | {r['minigrad_us']:.0f} | "
                     f"{r['torch_us']:.0f} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here (default: benchmarks/results/layers-<cpu>-<date>.json)")
    parser.add_argument("--rounds", type=int, default=31, help="most rounds per layer (default 31)")
    parser.add_argument("--budget", type=float, default=6.0, help="seconds per layer before stopping early")
    parser.add_argument("--only", help="run only layers whose name contains this text")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)

    info = machine()
    load_before = os.getloadavg()
    results = []
    for name, make, shape in LAYERS:
        if args.only and args.only not in name:
            continue
        samples, repeats = measure(engines_for(make, shape, args.device), args.rounds, args.budget)
        ours, theirs = samples["minigrad"], samples["torch"]
        row = {"layer": name, "input": list(shape),
               "minigrad_us": statistics.median(ours), "torch_us": statistics.median(theirs),
               "ratio": statistics.median(ours) / statistics.median(theirs),
               "ratio_within_rounds": statistics.median(a / b for a, b in zip(ours, theirs)),
               "minigrad_min_us": min(ours), "torch_min_us": min(theirs),
               "rounds": len(ours), "steps_per_sample": repeats}
        results.append(row)
        print(f"{name:42s} minigrad {row['minigrad_us']:10.0f} µs  torch {row['torch_us']:10.0f} µs  "
              f"ratio {row['ratio']:.2f}", flush=True)
    load_after = os.getloadavg()
    print()
    print(markdown(results, info, args.device))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}")

    path = args.json
    if path is None:
        name = info.get("gpu", "") if args.device == "cuda" else info["cpu"]
        tag = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower() or info["hostname"]
        path = os.path.join(os.path.dirname(__file__), "results",
                            f"layers-{tag}-{datetime.date.today().isoformat()}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"machine": info, "date": datetime.datetime.now().isoformat(timespec="seconds"),
                   "device": args.device, "dtype": "float32", "batch": 1,
                   "load_average_before": load_before, "load_average_after": load_after,
                   "results": results}, f, indent=2)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
