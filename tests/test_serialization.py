"""minigrad.save / minigrad.load: round trips of what training saves, PyTorch's files read
safely (and refused when they hold code), damaged files named, saves that never leave a
half-written file."""
import collections
import io
import os
import zipfile

import numpy as np
import pytest
import torch

import minigrad
import minigrad.nn as nn


def test_round_trip_keeps_structure_values_dtypes_and_sharing(tmp_path):
    shared = minigrad.tensor([1.0, 2.0], requires_grad=True)
    obj = {"state": collections.OrderedDict(a=minigrad.arange(6).reshape(2, 3), b=shared),
           "again": shared, 3: (1.5, "text", None, True), "list": [minigrad.zeros(2, dtype=minigrad.float64),
                                                                  nn.Parameter(minigrad.ones(1))],
           "half": minigrad.tensor([1.0], dtype=minigrad.float16), "flags": minigrad.tensor([True, False])}
    minigrad.save(obj, tmp_path / "obj.pt")
    back = minigrad.load(tmp_path / "obj.pt")
    assert isinstance(back["state"], collections.OrderedDict) and list(back["state"]) == ["a", "b"]
    assert back["again"] is back["state"]["b"] and back["again"].requires_grad
    assert back[3] == (1.5, "text", None, True)
    assert isinstance(back["list"][1], nn.Parameter) and back["list"][1].requires_grad
    for key in ("half", "flags"):
        assert back[key].dtype == obj[key].dtype and back[key].tolist() == obj[key].tolist()
    np.testing.assert_array_equal(back["state"]["a"].numpy(), np.arange(6).reshape(2, 3))
    buffer = io.BytesIO()
    minigrad.save(obj["list"], buffer)
    buffer.seek(0)
    assert minigrad.load(buffer)[0].dtype == minigrad.float64


def test_a_training_run_resumed_from_a_checkpoint_equals_an_uninterrupted_one(tmp_path):
    def make():
        minigrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.02), nn.Linear(8, 1)).double()
        return model, minigrad.optim.Adam(model.parameters(), lr=0.01)

    def train(model, optimiser, steps, start):
        for step in range(start, start + steps):
            x = minigrad.tensor(np.sin(np.arange(4) + step), dtype=minigrad.float64)
            loss = (model(x) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return loss.item()

    model, optimiser = make()
    expected = train(model, optimiser, 20, 0)
    model, optimiser = make()
    train(model, optimiser, 10, 0)
    minigrad.save({"model": model.state_dict(), "optimiser": optimiser.state_dict()}, tmp_path / "checkpoint.pt")
    model, optimiser = make()
    checkpoint = minigrad.load(tmp_path / "checkpoint.pt")
    model.load_state_dict(checkpoint["model"])
    optimiser.load_state_dict(checkpoint["optimiser"])
    assert train(model, optimiser, 10, 10) == expected


def test_a_pytorch_state_dict_loads_into_the_same_minigrad_model(tmp_path):
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
    torch.save(theirs.state_dict(), tmp_path / "model.pt")
    ours = nn.Sequential(nn.Linear(5, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    ours.load_state_dict(minigrad.load(tmp_path / "model.pt"))
    x = np.linspace(-1, 1, 5).astype(np.float32)
    np.testing.assert_allclose(ours(minigrad.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_pytorch_files_of_every_dtype_views_parameters_and_containers(tmp_path):
    saved = {"strided": torch.arange(12.0).reshape(3, 4).t()[1:], "half": torch.tensor([0.5, 2.0]).half(),
             "ints": torch.tensor([1, -2], dtype=torch.int32), "bytes": torch.tensor([7], dtype=torch.uint8),
             "bools": torch.tensor([True, False]), "param": torch.nn.Parameter(torch.ones(2, dtype=torch.float64)),
             "nested": [(torch.tensor(3), 4.5, "s")], "size": torch.Size([2, 3])}
    torch.save(saved, tmp_path / "many.pt")
    back = minigrad.load(tmp_path / "many.pt")
    for key in ("strided", "half", "ints", "bytes", "bools"):
        np.testing.assert_array_equal(back[key].numpy(), saved[key].numpy(), err_msg=key)
        assert str(back[key].dtype) == str(saved[key].dtype).replace("torch.", ""), key
    assert isinstance(back["param"], nn.Parameter) and back["param"].dtype == np.float64
    assert back["nested"][0][0].item() == 3 and back["nested"][0][1:] == (4.5, "s")
    assert back["size"] == (2, 3)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pytorch_file_holding_code_is_refused_by_name_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"weights": torch.ones(2), "payload": RunsCode(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match=r"evil.pt: refusing to load (builtins|io)\.open"):
        minigrad.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_damaged_and_foreign_files_are_named_with_what_is_wrong(tmp_path):
    minigrad.save({"w": minigrad.ones(3)}, tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    for name, message in (("cut.pt", "not a file minigrad.save or torch.save wrote"),
                          ("text.pt", "not a file minigrad.save or torch.save wrote"),
                          ("other.zip", "neither minigrad's")):
        with pytest.raises(RuntimeError, match=message) as error:
            minigrad.load(tmp_path / name)
        assert name in str(error.value)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        minigrad.load(tmp_path / "missing.pt")
    with pytest.raises(minigrad.serialization.SaveError, match="save its state_dict"):
        minigrad.save(nn.Linear(2, 2), tmp_path / "module.pt")


def test_a_failed_save_leaves_the_previous_file_whole_and_no_temporary(tmp_path, monkeypatch):
    minigrad.save({"version": 1}, tmp_path / "c.pt")
    with pytest.raises(minigrad.serialization.SaveError):
        minigrad.save({"version": 2, "bad": object()}, tmp_path / "c.pt")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        minigrad.save({"version": 3}, tmp_path / "c.pt")
    monkeypatch.undo()
    assert minigrad.load(tmp_path / "c.pt") == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_map_location_and_no_cuda():
    buffer = io.BytesIO()
    minigrad.save(minigrad.ones(2), buffer)
    buffer.seek(0)
    assert minigrad.load(buffer, map_location="cpu").device.type == "cpu"
    if not minigrad.cuda.is_available():
        buffer.seek(0)
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            minigrad.load(buffer, map_location="cuda")
