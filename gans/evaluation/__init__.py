"""Measuring the GANs: an MNIST evaluator network and the metrics it makes possible."""
