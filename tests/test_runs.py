"""Runs a user can trust: options checked before anything is written, run folders never
silently replaced or shared, checkpoints that survive kills and full disks, Ctrl-C that
keeps the work, and the same threads for both engines."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import minigrad
from gans import checkpoint, cli, run_folder, training

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys):
    """``gans ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(argv)
    except SystemExit as stop:  # argparse's errors
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


BAD_OPTIONS = [
    ("train classifier --epochs -1", "argument --epochs: must be at least 1, got -1"),
    ("train classifier --limit 0", "argument --limit: must be at least 1, got 0"),
    ("train classifier --epochs two", "argument --epochs: expected a whole number, got 'two'"),
    ("train mnist-gan --seed -3", "argument --seed: must be at least 0, got -3"),
    ("train mnist-gan --log-every 0", "argument --log-every: must be at least 1, got 0"),
    ("train mnist-gan --checkpoint-every 0", "argument --checkpoint-every: must be at least 1, got 0"),
    ("train mnist-gan --checkpoint-minutes 0", "argument --checkpoint-minutes: must be a number above 0, got 0"),
    ("train mnist-gan --checkpoint-minutes nan", "argument --checkpoint-minutes: must be a number above 0, got nan"),
    ("train mnist-gan --eval-samples -1", "argument --eval-samples: must be at least 0, got -1"),
    ("train mnist-gan --eval-samples 3", "scoring needs at least 4 images"),
    ("train mnist-gan --grad-stats -2", "argument --grad-stats: must be at least 0, got -2"),
    ("train mnist-gan --threads 0", "argument --threads: must be at least 1, got 0"),
    ("train mnist-gan --dtype float16", "argument --dtype: invalid choice: 'float16'"),
    ("train no-such-gan", "unknown experiment 'no-such-gan'"),
    ("train mnist-gan --adam", "refine the classifier experiment only"),
    ("train mnist-gan --resume --overwrite", "--resume continues the run in the folder and --overwrite replaces it"),
    ("train mnist-gan --resume --out never-trained", "no checkpoint in never-trained to resume from"),
    ("compare mnist-gan --steps 0", "argument --steps: must be at least 1, got 0"),
    ("compare mnist-gan --every -1", "argument --every: must be at least 1, got -1"),
    ("compare mnist-gan --limit 0", "argument --limit: must be at least 1, got 0"),
    ("eval --images x.npy --n 0", "argument --n: must be at least 1, got 0"),
    ("eval", "give either a run folder or --images FILE.npy"),
    ("bench --seconds 0", "argument --seconds: must be a number above 0, got 0"),
    ("bench --threads -1", "argument --threads: must be at least 1, got -1"),
    ("data celeba --synthetic 0", "argument --synthetic: must be at least 1, got 0"),
    ("data celeba --limit -5", "argument --limit: must be at least 1, got -5"),
    ("graph mnist-gan --out g.svg --seed -1", "argument --seed: must be at least 0, got -1"),
    ("train mnist-gan --seed 4294967296", "argument --seed: must be at most 2**32 - 1 = 4294967295"),
    ("train pattern-1010 --limit 3", "--limit chooses training examples; pattern-1010 makes its own"),
    ("bench pattern-1010 --json out.txt", "--json out.txt: cannot write .txt; use .json"),
    ("bench pattern-1010 --engine ,", "--engine names no engine"),
    ("eval --images x.npy --json scores", "--json scores: cannot write a name without a suffix; use .json"),
    ("compare pattern-1010 --json report.csv", "--json report.csv: cannot write .csv; use .json"),
    ("appendix d --out d.gif", "--out d.gif: cannot write .gif; use .png, .pdf, .svg"),
    ("data mnist --from x --download", "--from and --download: give one source"),
    ("data mnist --synthetic 3", "--synthetic makes CelebA-like faces"),
    ("data celeba --download", "CelebA cannot be downloaded here"),
    ("graph classifier --part D --out g.svg", "--part chooses a GAN's network; classifier has one network"),
    ("generate run --interpolate --n 5 --out x.png", "--interpolate draws 12 images and --seed-arithmetic 3; "
                                                     "leave out --n"),
    ("generate run --interpolate --seed-arithmetic sum --out x.png", "are two experiments: give one"),
]


