"""Time one training iteration of each book experiment on minigrad and PyTorch.

One iteration is what the book does per example at batch size 1 (classifier: forward,
loss, zero_grad, backward, step; GAN: D on real, D on a detached fake, G through D).
The example programs of ``examples/pytorch/`` (``benchmarks/programs.py``) are timed the same
way at batch size 64, where the arithmetic, not the per-op overhead, is the cost.
Data is drawn and turned into tensors in advance, so only training is timed.  After a
warm-up the engines run in interleaved rounds (A B, then B A, …): drifts of a shared machine
hit both alike, and the ratio minigrad/torch is taken within each round.
"""
import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

from gans import experiments
from minigrad import accel
from gans.progress import progress
from gans.training import build, load_data, make_step

from . import FLOOR, GRAPH, PLAIN
from .programs import PROGRAMS, ProgramWorkload, peak_traced_bytes

RESULTS = Path(__file__).parent / "results"


def machine():
    """What the numbers were measured on."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    info["minigrad_accel"] = accel.ENABLED  # its speed machinery attached (MINIGRAD_ACCEL=0: not)
    # glibc keeps freed memory for reuse (minigrad.accel.memory): for both engines, one process
    info["malloc_keeps_freed_memory"] = accel.memory.APPLIED
    import minigrad
    if minigrad.cuda.is_available():
        info["cupy"] = minigrad.backend.module_for("cuda").__version__
        info["gpu"] = minigrad.cuda.get_device_name()
    return info


class Workload:
    """One experiment on one engine, with its data prepared as tensors; ``label`` is an
    engine's name, with ``+graph`` to capture the step as a CUDA graph and replay it."""

    def __init__(self, name, label, device="cpu", dtype="float32", seed=0, data=None, prepared=64):
        graph = label.endswith(GRAPH)
        self.experiment, self.engine, self.models = build(name, label.removesuffix(GRAPH), device, dtype, seed,
                                                          capturable=graph)
        dataset = load_data(self.experiment, data, limit=prepared)
        stream = self.experiment.stream(dataset, np.random.default_rng(seed), 0, prepared)
        self.batches = [self.experiment.tensors(self.engine, b) for _, b in stream]
        self.step = make_step(self.experiment, self.models, self.engine, self.experiment.constants(self.engine),
                              graph)
        self.next = 0

    def run(self, iterations):
        """Seconds for ``iterations`` training iterations (waiting for the GPU at the end)."""
        batches, n = self.batches, len(self.batches)
        started = time.perf_counter()
        for i in range(iterations):
            self.step(batches[(self.next + i) % n])
        self.engine.synchronize()
        self.next += iterations
        return time.perf_counter() - started

    def peak_traced_bytes(self):
        return peak_traced_bytes(self)


class ByHandWorkload:
    """``classifier-refined`` written by hand in NumPy (benchmarks/numpy_floor.py): the floor."""

    def __init__(self, data=None, prepared=64, seed=0):
        from .numpy_floor import RefinedClassifierByHand
        experiment = experiments.get("classifier-refined")
        dataset = load_data(experiment, data, limit=prepared)
        stream = experiment.stream(dataset, np.random.default_rng(seed), 0, prepared)
        self.batches = [(b["real"].astype(np.float32), b["label"].astype(np.float32)) for _, b in stream]
        self.model = RefinedClassifierByHand(seed)
        self.next = 0

    def run(self, iterations):
        n = len(self.batches)
        started = time.perf_counter()
        for i in range(iterations):
            self.model.step(*self.batches[(self.next + i) % n])
        self.next += iterations
        return time.perf_counter() - started


class WithoutAccel:
    """A minigrad workload made and run with minigrad.accel detached (``accel.detached``)."""

    def __init__(self, make):
        with accel.detached():
            self.load = make()

    def run(self, iterations):
        with accel.detached():
            return self.load.run(iterations)


def make_workload(name, label, device="cpu", dtype="float32", data=None):
    """The workload of experiment or example program ``name`` on engine ``label``."""
    kind = ProgramWorkload if name in PROGRAMS else Workload
    if label == PLAIN:
        return WithoutAccel(lambda: kind(name, "minigrad", device, dtype, data=data))
    return kind(name, label, device, dtype, data=data)


