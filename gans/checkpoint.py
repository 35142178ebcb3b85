"""Checkpoints without pickle: one ``.npz`` of plain arrays plus a JSON header.

A checkpoint holds every model's ``state_dict``, every optimiser's state, the step,
the random generators' states and the run's config.  Keys and shapes are PyTorch's,
so a checkpoint written by one engine loads into the other.  Writing goes to a
temporary file that replaces the old one only when complete, and the old one is kept as
``checkpoint.prev.npz``: whenever the process stops (a kill mid-write, a full disk), one
complete checkpoint remains, and :func:`load_latest` falls back on the previous one when
the current is missing or damaged.
"""
import json
import zipfile
from pathlib import Path

import numpy as np

from .data.download import atomic_output

META = "__meta__"
FORMAT = "minigrad-gans checkpoint 1"
REQUIRED = ("config", "step", "rng", "optimisers")  # what a resume reads from the header
DEFAULT_MINUTES = 5.0  # training writes one at most this often by default: writing never dominates
EXECUTION_SETTINGS = ("capturable", "foreach", "fused", "differentiable")  # optimiser options a resume keeps


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or not one this run can resume from; the message names it."""


def save(path, modules, optimisers, meta, engine):
    """Write ``modules`` and ``optimisers`` (dicts by part name) and ``meta`` (JSON-able);
    the checkpoint it replaces becomes ``checkpoint.prev.npz``."""
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
    write_npz(path, arrays, dict(meta, optimisers=optimiser_meta, format=FORMAT), previous=previous_path(path))


def previous_path(path):
    """Where the checkpoint before ``path`` is kept: ``checkpoint.npz`` → ``checkpoint.prev.npz``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".npz") + ".prev.npz")


def write_atomically(path, write, previous=None):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``
    (see ``gans.data.download.atomic_output``; ``previous`` keeps the old file there)."""
    with atomic_output(path, previous) as temp, open(temp, "wb") as f:
        write(f)


def write_json(path, value):
    """``value`` as indented JSON, written atomically (NumPy numbers and paths as plain values)."""
    text = json.dumps(value, indent=2, default=_plain) + "\n"
    write_atomically(path, lambda f: f.write(text.encode()))


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_npz(path, arrays, meta, compress=False, previous=None):
    """``arrays`` and the JSON-able ``meta`` as one ``.npz`` file, written atomically; it
    loads without pickle (see :func:`read_npz`)."""
    arrays = dict(arrays, **{META: np.array(json.dumps(meta))})
    save = np.savez_compressed if compress else np.savez
    write_atomically(path, lambda f: save(f, **arrays), previous)


def read_npz(path, what="checkpoint"):
    """``(meta, arrays)`` from a file that :func:`write_npz` wrote; ``what`` names it in errors.
    A missing, damaged or foreign file raises :class:`CheckpointError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {what} at {path}")
    if not zipfile.is_zipfile(path):  # (numpy would try to read it as a pickle)
        with open(path, "rb") as f:
            start = f.read(8)
        if start.startswith(b"PK"):
            raise CheckpointError(f"{path}: the {what} is cut short or damaged (no zip directory at its end)")
        raise CheckpointError(f"{path}: not a {what} (an .npz is a zip archive; this file starts with {start!r})")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop(META))) if META in arrays else None
    except Exception as err:  # a damaged file fails in the zip layer, the decompressor, NumPy's header
        # parser (SyntaxError, tokenize errors, "zip file version 10.9") or the array reader: any is damage
        raise CheckpointError(f"{path}: the {what} is damaged or not an .npz file "
                              f"({type(err).__name__}: {err})") from err
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a minigrad-gans {what} (no {META} header)")
    return meta, arrays


def load(path):
    """Read a checkpoint: returns (meta, arrays) with arrays keyed as written; a file that
    is not a complete checkpoint raises :class:`CheckpointError`."""
    meta, arrays = read_npz(path)
    missing = [k for k in REQUIRED if k not in meta]
    if meta.get("format") != FORMAT or missing:
        raise CheckpointError(f"{path}: not a {FORMAT} (format {meta.get('format')!r}"
                              + (f", no {', '.join(missing)}" if missing else "") + ")")
    return meta, arrays


def load_latest(path):
    """``(meta, arrays, note)`` of the checkpoint at ``path``, or of the previous one beside
    it when that one is missing or damaged (``note`` then says so; otherwise None)."""
    path = Path(path)
    try:
        return (*load(path), None)
    except CheckpointError as err:
        problem = "is missing" if not path.exists() else f"is damaged ({err})"
        previous = previous_path(path)
        if not previous.exists():
            if not path.exists():
                raise CheckpointError(f"no checkpoint in {path.parent} to resume from") from None
            raise CheckpointError(f"{path.name} in {path.parent} {problem}, and there is no previous "
                                  "checkpoint to fall back on") from None
        try:
            meta, arrays = load(previous)
        except CheckpointError as second:
            raise CheckpointError(f"{path.name} in {path.parent} {problem}, and so is the previous one "
                                  f"({second})") from None
    return meta, arrays, f"{path.name} in {path.parent} {problem}; using {previous.name} (step {meta['step']})"


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
