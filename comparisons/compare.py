"""Run one book experiment on two engines from the same start and measure how far apart they get.

The reference side (PyTorch) initialises the weights; the other side (minigrad) loads
them through ``state_dict``.  One NumPy generator draws the whole data and noise stream
once, and both sides train on it in the book's order.  Every ``every`` steps the
loss values, parameters, gradients, optimiser state (Adam's moments, SGD's momentum)
and BatchNorm running statistics of the two sides are compared tensor by tensor.

Differences are measured per tensor as
    absolute: max |a − b|        relative: max |a − b| / max |b|
(the relative one is norm-wise, so a value near zero does not blow it up).
"""
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad
from gans import experiments
from gans.engines import Engine, seed_everything
from gans.progress import progress
from gans.threads import current_threads, use_threads
from gans.training import load_data

TOLERANCE = {"float64": 1e-9, "float32": 1e-3}  # relative difference that counts as divergence
# A gradient this much smaller than its network's largest (in units of the dtype's epsilon) is zero in
# exact arithmetic, e.g. the bias of a convolution followed by BatchNorm, which subtracts it again: both
# engines return rounding noise there, and Adam turns that noise into steps of size lr.
NOISE_FLOOR = 1e3


@dataclass
class Side:
    """One engine on one device, training its own copy of the models."""
    engine: Engine
    models: object
    first_step_seconds: float = 0.0  # with the one-time set-up: kernel compilation, index plans
    seconds: float = 0.0             # the steps after it

    @property
    def label(self):
        return f"{self.engine.name}-{self.engine.device}"


@dataclass
class Report:
    """What ``compare`` found; ``to_json()`` gives the keys of report.json."""
    experiment: str
    steps: int
    dtype: str
    device: str
    engines: list
    tolerance: float
    threads: int | None = None  # per engine, during the timed steps
    max_abs_loss_diff: float = 0.0
    max_rel_param_diff: float = 0.0
    max_rel_grad_diff: float = 0.0
    max_rel_state_diff: float = 0.0
    first_divergent_step: int | None = None
    first_divergent_tensor: str | None = None
    rounding_noise: list = field(default_factory=list)  # parameters whose exact gradient is zero
    seconds_per_step: dict = field(default_factory=dict)    # engine -> mean over the steps after the first
    first_step_seconds: dict = field(default_factory=dict)  # engine -> the first step, set-up included
    per_tensor: dict = field(default_factory=dict)
    history: list = field(default_factory=list)  # one row per recorded step
    losses: dict = field(default_factory=dict)   # engine -> loss name -> values at recorded steps
    data: str = ""
    samples: dict | None = field(default=None, repr=False)  # engine -> generated images (GANs)

    def to_json(self):
        return {k: v for k, v in self.__dict__.items() if k != "samples"}


def compare(name, steps=100, dtype="float64", device="cpu", seed=0, every=1, data=None, limit=None,
            cross_device=False, threads=None, show_progress=False):
    """Train experiment ``name`` on PyTorch and minigrad (or, with ``cross_device``, minigrad on
    the CPU and on CUDA) for ``steps`` iterations and compare them every ``every`` steps.
    ``threads``: give both engines this many (see ``gans.threads``); the report records it."""
    experiment = experiments.get(name)
    threads = use_threads(threads) if threads else current_threads()
    if cross_device:
        if not minigrad.cuda.is_available():
            raise RuntimeError("--cross-device compares minigrad on the CPU with minigrad on CUDA, and minigrad "
                               "sees no CUDA GPU (it needs CuPy and a GPU)")
        reference, other = Engine("minigrad", "cpu", dtype), Engine("minigrad", "cuda", dtype)
    else:
        reference, other = Engine("torch", device, dtype), Engine("minigrad", device, dtype)
    if reference.name == "torch" and device == "cuda":
        # TF32 matrix products round to 10 bits: far from float32, let alone float64
        reference.lib.backends.cuda.matmul.allow_tf32 = False
        reference.lib.backends.cudnn.allow_tf32 = False
    seed_everything(seed)
    ref = Side(reference, experiment.build(reference, {}))
    oth = Side(other, experiment.build(other, {}))
    for part, module in oth.models.modules().items():
        module.load_state_dict({k: reference.numpy(v) for k, v in ref.models.modules()[part].state_dict().items()})

    dataset = load_data(experiment, data, limit)
    report = Report(name, steps, dtype, device if not cross_device else "cpu-vs-cuda",
                    [ref.label, oth.label], TOLERANCE[dtype], threads, data=dataset.source)
    constants = {id(s): experiment.constants(s.engine) for s in (ref, oth)}
    stream = experiment.stream(dataset, np.random.default_rng(seed), 0, steps)  # one batch at a time
    for done, batch in progress(stream, f"compare {name}", "step", total=steps, enabled=show_progress):
        step = done + 1
        outputs = {}
        for side in (ref, oth):
            started = time.perf_counter()
            tensors = experiment.tensors(side.engine, batch)
            outputs[side.label] = experiment.step(side.models, side.engine, tensors, constants[id(side)])
            side.engine.synchronize()
            if step == 1:
                side.first_step_seconds = time.perf_counter() - started
            else:
                side.seconds += time.perf_counter() - started
        if step % every == 0 or step == steps:
            record(report, step, ref, oth, outputs)
    report.first_step_seconds = {s.label: s.first_step_seconds for s in (ref, oth)}
    report.seconds_per_step = {s.label: s.seconds / (steps - 1) if steps > 1 else s.first_step_seconds
                               for s in (ref, oth)}
    report.samples = samples(experiment, ref, oth, seed)
    return report