def bench(name, engines=("minigrad", "torch"), device="cpu", dtype="float32", seconds=3.0, data=None):
    """Interleaved rounds for one experiment; returns one record per engine."""
    loads, failures = {}, []
    for e in engines:
        try:
            loads[e] = make_workload(name, e, device, dtype, data)
            loads[e].run(3)  # warm-up: caches, allocator, lazy imports, kernel compilation, capture
        except Exception as err:  # e.g. a step that cannot be captured: reported, the others still run
            loads.pop(e, None)
            failures.append({"experiment": name, "engine": e, "error": f"{type(err).__name__}: {err}"})
    if name == "classifier-refined" and device == "cpu" and dtype == "float32" and \
            ("minigrad" in loads or PLAIN in loads):
        loads[FLOOR] = ByHandWorkload(data)
        loads[FLOOR].run(3)
    engines = tuple(loads)
    probe = {e: max(load.run(3) / 3, 1e-7) for e, load in loads.items()}
    rounds = 15
    per_round = {e: max(1, int(seconds / rounds / len(engines) / t)) for e, t in probe.items()}
    times = {e: [] for e in engines}
    for r in progress(range(rounds), name, unit="round"):
        order = engines if r % 2 == 0 else tuple(reversed(engines))  # A B, B A, … cancels order effects
        for e in order:
            times[e].append(loads[e].run(per_round[e]) / per_round[e])
    records = []
    for e in engines:
        us = np.array(times[e]) * 1e6
        record = {"experiment": name, "engine": e, "device": device, "dtype": dtype,
                  "median_us": float(np.median(us)), "p25_us": float(np.percentile(us, 25)),
                  "p75_us": float(np.percentile(us, 75)), "rounds": rounds, "iterations_per_round": per_round[e],
                  "ratio_to_torch": None}
        if e == "minigrad":
            record["peak_traced_mb"] = loads[e].peak_traced_bytes() / 2 ** 20
        if e in ("minigrad", PLAIN):
            if FLOOR in times:
                record["ratio_to_numpy_by_hand"] = float(statistics.median(
                    [a / b for a, b in zip(times[e], times[FLOOR])]))
        if "torch" in times:
            ratios = [a / b for a, b in zip(times[e], times["torch"])]
            record["ratio_to_torch"] = float(statistics.median(ratios))
            record["ratio_p25"], record["ratio_p75"] = (float(np.percentile(ratios, 25)),
                                                        float(np.percentile(ratios, 75)))
        if "torch" + GRAPH in times:
            record["ratio_to_torch_graph"] = float(statistics.median(
                [a / b for a, b in zip(times[e], times["torch" + GRAPH])]))
        records.append(record)
    return records + failures


def matmul_demo(n=600, loop_n=80):
    """The book's chapter 4 demonstration: an n×n matrix product four ways.

    The pure-Python triple loop is timed at ``loop_n`` and scaled by (n / loop_n)³,
    because at 600 it takes minutes; the record says so.
    """
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    records = []
    small_a, small_b = a[:loop_n, :loop_n].tolist(), b[:loop_n, :loop_n].tolist()
    started = time.perf_counter()
    _python_matmul(small_a, small_b)
    loop = time.perf_counter() - started
    records.append({"experiment": f"matmul-{n}", "engine": "python-loops", "device": "cpu",
                    "median_us": loop * (n / loop_n) ** 3 * 1e6,
                    "note": f"timed at {loop_n}x{loop_n} and extrapolated by (n/{loop_n})^3"})
    records.append({"experiment": f"matmul-{n}", "engine": "numpy", "device": "cpu",
                    "median_us": _best_of(lambda: a @ b) * 1e6})
    try:
        import torch
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        records.append({"experiment": f"matmul-{n}", "engine": "torch", "device": "cpu",
                        "median_us": _best_of(lambda: ta @ tb) * 1e6})
    except ImportError:
        pass
    import minigrad
    if minigrad.cuda.is_available():
        gpu = minigrad.backend.module_for("cuda")
        ga, gb = gpu.asarray(a), gpu.asarray(b)

        def gpu_product():
            ga @ gb
            minigrad.cuda.synchronize()
        records.append({"experiment": f"matmul-{n}", "engine": "cupy", "device": "cuda",
                        "median_us": _best_of(gpu_product) * 1e6})
    return records


def _python_matmul(a, b):
    n, m, k = len(a), len(b[0]), len(b)
    out = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            total = 0.0
            for t in range(k):
                total += a[i][t] * b[t][j]
            out[i][j] = total
    return out


