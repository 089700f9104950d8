"""Echo state networks (Jaeger 2001; leaky ESN, Jaeger et al. 2007): the reservoir, the ridge readout, memory capacity.

The reservoir is a :class:`~rnnviz.leaky.LeakyRNN` layer whose weights are drawn once and never trained
(:func:`rnnviz.leaky.reservoir_init`):

    W_hh ~ N(0, 1) on a random ``density`` of its entries, rescaled so that max |eig(W_hh)| = ρ
    W_ih, b_ih ~ s · U(−1, 1) (s = input scaling),  b_hh = 0,  α = leak for every unit

ρ < 1 gives the echo state property for most draws: the state forgets its start and becomes a function of the
input's recent past. Only the linear readout y = W_out h + b is fitted, in closed form (ridge regression) on the
states X ``[samples, N]`` and targets Y ``[samples, outputs]``, both centered so the bias is not shrunk:

    W_out = Y Xᵀ (X Xᵀ + λ I)⁻¹,   b = ȳ − W_out x̄

Memory capacity (Jaeger 2001): drive the network with i.i.d. input u(t), fit one readout y_k per delay k to
recall u(t − k), and sum the squared correlations r²_k = corr(u(t − k), y_k(t))². For N state units MC ≤ N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .errors import ConfigError, InputError
from .i18n import N_
from .model import Model
from .tasks import Task, whole

RIDGES = tuple(10.0**k for k in range(-8, 3))  # the λ grid searched on held-out data when none is given
MAX_DELAY = 500
MAX_FIT_SAMPLES = 20_000


def ridge_fit(states: np.ndarray, targets: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """W_out ``[outputs, N]`` and b ``[outputs]`` from states ``[samples, N]`` and targets ``[samples, outputs]``:
    W_out = Y Xᵀ (X Xᵀ + λI)⁻¹ on centered X and Y, b = ȳ − W_out x̄ (float64)."""
    x = np.asarray(states, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    w = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ yc).T  # [outputs, N]
    return w, y_mean - w @ x_mean


@torch.no_grad()
def states(model: Model, x: torch.Tensor) -> torch.Tensor:
    """The top layer's states ``[batch, time, D*hidden]`` for a batch of inputs (what a head reads)."""
    model.eval()
    z = model.encode(x)
    return model.rnn(z)[0]


