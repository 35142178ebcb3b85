"""Measuring the GANs: an MNIST evaluator network and the metrics it makes possible.

    evaluator.py        the evaluator CNN (both engines) and its shipped weights, evaluator.npz
    train_evaluator.py  the script that trained those weights
    metrics.py          mode coverage, KL to uniform, Inception score, FID, precision/recall, label accuracy
    scoring.py          all of them for a set of images, beside a real-data baseline
    runs.py             what `gans eval` does: score a trained run folder or a .npy of images
"""
