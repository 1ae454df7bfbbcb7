"""The straightforward per-timestep char-RNN, written from the contract, used as the oracle.

Column vectors, one-hot inputs, a Python loop over t for everything, parameters
in separate arrays: slow and plain on purpose. Tests compare the engine with it;
benchmarks measure the engine's speed against it.
"""

from __future__ import annotations

import math

import numpy as np


def oracle_loss_and_grads(params, inputs, targets, hprev):
    """Loss (sum), raw gradients (bh/by flat), and h_{T-1} of one window."""
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    H, V = Wxh.shape
    bh = np.asarray(params["bh"]).reshape(H, 1)
    by = np.asarray(params["by"]).reshape(V, 1)
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.asarray(hprev, dtype=np.float64).reshape(H, 1).copy()
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1.0
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh.ravel(), "by": dby.ravel()}
    return float(loss), grads, hs[len(inputs) - 1].ravel()


class OracleTrainer:
    """The original training loop around the oracle (no records, no statistics)."""

    def __init__(self, params, data, vocab_size, seq_length, learning_rate=0.1, clip=5.0):
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.data = np.asarray(data)
        self.seq_length = min(seq_length, len(self.data) - 1)
        self.learning_rate = learning_rate
        self.clip = clip
        self.hprev = np.zeros(self.params["Whh"].shape[0])
        self.p = 0
        self.n = 0
        self.smooth_loss = -np.log(1.0 / vocab_size) * self.seq_length

    def step(self):
        T = self.seq_length
        if self.p + T + 1 >= len(self.data) or self.n == 0:
            self.hprev = np.zeros_like(self.hprev)
            self.p = 0
        inputs = self.data[self.p : self.p + T]
        targets = self.data[self.p + 1 : self.p + T + 1]
        loss, grads, self.hprev = oracle_loss_and_grads(self.params, inputs, targets, self.hprev)
        self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
        for name, param in self.params.items():
            g = np.clip(grads[name], -self.clip, self.clip)
            self.mem[name] += g * g
            param += -self.learning_rate * g / np.sqrt(self.mem[name] + 1e-8)
        self.p += T
        self.n += 1
        return loss


def plain_ablated_bpc(params, indices, unit: int | None) -> float:
    """Bits per character of ``indices`` read from h = 0, one character at a time, with ``unit`` held at 0."""
    Wxh, Whh, Why, bh, by = (np.array(params[k]) for k in ("Wxh", "Whh", "Why", "bh", "by"))
    h, total = np.zeros(len(bh)), 0.0
    for t in range(len(indices) - 1):
        h = np.tanh(Wxh[:, indices[t]] + Whh @ h + bh)
        if unit is not None:
            h[unit] = 0.0
        y = Why @ h + by
        p = np.exp(y - y.max())
        total -= math.log(p[indices[t + 1]] / p.sum())
    return total / (len(indices) - 1) / math.log(2)