def _best_of(fn, repeat=20):
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def run(names=None, engines=("minigrad", "torch"), device="cpu", dtype="float32", seconds=3.0, data=None,
        json_path=None, save=True, matmul=True, echo=print, threads=None):
    """Benchmark the experiments, print a table, and save the JSON (``benchmarks/results/``).
    An engine label ending in ``+graph`` times that engine replaying a captured CUDA graph."""
    names = list(names or list(experiments.EXPERIMENTS) + (list(PROGRAMS) if device == "cpu" else []))
    graphs = any(e.endswith(GRAPH) for e in engines)
    for name in names:
        if name not in PROGRAMS:
            experiments.get(name)
    info = machine()
    info["threads"] = threads
    echo(f"machine: {info['cpu']}, {info['cores']} cores, {threads or 'default'} thread(s) per engine, "
         f"numpy {info['numpy']}, torch {info.get('torch', '-')}"
         + (f", GPU {info['gpu']}" if "gpu" in info else "")
         + ("" if info["minigrad_accel"] else ", minigrad without minigrad.accel (MINIGRAD_ACCEL=0)")
         + (", glibc keeps freed memory for both engines (minigrad.accel.memory)"
            if info["malloc_keeps_freed_memory"] else ""))
    records = []
    for name in names:
        try:
            rows = bench(name, tuple(engines), device, dtype, seconds, data)
        except Exception as err:  # one experiment that fails (say, cannot be captured) is reported, not fatal
            rows = [{"experiment": name, "error": f"{type(err).__name__}: {err}"}]
        echo(format_rows(rows))
        records += rows
    if matmul:
        demo = matmul_demo()
        records += demo
        for r in demo:
            echo(f"{r['experiment']:<22}{r['engine']:<14}{r['median_us']:>14,.0f} µs  {r.get('note', '')}")
    document = {"machine": info, "date": date.today().isoformat(), "device": device, "dtype": dtype,
                "command": "gans bench " + " ".join(names) + f" --engine {','.join(e for e in engines if not e.endswith(GRAPH))}"
                           + f" --device {device} --seconds {seconds}"
                           + (f" --threads {threads}" if threads else "") + (" --cuda-graph" if graphs else "") + ("" if matmul else " --no-matmul"),
                "records": records}
    if save:
        RESULTS.mkdir(exist_ok=True)
        slug = "".join(c if c.isalnum() else "-" for c in info.get("gpu", info["cpu"]))[:40].strip("-")
        path = RESULTS / f"{device}{'-graph' * graphs}-{slug}-{document['date']}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        echo(f"saved {path}")
    if json_path:
        Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    return records


def markdown_table(records):
    """The README's table: µs per iteration (median, quartiles) and the ratio to PyTorch."""
    lines = ["| experiment | minigrad µs | torch µs | minigrad / torch | by hand µs |",
             "| --- | --- | --- | --- | --- |"]
    by_name = {}
    for r in records:
        if "error" not in r:
            by_name.setdefault(r["experiment"], {})[r["engine"]] = r
    for name, engines in by_name.items():
        if name.startswith("matmul"):
            continue
        ours, theirs, hand = engines.get("minigrad"), engines.get("torch"), engines.get(FLOOR)
        cell = lambda r: f"{r['median_us']:,.0f} [{r['p25_us']:,.0f}–{r['p75_us']:,.0f}]" if r else ""
        ratio = f"{ours['ratio_to_torch']:.2f}" if ours and ours.get("ratio_to_torch") else ""
        if hand and ours:
            hand_cell = f"{cell(hand)} (minigrad {ours['ratio_to_numpy_by_hand']:.2f}×)"
        else:
            hand_cell = ""
        lines.append(f"| `{name}` | {cell(ours)} | {cell(theirs)} | {ratio} | {hand_cell} |")
    small = [engines["minigrad"]["ratio_to_torch"] for name, engines in by_name.items()
             if not name.startswith(("celeba", "matmul")) and name not in PROGRAMS  # (batch 1 only)
             and engines.get("minigrad", {}).get("ratio_to_torch")]
    if small:
        lines.append(f"\nGeometric mean of minigrad / torch over the MNIST-sized models: "
                     f"{float(np.exp(np.mean(np.log(small)))):.2f}.")
    if any(GRAPH in e for engines in by_name.values() for e in engines):
        lines += ["", graph_table(by_name)]
    return "\n".join(lines)


def graph_table(by_name):
    """Replays of captured CUDA graphs: µs per iteration and the two ratios issue-style targets use."""
    lines = ["| experiment | minigrad+graph µs | torch+graph µs | minigrad+graph / torch+graph | "
             "torch eager / minigrad+graph |", "| --- | --- | --- | --- | --- |"]
    for name, engines in by_name.items():
        ours, theirs, eager = engines.get("minigrad" + GRAPH), engines.get("torch" + GRAPH), engines.get("torch")
        if not (ours and theirs and eager):
            continue
        lines.append(f"| `{name}` | {ours['median_us']:,.0f} | {theirs['median_us']:,.0f} | "
                     f"{ours['ratio_to_torch_graph']:.2f} | {1 / ours['ratio_to_torch']:.1f}× |")
    return "\n".join(lines)


def format_rows(rows):
    lines = []
    for r in rows:
        if "error" in r:
            lines.append(f"{r['experiment']:<22}{r.get('engine', ''):<16}failed: {r['error']}")
            continue
        ratios = [f"{r[key]:.2f} × {name}" for key, name in (("ratio_to_torch", "torch"),
                                                              ("ratio_to_torch_graph", "torch" + GRAPH),
                                                              ("ratio_to_numpy_by_hand", "by hand"))
                  if r.get(key) is not None and r["engine"] != name]
        lines.append(f"{r['experiment']:<22}{r['engine']:<16}{r['median_us']:>12,.0f} µs "
                     f"[{r['p25_us']:,.0f}–{r['p75_us']:,.0f}]  {', '.join(ratios)}")
    return "\n".join(lines)
