"""The chapter notebooks run from top to bottom (with their small test parameters), so they
never rot; and they are committed with their outputs cleared.

Executing needs ``nbformat``, ``nbclient`` and ``ipykernel`` (the ``test`` extra); without
them the execution tests are skipped with that reason.  The notebooks run side by side, one
kernel per core (up to 4): each spends seconds starting Python and importing PyTorch, and
running them in parallel halves the wall time on two cores.
"""
import asyncio
import json
import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SECONDS_PER_CELL = 60  # a safety net: with their test parameters whole notebooks take 2–15 s


def test_there_is_a_notebook_per_chapter_with_outputs_cleared():
    chapters = {path.name[:4] for path in NOTEBOOKS if path.name.startswith("ch")}
    assert chapters == {"ch01", "ch02", "ch03", "ch04", "ch06", "ch07", "ch08", "ch09", "ch10"}
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def with_test_parameters(nb):
    """Insert the notebook's test parameters after its ``parameters`` cell (papermill's way)."""
    from nbformat.v4 import new_code_cell
    values = nb.metadata.get("minigrad_gans", {}).get("test_parameters")
    if not values:
        return nb
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = new_code_cell("\n".join(f"{k} = {v!r}" for k, v in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(where + 1, cell)
    return nb


def needs_conv(path):
    import minigrad.nn as nn
    return "convolutions" in path.name and not hasattr(nn, "Conv2d")


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """Run every selected notebook once, several at a time; ``{path: (seconds, error)}``."""
    nbformat = pytest.importorskip("nbformat", reason="executing notebooks needs nbformat (pip install nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="executing notebooks needs nbclient (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="executing notebooks needs ipykernel (pip install ipykernel)")
    selected = [item.callspec.params["path"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_notebook_runs" and hasattr(item, "callspec")]
    selected = [path for path in selected if not needs_conv(path)]
    results = {}

    async def run(path, slots):
        async with slots:
            nb = with_test_parameters(nbformat.read(path, as_version=4))
            folder = tmp_path_factory.mktemp(path.stem)  # the notebook writes its runs/ here
            client = nbclient.NotebookClient(nb, timeout=SECONDS_PER_CELL, kernel_name="python3",
                                             resources={"metadata": {"path": str(folder)}})
            started = time.perf_counter()
            try:
                await client.async_execute()
                error = None
            except Exception as err:  # reported by the notebook's own test
                error = err
            results[path] = (time.perf_counter() - started, error)

    async def run_all():
        slots = asyncio.Semaphore(max(1, min(4, os.cpu_count() or 1)))
        await asyncio.gather(*(run(path, slots) for path in selected))

    with pytest.MonkeyPatch.context() as mp:
        # each kernel is a new process: it finds this checkout through PYTHONPATH and draws no windows
        mp.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        mp.setenv("MPLBACKEND", "Agg")
        asyncio.run(run_all())
    return results


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    if needs_conv(path):
        pytest.skip("minigrad has no Conv2d yet")
    seconds, error = executed[path]
    if error is not None:
        raise error
