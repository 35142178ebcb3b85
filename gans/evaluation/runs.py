"""What ``gans eval`` does: score a trained run folder, or any file of digit images.

This sits above training (it restores a run's models and uses the classifier's test loop),
while :mod:`gans.evaluation.scoring` sits below it (training scores a finished GAN).
"""
from ..generate import load_run
from ..training import evaluate_classifier, load_data
from .scoring import default_engine, evaluate_gan, format_report, load_images, real_digits, score_images


def evaluate(run_dir=None, images_path=None, n=None, data=None, engine=None):
    """Score a run folder or a ``.npy`` file; returns (report, result).

    An MNIST GAN run: ``n`` samples (default 10 000) scored with :func:`evaluate_gan`.  A
    classifier run: its test accuracy and confusion matrix.  ``images_path``: any N×784 or
    N×28×28 array in [0, 1] (another project's samples, real digits, noise), its first
    ``n`` images if ``n`` is given.
    """
    if images_path is not None:
        images = load_images(images_path)
        if n is not None:
            images = images[:n]
        result = score_images(images, real_digits(engine or default_engine(), data))
        return format_report(result, f"{images_path}: {result['n']} images"), result
    experiment, e, m, meta = load_run(run_dir, engine)
    data = data or meta["config"].get("data")
    title = f"{run_dir}: {experiment.name} [{e.name}], step {meta['step']}"
    if not experiment.is_gan:
        if n is not None:
            raise ValueError(f"--n counts GAN samples; the {experiment.name} run is scored on the whole test split")
        test = load_data(experiment, data, None, split="test")
        accuracy, confusion = evaluate_classifier(experiment, m, e, test)
        result = {"experiment": experiment.name, "engine": e.name, "step": meta["step"], "test_accuracy": accuracy,
                  "test_examples": test.size, "data": test.source, "confusion_matrix": confusion.tolist()}
        rows = "\n".join(f"  {digit}: " + " ".join(f"{c:5d}" for c in row) for digit, row in enumerate(confusion))
        report = (f"{title}\n  test accuracy {accuracy:.4f} on {test.size} digits ({test.source})\n"
                  f"  confusion matrix (rows: true digit, columns: predicted)\n{rows}")
        return report, result
    result = {"experiment": experiment.name, "engine": e.name, "step": meta["step"]}
    result.update(evaluate_gan(experiment, m, e, 10000 if n is None else n, data))
    return format_report(result, f"{title}, {result['n']} samples"), result
