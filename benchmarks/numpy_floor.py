"""The speed floor for a NumPy engine: ``classifier-refined`` written by hand.

Forward, the backward pass derived on paper, and Adam, all in place on preallocated
arrays, with no graph and no Python objects per operation.  An autograd engine on
NumPy cannot do the same arithmetic faster; how close minigrad comes shows what its
bookkeeping (graph nodes, tensors, modules) costs.
"""
import math

import numpy as np


class RefinedClassifierByHand:
    """784 → Linear → LeakyReLU(0.02) → LayerNorm(200) → Linear → Sigmoid → BCE, Adam(lr=1e-3)."""

    def __init__(self, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        b1, b2 = 1 / math.sqrt(784), 1 / math.sqrt(200)
        self.params = [rng.uniform(-b1, b1, (200, 784)).astype(dtype), rng.uniform(-b1, b1, 200).astype(dtype),
                       np.ones(200, dtype), np.zeros(200, dtype),
                       rng.uniform(-b2, b2, (10, 200)).astype(dtype), rng.uniform(-b2, b2, 10).astype(dtype)]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.scratch = [np.empty_like(p) for p in self.params]
        self.t = 0

    def step(self, x, target):
        w1, b1, lw, lb, w2, b2 = self.params
        gw1, gb1, glw, glb, gw2, gb2 = self.grads
        # forward
        h = w1 @ x + b1
        a = np.where(h > 0, h, h * 0.02)
        mean = a.mean()
        centred = a - mean
        rstd = 1 / math.sqrt((centred @ centred) / 200 + 1e-5)
        xhat = centred * rstd
        n = xhat * lw + lb
        z = w2 @ n + b2
        y = 1 / (1 + np.exp(-z))
        loss = -np.mean(target * np.maximum(np.log(y), -100) + (1 - target) * np.maximum(np.log(1 - y), -100))
        # backward: dBCE/dz = (y - t)/10 through the sigmoid
        gz = (y - target) / 10
        np.multiply(gz[:, None], n[None, :], out=gw2)
        gb2[...] = gz
        gn = gz @ w2
        np.multiply(gn, xhat, out=glw)
        glb[...] = gn
        gx = gn * lw
        ga = (200 * gx - gx.sum() - xhat * (gx @ xhat)) * (rstd / 200)
        gh = np.where(h > 0, ga, ga * 0.02)
        np.multiply(gh[:, None], x[None, :], out=gw1)
        gb1[...] = gh
        self.adam()
        return loss

    def adam(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.t += 1
        step_size = lr / (1 - beta1 ** self.t)
        correction2 = math.sqrt(1 - beta2 ** self.t)
        for p, g, m, v, s in zip(self.params, self.grads, self.m, self.v, self.scratch):
            np.subtract(g, m, out=s)
            s *= 1 - beta1
            m += s
            np.multiply(g, 1 - beta2, out=s)
            s *= g
            v *= beta2
            v += s
            np.sqrt(v, out=s)
            s /= correction2
            s += eps
            np.divide(m, s, out=s)
            s *= -step_size
            p += s
