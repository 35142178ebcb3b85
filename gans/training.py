"""Training a book experiment on either engine, into a run folder.

The run folder holds ``config.json``, ``losses.csv``, ``loss.png``, ``samples.png``,
``metrics.json``, ``checkpoint.npz`` and the one before it, ``checkpoint.prev.npz``.  ``resume=True`` continues from the checkpoint
exactly: same weights, optimiser state, position in the data and random stream.
"""
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import minigrad
from . import checkpoint, experiments, grad_stats, plots, run_folder
from .csvlog import CsvLog
from .data import centre_crop, load_mnist, open_celeba
from .engines import Engine, seed_everything
from .evaluation.scoring import MNIST_GANS, check_count, evaluate_gan
from .interrupt import Interrupted, StopRequests
from .progress import progress
from .threads import current_threads, use_threads

LOSS_COLUMNS = {"classifier": ["loss"], "gan": ["d_real", "d_fake", "g", "D(x)", "D(G(z))"]}


@dataclass
class TrainingData:
    """What the stream reads, in file order as the book does: images (array or lazy HDF5
    file), labels, how many to use, and a note on where they came from."""
    images: object
    labels: object
    size: int
    source: str
    synthetic: bool = False


@dataclass
class RunConfig:
    """What a run is, resolved from the options given (and, on a resume, from the run):
    written to config.json and into every checkpoint, and kept by a resume."""
    experiment: str
    engine: str
    device: str
    dtype: str
    seed: int
    limit: int | None
    data: str | None          # the --data given (None: the default data)
    log_every: int
    options: dict
    cuda_graph: bool
    threads: int
    epochs: int
    data_source: str          # where the data came from, as the loader says
    synthetic_data: bool
    steps: int

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclass
class Schedule:
    """When a run does what besides training: checkpoints (every ``checkpoint_every`` steps
    if given, else at most every ``checkpoint_minutes``), sample pictures, a stop before the
    end, the final evaluation, gradient statistics, a progress bar."""
    checkpoint_every: int | None = None
    checkpoint_minutes: float = checkpoint.DEFAULT_MINUTES
    sample_every: int | None = None
    stop_after: int | None = None
    eval_samples: int = 2000
    grad_stats_every: int | None = None
    progress: bool = True


def load_data(experiment, path=None, limit=None, split="train"):
    """The experiment's training (or test) data, from ``path`` or the defaults."""
    if experiment.data == "pattern":
        return TrainingData(None, None, 1, "the 1010 pattern, generated")
    if experiment.data == "mnist":
        mnist = load_mnist(split, path)
        n = len(mnist) if limit is None else min(limit, len(mnist))
        return TrainingData(mnist.images, mnist.labels, n, mnist.source)
    faces = open_celeba(path)
    n = len(faces) if limit is None else min(limit, len(faces))
    note = f"{faces.path}" + (" (synthetic face-like images, not CelebA)" if faces.synthetic else "")
    images = CroppedImages(faces) if experiment.data == "celeba-crop" else faces
    return TrainingData(images, None, n, note, faces.synthetic)


class CroppedImages:
    """CelebA images cut to their 128×128 centre, as the book's convolutional chapter does."""

    def __init__(self, images):
        self.images = images

    def __getitem__(self, index):
        return centre_crop(self.images[index], 128)

    def __len__(self):
        return len(self.images)


def default_epochs(experiment, dataset):
    """The book's epochs; MNIST GANs on the small embedded subset get 12 passes (60 000 steps,
    a quarter of the book's 4 × 60 000) so that the default run shows digits in minutes."""
    if experiment.is_gan and experiment.data == "mnist" and dataset.source.startswith("embedded"):
        return max(experiment.epochs, experiments.SUBSET_GAN_EPOCHS)
    return experiment.epochs


def total_steps(experiment, dataset, epochs):
    """Training iterations: one per example per epoch (the pattern GAN: 1000 per 'epoch')."""
    return epochs * (1000 if experiment.data == "pattern" else dataset.size)