def _design(task: Task, model: Model, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Readout inputs ``[samples, N]`` and targets ``[samples, outputs]`` (one-hot for classifiers)."""
    device = model.head.weight.device
    h = task.predictions(states(model, x.to(device))).reshape(-1, model.config.directions * model.config.hidden_size)
    if task.loss_kind == "ce":
        target = torch.nn.functional.one_hot(y.reshape(-1), model.config.output_size)
    else:
        target = y.reshape(h.shape[0], -1)
    return h.double().cpu().numpy(), target.double().cpu().numpy()


def _score(task: Task, x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> float:
    """Lower is better: classification error (ties broken by MSE) or MSE."""
    out = x @ w.T + b
    mse = float(np.mean((out - y) ** 2))
    if task.loss_kind == "ce":
        return float(np.mean(out.argmax(1) != y.argmax(1))) + 1e-6 * mse
    return mse


def fit_readout(model: Model, task: Task, samples: int = 2048, ridge: float | None = None,
                seed: int = 0) -> dict:
    """Fit the ESN's linear head in one call (no BPTT) and return ``{"ridge", "samples", **validation metrics}``.

    ``samples`` training sequences come from a generator seeded with ``seed``; with ``ridge=None`` λ is chosen
    from :data:`RIDGES` on a further held-out draw, then the readout is refitted on both. The task's own
    validation batch is only used to report the metrics.
    """
    if model.cell != "esn":
        raise ConfigError("Only an echo state network's readout is fitted in closed form; train other cells.")
    if model.head is None:
        raise ConfigError("An echo state network needs a head (classify or regress) for its readout.")
    n = whole(N_("number of training sequences"), samples, 2, MAX_FIT_SAMPLES)
    device = model.head.weight.device
    generator = torch.Generator().manual_seed(whole(N_("seed"), seed, 0, 2**31 - 1))
    x, y = _design(task, model, *task.sample(n, generator))
    if ridge is None:
        x_sel, y_sel = _design(task, model, *task.sample(max(2, n // 4), generator))
        ridge = min(RIDGES, key=lambda lam: _score(task, x_sel, y_sel, *ridge_fit(x, y, lam)))
        x, y = np.concatenate([x, x_sel]), np.concatenate([y, y_sel])
    elif not (isinstance(ridge, int | float) and 0 <= ridge <= 1e6):
        raise ConfigError("The ridge penalty λ must be a number from 0 to 1,000,000.")
    w, b = ridge_fit(x, y, float(ridge))
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(w))
        model.head.bias.copy_(torch.from_numpy(b))
        model.eval()
        xv, yv = task.validation()
        metrics = task.metrics(model(xv.to(device))[0], yv.to(device))
    return {"ridge": float(ridge), "samples": len(x), **metrics}


@dataclass(frozen=True)
class MemoryCapacity:
    """r²_k for k = 1..K (``per_delay`` ``[K]``), their sum ``total`` and the bound N (state units read)."""

    per_delay: np.ndarray
    bound: int
    steps: int  # training steps the readouts were fitted on (after the washout)

    @property
    def total(self) -> float:
        return float(self.per_delay.sum())

    @property
    def delays(self) -> np.ndarray:
        return np.arange(1, len(self.per_delay) + 1)


def _drive(model: Model, u: np.ndarray) -> torch.Tensor:
    """Model input ``[1, T, ...]`` for a ±1 or uniform scalar sequence ``u``: feature 0 of a float model; for a
    token model u ∈ {−1, +1} picks one of the first two ordinary tokens."""
    if model.config.encoder == "float":
        x = torch.zeros(1, len(u), model.input_size, dtype=model.dtype)
        x[0, :, 0] = torch.from_numpy(u)
        return x
    first = 1 if model.vocab.unk else 0
    if len(model.vocab) < first + 2:
        raise InputError("Memory capacity needs a vocabulary of at least two tokens besides <unk>.")
    return torch.from_numpy(first + (u > 0).astype(np.int64))[None]


def memory_capacity(model: Model, max_delay: int = 40, seed: int = 0, steps: int | None = None,
                    washout: int = 200) -> MemoryCapacity:
    """Jaeger's memory capacity of ``model``'s top-layer states; see the module docstring.

    Input: u(t) ~ U(−1, 1) i.i.d. for float models (on feature 0), ±1 with equal odds for token models. The
    readouts are fitted on ``steps`` steps (default 20·(N + K), at least 2,000) after a ``washout``, and r²_k
    is measured on a fresh stretch of the same run, so an overfitted readout cannot inflate it.
    """
    K = whole(N_("largest delay"), max_delay, 1, MAX_DELAY)
    N = model.config.directions * model.config.hidden_size
    n_fit = steps if steps is not None else min(max(2000, 20 * (N + K)), 40_000)
    n_fit = whole(N_("number of steps"), n_fit, 2 * K + 10, 100_000)
    n_test = max(1000, n_fit // 2)
    washout = max(whole(N_("washout"), washout, 0, 100_000), K)  # np.roll below wraps K steps around
    rng = np.random.default_rng(seed)
    total = washout + n_fit + n_test
    u = rng.uniform(-1, 1, total)
    if model.config.encoder != "float":
        u = np.sign(u)
    x = _drive(model, u).to(model.rnn.weight_hh_l0.device)
    h = states(model, x)[0].double().cpu().numpy()  # [T, N]
    lagged = np.stack([np.roll(u, k) for k in range(1, K + 1)], 1)  # [T, K]: column k-1 holds u(t − k)
    fit, test = slice(washout, washout + n_fit), slice(washout + n_fit, total)
    scale = np.trace(h[fit].T @ h[fit]) / N if N else 1.0
    w, b = ridge_fit(h[fit], lagged[fit], 1e-9 * max(scale, 1e-300))
    pred = h[test] @ w.T + b
    target = lagged[test]
    pc, tc = pred - pred.mean(0), target - target.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = (pc * tc).sum(0) ** 2 / ((pc * pc).sum(0) * (tc * tc).sum(0))
    return MemoryCapacity(np.nan_to_num(r2), N, n_fit)
