"""Checkpoints without pickle: one ``.npz`` of plain arrays plus a JSON header.

A checkpoint holds every model's ``state_dict``, every optimiser's state, the step,
the random generators' states and the run's config.  Keys and shapes are PyTorch's,
so a checkpoint written by one engine loads into the other.  Writing goes to a
temporary file that replaces the old one only when complete, so a kill mid-write
leaves the previous checkpoint intact.
"""
import json
from pathlib import Path

import numpy as np

from .data.download import atomic_output

META = "__meta__"
EXECUTION_SETTINGS = ("capturable", "foreach", "fused", "differentiable")  # optimiser options a resume keeps


def save(path, modules, optimisers, meta, engine):
    """Write ``modules`` and ``optimisers`` (dicts by part name) and ``meta`` (JSON-able)."""
    arrays = {}
    for part, module in modules.items():
        for key, value in module.state_dict().items():
            arrays[f"model/{part}/{key}"] = engine.numpy(value)
    optimiser_meta = {}
    for part, optimiser in optimisers.items():
        state = optimiser.state_dict()
        steps = {}
        for index, entries in state["state"].items():
            for key, value in entries.items():
                if key == "step":
                    steps[str(index)] = float(engine.numpy(value))
                else:
                    arrays[f"optim/{part}/{index}/{key}"] = engine.numpy(value)
        groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                   if isinstance(v, (int, float, bool, str, list, tuple)) or v is None}
                  for g in state["param_groups"]]
        optimiser_meta[part] = {"steps": steps, "param_groups": groups}
    write_npz(path, arrays, dict(meta, optimisers=optimiser_meta, format="minigrad-gans checkpoint 1"))


def write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``
    (see ``gans.data.download.atomic_output``)."""
    with atomic_output(path) as temp, open(temp, "wb") as f:
        write(f)


def write_npz(path, arrays, meta, compress=False):
    """``arrays`` and the JSON-able ``meta`` as one ``.npz`` file, written atomically; it
    loads without pickle (see :func:`read_npz`)."""
    arrays = dict(arrays, **{META: np.array(json.dumps(meta))})
    save = np.savez_compressed if compress else np.savez
    write_atomically(path, lambda f: save(f, **arrays))


def read_npz(path, what="checkpoint"):
    """``(meta, arrays)`` from a file that :func:`write_npz` wrote; ``what`` names it in errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable {what} ({err})") from err
    if META not in arrays:
        raise ValueError(f"{path}: not a minigrad-gans {what} (no {META} entry)")
    return json.loads(str(arrays.pop(META))), arrays


def load(path):
    """Read a checkpoint: returns (meta, arrays) with arrays keyed as written."""
    return read_npz(path)


def restore(meta, arrays, modules, optimisers, engine):
    """Load model weights and optimiser states into this engine's objects."""
    for part, module in modules.items():
        prefix = f"model/{part}/"
        state = {k[len(prefix):]: engine.state_tensor(v) for k, v in arrays.items() if k.startswith(prefix)}
        module.load_state_dict(state)
    for part, optimiser in optimisers.items():
        saved = meta["optimisers"][part]
        state = {}
        for key, value in arrays.items():
            if key.startswith(f"optim/{part}/"):
                _, _, index, name = key.split("/", 3)
                state.setdefault(int(index), {})[name] = engine.state_tensor(value)
        for index, step in saved["steps"].items():
            state.setdefault(int(index), {})["step"] = engine.step_value(step)
        groups = [dict(g, params=list(g["params"])) for g in saved["param_groups"]]
        for group, current in zip(groups, optimiser.state_dict()["param_groups"]):
            if "betas" in group:
                group["betas"] = tuple(group["betas"])
            # how this run executes the update (on a device, inside a CUDA graph) is this run's
            # choice, not the saved one's: a checkpoint from a --cuda-graph run resumes anywhere
            group.update({k: current[k] for k in EXECUTION_SETTINGS if k in current})
        optimiser.load_state_dict({"state": state, "param_groups": groups})