def record(report, step, ref, oth, outputs):
    """Compare everything at this step and fold it into the report."""
    row = {"step": step}
    loss_diff = 0.0
    for key in outputs[ref.label]:
        a = ref.engine.numpy(outputs[ref.label][key])
        b = oth.engine.numpy(outputs[oth.label][key])
        loss_diff = max(loss_diff, float(np.max(np.abs(a - b))))
        for side, value in ((ref, a), (oth, b)):
            report.losses.setdefault(side.label, {}).setdefault(key, []).append(float(value.reshape(-1)[0]))
    row["loss_abs"] = loss_diff
    report.max_abs_loss_diff = max(report.max_abs_loss_diff, loss_diff)
    reference_grads = gradients(ref)
    for name in noise_driven(reference_grads, np.finfo(report.dtype).eps):
        if name not in report.rounding_noise:
            report.rounding_noise.append(name)
    for kind, (x, y) in {"param": (parameters(ref), parameters(oth)), "grad": (reference_grads, gradients(oth)),
                         "state": (optimiser_state(ref), optimiser_state(oth))}.items():
        worst = 0.0
        for name, theirs in x.items():
            noise = any(name == n or name.startswith(n + ".") for n in report.rounding_noise)
            ours = y.get(name)
            if ours is None:
                raise AssertionError(f"{name} exists on {ref.label} but not on {oth.label}")
            absolute, relative = difference(ours, theirs)
            entry = report.per_tensor.setdefault(name, {"kind": kind, "max_abs": 0.0, "max_rel": 0.0})
            entry["max_abs"], entry["max_rel"] = max(entry["max_abs"], absolute), max(entry["max_rel"], relative)
            if noise:  # reported, but not a divergence: see NOISE_FLOOR
                entry["rounding_noise"] = True
                continue
            worst = max(worst, relative)
            if relative > report.tolerance and report.first_divergent_step is None:
                report.first_divergent_step, report.first_divergent_tensor = step, name
        row[f"{kind}_rel"] = worst
        attribute = {"param": "max_rel_param_diff", "grad": "max_rel_grad_diff", "state": "max_rel_state_diff"}[kind]
        setattr(report, attribute, max(getattr(report, attribute), worst))
    report.history.append(row)


def noise_driven(grads, eps):
    """Parameters (by name) whose gradient is below NOISE_FLOOR·eps times the largest
    gradient of the same network part: exactly zero but for rounding."""
    scale = {}
    for name, g in grads.items():
        part = name.split(".", 1)[0]
        scale[part] = max(scale.get(part, 0.0), float(np.max(np.abs(g))) if g.size else 0.0)
    noisy = [name[:-len(".grad")] for name, g in grads.items()
             if g.size and np.max(np.abs(g)) <= NOISE_FLOOR * eps * scale[name.split(".", 1)[0]]]
    return noisy + [following_running_mean(name) for name in noisy if name.endswith(".bias")]


def following_running_mean(bias_name):
    """``D.3.bias`` -> ``D.4.running_mean``: the BatchNorm after a layer averages its bias in."""
    module, _ = bias_name.rsplit(".", 1)
    parent, index = module.rsplit(".", 1)
    return f"{parent}.{int(index) + 1}.running_mean" if index.isdigit() else f"{module}.running_mean"


def difference(ours, theirs):
    """(max |a − b|, max |a − b| / max |b|) of two arrays."""
    if ours.shape != theirs.shape:
        raise AssertionError(f"shapes differ: {ours.shape} vs {theirs.shape}")
    gap = np.max(np.abs(np.subtract(ours, theirs, dtype=np.float64))) if ours.size else 0.0
    scale = np.max(np.abs(theirs)) if theirs.size else 0.0
    return float(gap), float(gap / scale) if scale > 0 else float(gap)


def parameters(side):
    """Parameters and buffers (BatchNorm running statistics) by name, as host arrays."""
    out = {}
    for part, module in side.models.modules().items():
        for name, value in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            out[f"{part}.{name}"] = side.engine.numpy(value)
    return out


def gradients(side):
    out = {}
    for part, module in side.models.modules().items():
        for name, p in module.named_parameters():
            if p.grad is not None:
                out[f"{part}.{name}.grad"] = side.engine.numpy(p.grad)
    return out


def optimiser_state(side):
    """Adam's exp_avg/exp_avg_sq and SGD's momentum buffers, named after their parameter."""
    out = {}
    for part, optimiser in side.models.optimisers().items():
        names = {id(p): n for n, p in side.models.modules()[part].named_parameters()}
        for p, state in optimiser.state.items():
            for key, value in state.items():
                if key != "step" and hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
                    out[f"{part}.{names[id(p)]}.{key}"] = side.engine.numpy(value)
    return out


def samples(experiment, ref, oth, seed, count=6):
    """Both sides' generated images from the same seeds (GANs only): {label: images}."""
    if not experiment.is_gan:
        return None
    rng = np.random.default_rng(seed + 1)
    seeds = [experiment.seed(rng) for _ in range(1 if experiment.seed_kind == "half" else count)]
    labels = [experiments.one_hot(k % 10) for k in range(len(seeds))] if experiment.labels else None
    return {s.label: experiment.generate(s.models, s.engine, seeds, labels) for s in (ref, oth)}