def build(name, engine="minigrad", device="cpu", dtype="float32", seed=0, options=None, capturable=False):
    """The experiment and its models on an engine, initialised from ``seed``."""
    experiment = experiments.get(name)
    e = Engine(engine, device, dtype, capturable)
    seed_everything(seed)
    return experiment, e, experiment.build(e, options or {})


def train(name, engine="minigrad", device="cpu", dtype=None, epochs=None, limit=None, seed=None, data=None,
          out=None, resume=False, overwrite=False, checkpoint_every=None, checkpoint_minutes=checkpoint.DEFAULT_MINUTES,
          log_every=None, options=None, progress=True, steps=None, sample_every=None, stop_after=None,
          eval_samples=2000, cuda_graph=False, grad_stats_every=None, threads=None, echo=print):
    """Train experiment ``name``; returns the metrics dict (also written to metrics.json).

    The run folder ``out`` (default ``runs/NAME-ENGINE``) must not hold a run already,
    unless ``resume`` (continue it exactly: weights, optimiser state, position in the data
    and random stream) or ``overwrite`` (delete it first); see ``gans.run_folder``.
    ``dtype`` (float32), ``seed`` (0) and ``log_every`` (10): a resumed run keeps its own, as it
    keeps its ``limit`` and ``data``; a different value given is refused.
    Checkpoints are written every ``checkpoint_every`` steps if given, else at most every
    ``checkpoint_minutes``, and always at the end; the one before is kept beside it.
    ``steps`` overrides the number of iterations that ``epochs`` implies; ``stop_after``
    ends the run early at that step with a checkpoint, as an interruption would.
    Ctrl-C or SIGTERM finish the current step, save, and raise ``interrupt.Interrupted``.
    ``eval_samples``: an MNIST GAN that finishes is scored on that many samples (mode
    coverage, FID, …, see ``gans.evaluation``); 0 skips it.
    ``cuda_graph``: capture the training step once as a CUDA graph and replay it (Adam keeps
    its step count on the device); on the CPU the step runs eagerly.
    ``grad_stats_every``: every that many steps (0: every ``log_every``), write per-layer gradient and
    weight norms to grad_stats.csv (and grad_stats.png at the end; see ``gans.grad_stats``).
    ``threads``: give both engines this many threads (see ``gans.threads``); recorded either way.
    ``echo``: where notes on the run go (a checkpoint that fell back on the previous one).
    """
    if cuda_graph and grad_stats_every and device == "cuda":
        raise ValueError("--grad-stats reads the gradients in Python after each step, and a replayed CUDA graph "
                         "never comes back to Python inside the step: use one or the other")
    if eval_samples:  # (0: no evaluation) say so now, not after the training
        check_count(eval_samples)
    threads = use_threads(threads) if threads else current_threads()
    folder = Path(out or Path("runs") / f"{name}-{engine}")
    run_folder.check(folder, resume, overwrite)
    start_step, meta = 0, None
    if resume:
        meta, arrays, note = checkpoint.load_latest(folder / "checkpoint.npz")
        if note:
            echo(f"note: {note}")
        saved = meta["config"]
        check_resumable(folder, saved, name, dtype)
        # the engine and device may change: checkpoints are interchangeable between them
        for option, given, kept in (("--limit", limit, saved["limit"]), ("--seed", seed, saved["seed"]),
                                    ("--log-every", log_every, saved["log_every"])):
            if given is not None and given != kept:
                raise checkpoint.CheckpointError(f"{folder} was trained with {option} {kept}; a resume keeps it "
                                                 f"(leave out {option}), not {given}")
        seed, limit, data, options = saved["seed"], saved["limit"], saved["data"], saved["options"]
        log_every, dtype = saved["log_every"], saved["dtype"]
        if not epochs and not steps:
            steps = saved["steps"]
        epochs = epochs or saved["epochs"]
        start_step = meta["step"]
    log_every_given = log_every is not None and not resume
    dtype, seed, log_every = dtype or "float32", seed or 0, log_every or 10
    if grad_stats_every == 0:  # --grad-stats without K: as often as losses.csv
        grad_stats_every = log_every
    experiment, e, m = build(name, engine, device, dtype, seed, options, capturable=cuda_graph)
    dataset = load_data(experiment, data, limit)
    # the test split too, now: a missing one would otherwise be found after the training
    test = None if experiment.is_gan else load_data(experiment, data, None, split="test")
    epochs = epochs or default_epochs(experiment, dataset)
    steps = steps or total_steps(experiment, dataset, epochs)
    if log_every_given and log_every > steps:
        raise ValueError(f"--log-every {log_every} is more than the run's {steps} steps: losses.csv would stay empty")
    if start_step >= steps:
        raise checkpoint.CheckpointError(f"{folder} is at step {start_step} already, of the {steps} asked for: "
                                         "nothing to train (more --epochs continue it)")
    config = RunConfig(experiment=name, engine=engine, device=device, dtype=dtype, seed=seed, limit=limit,
                       data=str(data) if data else None, log_every=log_every, options=options or {},
                       cuda_graph=cuda_graph, threads=threads, epochs=epochs, data_source=dataset.source,
                       synthetic_data=dataset.synthetic, steps=steps)
    schedule = Schedule(checkpoint_every=checkpoint_every, checkpoint_minutes=checkpoint_minutes,
                        sample_every=sample_every, stop_after=stop_after, eval_samples=eval_samples,
                        grad_stats_every=grad_stats_every, progress=progress)
    rng = np.random.default_rng(seed)
    fixed = fixed_inputs(experiment, np.random.default_rng(seed + 1))
    if meta is not None:
        checkpoint.restore(meta, arrays, m.modules(), m.optimisers(), e)
        rng.bit_generator.state = meta["rng"]
    with run_folder.RunFolder(folder, overwrite) as run, StopRequests() as stop:
        checkpoint.write_json(run.path("config.json"), config.as_dict())
        return _train_loop(experiment, m, e, run, config, schedule, rng, fixed, dataset, test, start_step, stop)