@pytest.mark.parametrize("command, message", BAD_OPTIONS, ids=[c for c, _ in BAD_OPTIONS])
def test_a_bad_option_is_one_line_and_exit_2_with_nothing_written(command, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(command.split(), capsys)
    assert status == 2
    prog = "gans " + command.split()[0]
    assert err.startswith(f"{prog}: error: ") and message in err and err.count("\n") == 1, err
    assert tree(tmp_path) == []


@pytest.mark.parametrize("command, given, message", [
    ("train celeba-gan --data faces --limit 2", "faces/", "faces is a folder; give the CelebA HDF5 file itself"),
    ("train classifier --data faces.h5 --limit 2", "faces.h5", "faces.h5: not MNIST data; give a folder"),
    ("eval --images digits.npy --data faces.h5", "faces.h5", "faces.h5: not MNIST data; give a folder"),
    ("compare mnist-gan --cross-device --steps 2", None, "--cross-device compares minigrad on the CPU with "
                                                         "minigrad on CUDA, and minigrad sees no CUDA GPU"),
])
def test_data_of_the_wrong_kind_is_named(command, given, message, tmp_path, monkeypatch, capsys):
    if "--cross-device" in command and minigrad.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    monkeypatch.chdir(tmp_path)
    if given == "faces/":
        (tmp_path / "faces").mkdir()
    elif given:
        (tmp_path / given).write_bytes(b"\x89HDF\r\n\x1a\n")
    np.save(tmp_path / "digits.npy", np.random.default_rng(0).random((8, 28, 28), dtype=np.float32))
    before = tree(tmp_path)
    status, out, err = run_cli(command.split(), capsys)
    assert status == 2 and err.startswith(f"gans {command.split()[0]}: error: ") and message in err, err
    assert tree(tmp_path) == before


@pytest.fixture
def pattern_run(tmp_path):
    """A short pattern-1010 run stopped at step 200 of 300, checkpoints at 100 and 200."""
    folder = tmp_path / "run"
    training.train("pattern-1010", steps=300, out=folder, progress=False, checkpoint_every=100, stop_after=200)
    return folder


def test_a_resume_keeps_the_runs_settings_and_refuses_others(pattern_run, capsys):
    for option, value, kept in (("--seed", "3", "0"), ("--log-every", "5", "10")):
        status, _, err = run_cli(["train", "pattern-1010", "--resume", option, value, "--out", str(pattern_run)], capsys)
        assert status == 2 and f"was trained with {option} {kept}; a resume keeps it (leave out {option})" in err
    status, _, err = run_cli(["train", "pattern-1010", "--resume", "--seed", "0", "--quiet", "--out", str(pattern_run)],
                             capsys)  # the same value is no conflict
    assert status == 0, err


def test_a_resume_refuses_another_experiment_or_dtype_before_writing(pattern_run, capsys):
    before = {p: p.stat().st_mtime_ns for p in pattern_run.iterdir()}
    status, _, err = run_cli(["train", "mnist-gan", "--resume", "--out", str(pattern_run)], capsys)
    assert status == 2 and "holds a pattern-1010 run, not mnist-gan" in err
    status, _, err = run_cli(["train", "pattern-1010", "--resume", "--dtype", "float64", "--out", str(pattern_run)],
                             capsys)
    assert status == 2 and "was trained in float32; it resumes in float32 (leave out --dtype), not float64" in err
    assert {p: p.stat().st_mtime_ns for p in pattern_run.iterdir()} == before


def test_a_second_run_into_the_same_folder_is_refused_and_overwrite_leaves_nothing_of_the_first(
        pattern_run, capsys):
    (pattern_run / "grad_stats.csv").write_text("step\n")  # a file only the earlier run wrote
    before = {p: p.read_bytes() for p in pattern_run.iterdir() if p.is_file()}
    status, _, err = run_cli(["train", "pattern-1010", "--out", str(pattern_run), "--quiet"], capsys)
    assert status == 2 and "already holds a run (pattern-1010 on minigrad, 300 steps); --resume continues it" in err
    assert {p: p.read_bytes() for p in pattern_run.iterdir() if p.is_file()} == before
    training.train("pattern-1010", steps=50, out=pattern_run, progress=False, overwrite=True)
    assert not (pattern_run / "grad_stats.csv").exists() and not (pattern_run / "checkpoint.prev.npz").exists()
    assert json.loads((pattern_run / "config.json").read_text())["steps"] == 50


def test_a_folder_of_other_files_is_never_trained_into_and_overwrite_deletes_only_what_a_run_wrote(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    for overwrite in (False, True):
        with pytest.raises(run_folder.RunFolderError, match="holds files but no run .thesis.tex.: train into an "
                                                            "empty or new folder"):
            training.train("pattern-1010", steps=5, out=tmp_path, progress=False, overwrite=overwrite)
    assert tree(tmp_path) == ["thesis.tex"]
    run = tmp_path / "run"
    training.train("pattern-1010", steps=5, out=run, progress=False)
    (run / "notes.txt").write_text("mine")  # a user's file beside a run
    training.train("pattern-1010", steps=5, out=run, progress=False, overwrite=True)
    assert (run / "notes.txt").read_text() == "mine"


def test_a_resume_with_nothing_left_to_train_changes_nothing(pattern_run):
    training.train("pattern-1010", out=pattern_run, progress=False, resume=True)  # to the end: step 300
    before = {p.name: p.read_bytes() for p in pattern_run.iterdir() if p.is_file()}
    with pytest.raises(checkpoint.CheckpointError, match="is at step 300 already, of the 200 asked for"):
        training.train("pattern-1010", steps=200, out=pattern_run, progress=False, resume=True)
    assert {p.name: p.read_bytes() for p in pattern_run.iterdir() if p.is_file()} == before


def test_outputs_of_other_commands_never_land_on_a_run(pattern_run, capsys):
    status, _, err = run_cli(["eval", "--images", "x.npy", "--json", str(pattern_run / "metrics.json")], capsys)
    assert status == 2 and "is a file of the training run" in err
    status, _, err = run_cli(["compare", "pattern-1010", "--steps", "2", "--out", str(pattern_run)], capsys)
    assert status == 2 and "holds a training run; write the comparison to another folder" in err


def test_a_missing_test_split_stops_a_classifier_before_training(tmp_path, capsys):
    from gans.data import load_mnist, write_idx
    mnist, folder = load_mnist("train"), tmp_path / "only-train"
    write_idx(folder / "train-images-idx3-ubyte", mnist.images[:20])
    write_idx(folder / "train-labels-idx1-ubyte", mnist.labels[:20])
    status, _, err = run_cli(["train", "classifier", "--data", str(folder), "--out", str(tmp_path / "run"),
                              "--quiet"], capsys)
    assert status == 2 and "t10k" in err and not (tmp_path / "run").exists()


def test_two_processes_cannot_train_into_one_folder(tmp_path):
    lock = run_folder.acquire_lock(tmp_path)  # as a gans train holding the folder would
    try:
        with pytest.raises(run_folder.RunFolderError, match=f"another gans process \\(PID {os.getpid()}\\)"):
            training.train("pattern-1010", steps=5, out=tmp_path, progress=False)
    finally:
        lock.close()
    training.train("pattern-1010", steps=5, out=tmp_path, progress=False)  # released: the folder is free again


def final_state(folder):
    """The trained weights and optimiser state, and the loss log's bytes."""
    _, arrays = checkpoint.load(folder / "checkpoint.npz")
    return arrays, (folder / "losses.csv").read_bytes()


def assert_same_run(a, b):
    arrays_a, log_a = final_state(a)
    arrays_b, log_b = final_state(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    assert log_a == log_b


def test_a_damaged_checkpoint_falls_back_on_the_previous_one_and_resumes_to_the_same_bits(pattern_run, tmp_path):
    whole = tmp_path / "whole"
    training.train("pattern-1010", steps=300, out=whole, progress=False, checkpoint_every=100)
    current = pattern_run / "checkpoint.npz"
    current.write_bytes(current.read_bytes()[:-100])  # cut short, as a full disk or a stopped copy leaves it
    notes = []
    metrics = training.train("pattern-1010", out=pattern_run, progress=False, resume=True, echo=notes.append)
    assert notes == [f"note: checkpoint.npz in {pattern_run} is damaged ({current}: the checkpoint is cut short or "
                     "damaged (no zip directory at its end)); using checkpoint.prev.npz (step 100)"]
    assert metrics["resumed_at_step"] == 100
    assert_same_run(pattern_run, whole)


def test_without_a_good_checkpoint_a_resume_says_so(pattern_run):
    (pattern_run / "checkpoint.npz").write_bytes(b"PK\x03\x04 and then nothing")
    (pattern_run / "checkpoint.prev.npz").unlink()
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint.npz in .* is damaged .*, and there is no "
                                                         "previous checkpoint to fall back on"):
        training.train("pattern-1010", out=pattern_run, progress=False, resume=True)


def test_a_failed_write_leaves_the_previous_checkpoint_and_says_so(pattern_run, monkeypatch):
    good = (pattern_run / "checkpoint.npz").read_bytes()

    def disk_full(file, **arrays):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(checkpoint.np, "savez", disk_full)
    with pytest.raises(checkpoint.CheckpointError, match=r"could not write .*checkpoint.npz at step 300 \(No space "
                                                         r"left on device\); the checkpoint of step 200 is intact"):
        training.train("pattern-1010", out=pattern_run, progress=False, resume=True)
    assert (pattern_run / "checkpoint.npz").read_bytes() == good
    assert not [p for p in pattern_run.iterdir() if p.name.endswith(".tmp")]


@settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_damaged_checkpoint_is_read_right_or_named(pattern_run, data):
    path = pattern_run / "checkpoint.npz"
    original = path.read_bytes()
    meta, arrays = checkpoint.load(path)
    damaged = bytearray(original)
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[:data.draw(st.integers(0, len(original) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            damaged[data.draw(st.integers(0, len(original) - 1), label="at")] ^= data.draw(st.integers(1, 255))
    target = pattern_run / "damaged.npz"
    target.write_bytes(bytes(damaged))
    try:
        got_meta, got = checkpoint.load(target)
    except checkpoint.CheckpointError as err:
        assert str(target) in str(err)
        return
    assert got_meta == meta and sorted(got) == sorted(arrays)  # a harmless change (a timestamp, a comment)
    for key in arrays:
        np.testing.assert_array_equal(got[key], arrays[key])


def test_threads_are_given_to_both_engines_and_recorded(tmp_path):
    import torch
    from threadpoolctl import threadpool_info
    metrics = training.train("pattern-1010", steps=20, out=tmp_path, progress=False, threads=2)
    assert torch.get_num_threads() == 2 and {p["num_threads"] for p in threadpool_info()} == {2}
    assert metrics["threads"] == 2 and json.loads((tmp_path / "config.json").read_text())["threads"] == 2
    training.train("pattern-1010", steps=20, out=tmp_path / "b", progress=False, threads=1)
    assert torch.get_num_threads() == 1


# ---- real signals, in subprocesses ---------------------------------------------------------------------------

TRAIN = ["train", "pattern-1010", "--epochs", "4", "--checkpoint-every", "200", "--quiet", "--eval-samples", "0"]

# runs `gans` with checkpoint writes slowed down, so that a signal can land inside one
SLOW_WRITES = """
import sys, time
from pathlib import Path
from gans import checkpoint, cli
marker, write = Path(sys.argv[1]), checkpoint.write_atomically
def slow(path, save, previous=None):
    def save_slowly(f):
        save(f)
        f.flush()
        marker.write_text(str(path))
        time.sleep(30)
    write(path, save_slowly if str(path).endswith(".npz") else save, previous)
checkpoint.write_atomically = slow
sys.exit(cli.main(sys.argv[2:]))
"""


def gans(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "gans", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(condition, timeout=60):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole") / "run"
    done = gans(TRAIN + ["--out", str(folder)])
    assert done.wait(120) == 0, done.stderr.read()
    return folder


def resume(folder):
    done = gans(TRAIN[:2] + ["--resume", "--out", str(folder), "--quiet", "--eval-samples", "0"])
    assert done.wait(120) == 0, done.stderr.read()


def rows(folder):
    try:
        return (folder / "losses.csv").read_text().count("\n")
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_says_how_to_resume_and_the_resumed_run_has_the_same_bits(
        signum, status, uninterrupted, tmp_path):
    folder = tmp_path / "run"
    training_run = gans(TRAIN + ["--out", str(folder)])
    wait_for(lambda: rows(folder) > 1 + np.random.default_rng(signum).integers(1, 250))  # somewhere in the run
    training_run.send_signal(signum)
    assert training_run.wait(60) == status
    err = training_run.stderr.read()
    assert err.startswith("gans train: stopped at step ") and err.count("\n") == 1, err
    assert f"saved {folder / 'checkpoint.npz'} and losses.csv; resume with: gans train pattern-1010 --resume " \
           f"--out {folder}" in err
    stopped_at = int(err.split("stopped at step ")[1].split()[0])
    meta, _ = checkpoint.load(folder / "checkpoint.npz")
    assert meta["step"] == stopped_at and rows(folder) == 1 + stopped_at // 10
    resume(folder)
    assert_same_run(folder, uninterrupted)


@pytest.mark.parametrize("kill", ["second Ctrl-C", "kill -9"])
def test_a_stop_inside_a_checkpoint_write_keeps_the_last_good_one(kill, uninterrupted, tmp_path):
    folder, marker = tmp_path / "run", tmp_path / "writing"
    training_run = subprocess.Popen([sys.executable, "-c", SLOW_WRITES, str(marker), *TRAIN, "--out", str(folder)],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker.exists)  # the first checkpoint (step 200) is being written
    if kill == "kill -9":
        training_run.kill()
        assert training_run.wait(60) == -signal.SIGKILL
        assert not (folder / "checkpoint.npz").exists()  # it never got there: the resume has nothing to go on
        assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # only the unfinished write
        done = gans(TRAIN + ["--out", str(folder)])
        assert done.wait(120) == 2 and "already holds a run" in done.stderr.read()
        done = gans(TRAIN + ["--out", str(folder), "--overwrite"])
        assert done.wait(120) == 0, done.stderr.read()
    else:
        training_run.send_signal(signal.SIGINT)  # asks to stop after this step...
        time.sleep(0.2)
        training_run.send_signal(signal.SIGINT)  # ...and this one stops at once, inside the write
        assert training_run.wait(60) == 130
        err = training_run.stderr.read()
        assert err == "gans train: interrupted\n", err
        assert not (folder / "checkpoint.npz").exists()
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # the unfinished write is cleaned up
        done = gans(TRAIN + ["--out", str(folder), "--overwrite"])
        assert done.wait(120) == 0, done.stderr.read()
    assert_same_run(folder, uninterrupted)


def test_a_kill_inside_a_later_checkpoint_write_resumes_from_the_one_before(uninterrupted, tmp_path):
    folder, marker = tmp_path / "run", tmp_path / "writing"
    first = gans(TRAIN + ["--out", str(folder)])
    wait_for(lambda: (folder / "checkpoint.prev.npz").exists())  # two checkpoints are on disk
    first.send_signal(signal.SIGINT)
    assert first.wait(60) == 130
    training_run = subprocess.Popen([sys.executable, "-c", SLOW_WRITES, str(marker), *TRAIN[:2], "--resume", "--out",
                                     str(folder), "--quiet", "--eval-samples", "0"], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker.exists)
    training_run.kill()
    assert training_run.wait(60) == -signal.SIGKILL
    meta, _ = checkpoint.load(folder / "checkpoint.npz")  # still the last complete one
    resume(folder)
    assert_same_run(folder, uninterrupted)


def test_a_second_process_on_a_training_folder_is_refused_with_the_first_ones_pid(tmp_path):
    folder = tmp_path / "run"
    first = gans(TRAIN + ["--out", str(folder)])
    try:
        wait_for(lambda: rows(folder) > 1)  # training, holding the lock
        second = gans(TRAIN + ["--out", str(folder), "--overwrite"])
        assert second.wait(60) == 2
        assert f"is being written by another gans process (PID {first.pid})" in second.stderr.read()
        second = gans(TRAIN[:2] + ["--resume", "--out", str(folder)])
        assert second.wait(60) == 2
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(60)


def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for command in (["train", "pattern-1010", "--out", ""], ["eval", "--images", ""], ["generate", "", "--out", "x.png"],
                    ["data", "mnist", "--from", " "]):
        status, _, err = run_cli(command, capsys)
        assert status == 2 and "expected a file or folder name, got an empty one" in err, command
    assert tree(tmp_path) == []


def test_bench_with_failed_timings_exits_2(capfd):
    status = cli.main(["bench", "classifier", "--data", "no-such-folder", "--seconds", "0.2", "--no-save",
                       "--no-matmul", "--engine", "minigrad"])
    assert status == 2
    assert "gans bench: error: 1 of the timings failed" in capfd.readouterr().err


def test_a_log_interval_longer_than_the_run_and_a_folder_in_a_runs_place_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--log-every 500 is more than the run's 300 steps"):
        training.train("pattern-1010", steps=300, out=tmp_path / "a", progress=False, log_every=500)
    (tmp_path / "b" / "checkpoint.npz").mkdir(parents=True)
    with pytest.raises(run_folder.RunFolderError, match="checkpoint.npz is a folder"):
        training.train("pattern-1010", steps=3, out=tmp_path / "b", progress=False, resume=True)


def test_data_already_there_is_replaced_only_when_asked(tmp_path, capsys):
    faces = tmp_path / "faces.h5"
    assert run_cli(["data", "celeba", "--synthetic", "2", "--out", str(faces)], capsys)[0] == 0
    made = faces.read_bytes()
    status, _, err = run_cli(["data", "celeba", "--synthetic", "3", "--out", str(faces)], capsys)
    assert status == 2 and f"{faces} exists; --overwrite replaces it" in err and faces.read_bytes() == made
    assert run_cli(["data", "celeba", "--synthetic", "3", "--out", str(faces), "--overwrite"], capsys)[0] == 0
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"an earlier import")
    status, _, err = run_cli(["data", "mnist", "--from", str(tmp_path), "--out", str(tmp_path / "mnist")], capsys)
    assert status == 2 and "train-images-idx3-ubyte.gz exists; --overwrite replaces it" in err