def check_resumable(folder, saved, name, dtype):
    """A resume continues the run in the folder as it was: same experiment, same dtype."""
    try:
        recorded = json.loads((Path(folder) / "config.json").read_text())["experiment"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = saved["experiment"]  # config.json is rewritten from the checkpoint's copy
    if recorded != saved["experiment"]:
        raise checkpoint.CheckpointError(f"{folder}: config.json is a {recorded} run but checkpoint.npz holds "
                                         f"{saved['experiment']}; they do not belong together")
    if saved["experiment"] != name:
        raise checkpoint.CheckpointError(f"{folder} holds a {saved['experiment']} run, not {name}: resume it with "
                                         f"'gans train {saved['experiment']} --resume', or train {name} elsewhere")
    if dtype and dtype != saved["dtype"]:
        raise checkpoint.CheckpointError(f"{folder} was trained in {saved['dtype']}; it resumes in {saved['dtype']} "
                                         f"(leave out --dtype), not {dtype}")


def _train_loop(experiment, m, e, run, config, schedule, rng, fixed, dataset, test, start_step, stop):
    name, engine, steps = config.experiment, config.engine, config.steps
    resumed = start_step > 0
    sample_every = schedule.sample_every or max(steps // 10, 1)
    stop_after, eval_samples, grad_stats_every = schedule.stop_after, schedule.eval_samples, schedule.grad_stats_every
    columns = LOSS_COLUMNS[experiment.kind]
    log = CsvLog(run.path("losses.csv"), ["step"] + columns, keep_until=start_step)
    constants = experiment.constants(e)
    stats = grad_stats.GradStats(run.folder, m, e, grad_stats_every, keep_until=start_step,
                                 title=f"{name} [{engine}]") if grad_stats_every else None
    saver = CheckpointSaver(run, m, e, config, rng, log, schedule.checkpoint_every, schedule.checkpoint_minutes,
                            saved_step=start_step or None)
    bar = _progress_bar(schedule.progress, steps, start_step, name, engine)
    first_step_seconds, training_seconds, steps_done = 0.0, 0.0, 0  # as gans compare: the first step apart
    # a finished MNIST GAN is scored at the end, and its samples.png drawn with the scores
    scored = experiment.name in MNIST_GANS and eval_samples and (stop_after is None or stop_after >= steps)
    run_step = make_step(experiment, m, e, constants, cuda_graph=config.cuda_graph)
    for step, batch in experiment.stream(dataset, rng, start_step, steps):
        started = time.perf_counter()
        if stats is not None:
            stats.begin(step + 1)
        outputs = run_step(experiment.tensors(e, batch))
        if stats is not None:
            stats.end(step + 1)
        if (step + 1) % config.log_every == 0:
            values = {k: float(e.numpy(v).reshape(-1)[0]) for k, v in outputs.items()}
            log.append({"step": step + 1, **{k: f"{values[k]:.6g}" for k in columns}})
        if steps_done:
            training_seconds += time.perf_counter() - started
        else:  # with the one-time set-up: kernel compilation, index plans, CUDA-graph capture
            first_step_seconds = time.perf_counter() - started
        steps_done += 1
        if bar is not None:
            if (step + 1) % config.log_every == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
            bar.update(1)
        stopping = stop_after is not None and step + 1 >= stop_after
        last = stopping or step + 1 == steps
        saver.maybe_save(step + 1, now=last or stop.signum is not None)
        if stop.signum is not None:
            if bar is not None:
                bar.close()
            raise Interrupted(stop.signum, step + 1, f"stopped at step {step + 1} of {steps}; saved "
                              f"{run.path('checkpoint.npz')} and {run.path('losses.csv').name}")
        if experiment.is_gan and ((step + 1) % sample_every == 0 or last) and not (last and scored):
            plots.samples(run.path("samples.png"), experiment, experiment.generate(m, e, *fixed), fixed[1])
        if stopping:
            break
    e.synchronize()
    if bar is not None:
        bar.close()
    log.close()
    if stats is not None:
        stats.close()

    metrics = dict(experiment=name, chapter=experiment.chapter, engine=engine, device=config.device,
                   dtype=config.dtype, threads=config.threads, steps=steps, epochs=config.epochs,
                   data=dataset.source, synthetic_data=dataset.synthetic, resumed_at_step=start_step if resumed else None,
                   seconds_per_step=training_seconds / (steps_done - 1) if steps_done > 1 else first_step_seconds,
                   first_step_seconds=first_step_seconds, minigrad_accel=minigrad.accel.ENABLED, **saver.report(),
                   book=experiment.book)
    if log.last is not None:
        metrics.update({f"final_{k}": float(log.last[k]) for k in columns})
    if not experiment.is_gan:
        accuracy, confusion = evaluate_classifier(experiment, m, e, test)
        metrics["test_accuracy"] = accuracy
        metrics["test_examples"] = test.size
        metrics["confusion_matrix"] = confusion.tolist()
        plots.confusion(run.path("samples.png"), confusion, accuracy, name)
    if scored:
        scores = evaluate_gan(experiment, m, e, eval_samples, config.data)
        metrics["eval_samples"] = scores.pop("n")
        metrics.update(scores)
        plots.samples(run.path("samples.png"), experiment, experiment.generate(m, e, *fixed), fixed[1],
                      histogram=scores["class_histogram"])
    plots.losses(run.path("loss.png"), run.path("losses.csv"), name, engine)
    metrics["run_folder"] = str(run.folder)
    checkpoint.write_json(run.path("metrics.json"), metrics)
    return metrics


class CheckpointSaver:
    """Writes the checkpoint every ``every`` steps if given, else when ``minutes`` have passed
    since the last one (or when told to: at the end, on a signal), and keeps account of the
    cost: a CelebA checkpoint (hundreds of MB) written at every step would cost more than the training."""

    def __init__(self, run, m, e, config, rng, log, every=None, minutes=checkpoint.DEFAULT_MINUTES, saved_step=None):
        self.run, self.m, self.e, self.config, self.rng, self.log = run, m, e, config, rng, log
        self.every, self.seconds = every, minutes * 60
        self.last_write = time.monotonic()
        self.writes, self.write_seconds, self.bytes = 0, 0.0, 0
        self.saved_step = saved_step  # the step of the checkpoint on disk

    def maybe_save(self, step, now=False):
        due = step % self.every == 0 if self.every else time.monotonic() - self.last_write >= self.seconds
        if now or due:
            self.save(step)

    def save(self, step):
        started = time.perf_counter()
        self.log.flush()  # a resume from this checkpoint keeps the rows up to it
        meta = {"config": self.config.as_dict(), "step": step, "rng": self.rng.bit_generator.state,
                "engine_rng": engine_rng_state(self.e)}
        path = self.run.path("checkpoint.npz")
        try:
            checkpoint.save(path, self.m.modules(), self.m.optimisers(), meta, self.e)
        except OSError as err:  # a full disk, a failing device: the write went to a temporary file
            kept = f"the checkpoint of step {self.saved_step} is intact" if self.saved_step else "none was written yet"
            raise checkpoint.CheckpointError(f"could not write {path} at step {step} "
                                             f"({err.strerror or err}); {kept}") from err
        self.saved_step = step
        self.writes += 1
        self.write_seconds += time.perf_counter() - started
        self.bytes = path.stat().st_size
        self.last_write = time.monotonic()

    def report(self):
        return dict(checkpoint_bytes=self.bytes, checkpoint_writes=self.writes,
                    checkpoint_seconds_each=self.write_seconds / max(self.writes, 1))


def make_step(experiment, m, e, constants, cuda_graph=False):
    """One training iteration as a function of the batch's tensors: eager, or captured as a
    CUDA graph on its first call and replayed afterwards."""
    if cuda_graph:
        return graphed_step(experiment, m, e, constants)
    return lambda tensors: experiment.step(m, e, tensors, constants)


def graphed_step(experiment, m, e, constants):
    """The training step captured as a CUDA graph on its first call, replayed afterwards
    (``Engine.graphed``; on the CPU it runs eagerly and says so once)."""
    replay, keys = None, None

    def step(tensors):
        nonlocal replay, keys
        if replay is None:
            keys = sorted(tensors)
            state = tuple(m.modules().values()) + tuple(m.optimisers().values())
            replay = e.graphed(lambda *inputs: experiment.step(m, e, dict(zip(keys, inputs)), constants),
                               [tensors[k] for k in keys], state)
        return replay(*(tensors[k] for k in keys))
    return step


def engine_rng_state(e):
    """The engine's own generator is used only to initialise weights; recorded for the record."""
    if e.name == "minigrad":
        return e.lib.get_rng_state()
    return None


def fixed_inputs(experiment, rng, per_class=6):
    """The noise (and labels) behind samples.png: the same picture positions all run long."""
    if not experiment.is_gan:
        return None, None
    if experiment.labels:
        labels = [experiments.one_hot(k) for k in range(10) for _ in range(per_class)]
        return [experiment.seed(rng) for _ in labels], labels
    count = 1 if experiment.seed_kind == "half" else 12
    return [experiment.seed(rng) for _ in range(count)], None


def evaluate_classifier(experiment, m, e, test):
    """Test accuracy (argmax of the 10 outputs equals the label) and the confusion matrix."""
    confusion = np.zeros((10, 10), dtype=np.int64)
    m.classifier.model.eval()
    with e.no_grad():
        for i in range(test.size):
            image, label = experiment.example(test.images, test.labels, i)
            guess = int(np.argmax(e.numpy(m.classifier(e.tensor(image)))))
            confusion[label, guess] += 1
    m.classifier.model.train()
    return float(np.trace(confusion) / max(confusion.sum(), 1)), confusion


def _progress_bar(enabled, total, start, name, engine):
    return progress(None, f"{name} [{engine}]", "step", total, initial=start) if enabled else None
