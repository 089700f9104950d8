"""Gradient flows of several models, each over one or more seeds, arranged for side-by-side views.

Nothing here computes a gradient: every number comes from :class:`~rnnviz.gradients.GradFlow`
(``normalized``, ``bound``, ``jacobian``, ``forget_path``, ``horizon``, ``overflow_lag``, ...). This module
only reorders those arrays by lag and summarizes them across seeds.

Lag order: index k of every array returned here is the lag k = T − 1 − t, the distance from the step the
objective reads (lag 0 is the last step). Across seeds a :class:`Band` holds the median and the min–max range.
Values that overflowed (inf, or NaN after an overflow) count as +inf in these order statistics, so a band
ends where any seed overflows and the median ends where half of them do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .gradients import GradFlow
from .model import LEAKY
from .tasks import Recall

HORIZON_FLOOR = 1e-3  # the fixed threshold of the memory horizon; the page adds one the user picks
RECALL_SYMBOLS = Recall.SYMBOLS[:8]  # the recall task's default symbols (A–H), its blank and noise digits
GENERATORS = ("recall_blank", "recall_noise", "random")


@dataclass(frozen=True)
class Band:
    """Median and min–max over seeds of one quantity, each ``[lag]``; non-finite values are +inf."""

    median: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, curves: np.ndarray) -> Band:
        """Order statistics over axis 0 of ``curves`` ``[seed, lag]``."""
        a = np.asarray(curves, dtype=np.float64)
        a = np.where(np.isfinite(a), a, np.inf)
        return cls(np.median(a, axis=0), a.min(axis=0), a.max(axis=0))

    @property
    def spread(self) -> bool:
        """True when the seeds disagree anywhere (a band is worth drawing)."""
        both = np.isfinite(self.lo) & np.isfinite(self.hi)
        return bool(np.any(self.hi[both] > self.lo[both]))


def _lag_order(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)[..., ::-1]


def shown_layer(layers: int, layer: int | None) -> int:
    """The layer a :class:`Flow` of a ``layers``-layer model shows when asked for ``layer``: the top one by default,
    else ``layer`` clipped to the model."""
    top = layers - 1
    return top if layer is None else min(max(int(layer), 0), top)


@dataclass
class Flow:
    """One model (over one GradFlow per seed, all on the same input) viewed at one layer and direction.

    ``layer`` defaults to the top layer: there the objective's gradient enters at the last step only, so
    Pascanu's bound holds; lower layers also receive gradient from the layer above at every step.
    """

    label: str
    flows: list[GradFlow]
    layer: int | None = None
    direction: int = 0

    def __post_init__(self):
        if not self.flows:
            raise ValueError("a Flow needs at least one GradFlow")
        steps = {gf.steps for gf in self.flows}
        if len(steps) != 1:
            raise ValueError(f"every seed must see the same input; got lengths {sorted(steps)}")
        self.layer = shown_layer(self.layers, self.layer)

    @property
    def cell(self) -> str:
        return self.flows[0].cell

    @property
    def seeds(self) -> int:
        return len(self.flows)

    @property
    def steps(self) -> int:
        return self.flows[0].steps

    @property
    def layers(self) -> int:
        return self.flows[0].dh_units.shape[0]

    @property
    def directions(self) -> int:
        return self.flows[0].dh_units.shape[1]

    @property
    def is_top(self) -> bool:
        return self.layer == self.layers - 1

    @property
    def labels(self) -> list[str]:
        """The tokens as drawn on axes, in time order."""
        return self.flows[0].trace.labels

    def _band(self, per_seed) -> Band:
        return Band.of(np.stack([_lag_order(per_seed(gf)) for gf in self.flows]))

    @cached_property
    def hidden(self) -> Band:
        """‖dL/dh‖ normalized to 1 at lag 0."""
        return self._band(lambda gf: gf.normalized(self.layer, self.direction, "h"))

    @cached_property
    def cell_state(self) -> Band | None:
        """LSTM: ‖dL/dc‖ normalized to 1 at lag 0 (the cell-state path); None for other cells."""
        if self.cell != "lstm":
            return None
        return self._band(lambda gf: gf.normalized(self.layer, self.direction, "c"))

    @cached_property
    def bound(self) -> Band | None:
        """Vanilla RNN, top layer: Pascanu's (γ σ_max)^k, the ceiling on ``hidden``; leaky and ESN cells
        ((1 − α) + α γ σ_max)^k with α per unit (GradFlow.bound); None otherwise."""
        if self.cell not in ("rnn", *LEAKY) or not self.is_top:
            return None
        return self._band(lambda gf: gf.bound(self.layer, self.direction))

    @cached_property
    def jacobian(self) -> Band:
        """‖dh_t/dh_{t−1}‖₂ at lag k = T − 1 − t: the factor the step at lag k applies on the way to lag k + 1."""
        return self._band(lambda gf: gf.jacobian[self.layer, self.direction])

    @cached_property
    def forget(self) -> Band | None:
        """LSTM: max_i f_t (‖dc_t/dc_{t−1}‖₂, the cell-state path's per-step factor); None for other cells."""
        if self.cell != "lstm":
            return None
        return self._band(lambda gf: gf.trace["f"][self.layer, self.direction].max(-1))

    def horizons(self, threshold: float) -> np.ndarray:
        """GradFlow.horizon for each seed, ``[seed]``."""
        return np.array([gf.horizon(threshold, self.layer, self.direction) for gf in self.flows])

    def at_lag(self, lag: int) -> float | None:
        """The median normalized ‖dL/dh‖ at ``lag`` (None when the sequence is shorter)."""
        return float(self.hidden.median[lag]) if 0 <= lag < self.steps else None

    @property
    def overflow_lag(self) -> int | None:
        """The smallest lag, over seeds, at which ‖dL/dh‖ is inf or NaN (None when all are finite)."""
        lags = [gf.overflow_lag(self.layer, self.direction) for gf in self.flows]
        lags = [k for k in lags if k is not None]
        return min(lags) if lags else None

    @property
    def forward_overflow_lag(self) -> int | None:
        """The lag of the first step, over seeds, whose hidden state is inf or NaN: from that lag down to 0
        the forward pass had already blown up, so no gradient there is defined (None when it never did)."""
        steps = [gf.forward_overflow_step() for gf in self.flows]
        steps = [t for t in steps if t is not None]
        return self.steps - 1 - min(steps) if steps else None

    def floor_lag(self, which: str = "h") -> int | None:
        """The smallest lag at which the median ‖dL/dh‖ (or ‖dL/dc‖) falls below the smallest normal number of
        the gradient's float type (1.2e-38 for float32): from there on its digits are rounding noise, then 0.
        None when it never does (or for ``c`` on cells without a cell state)."""
        if which == "c" and self.cell != "lstm":
            return None
        tiny = np.finfo(self.flows[0].dh_units.dtype).tiny
        absolute = Band.of(np.stack([_lag_order((gf.dh if which == "h" else gf.dc)[self.layer, self.direction])
                                     for gf in self.flows])).median
        low = absolute < tiny
        return int(np.argmax(low)) if low.any() else None

    @property
    def underflow_lag(self) -> int | None:
        """``floor_lag("h")``: where ‖dL/dh‖ leaves the float range and the line stops."""
        return self.floor_lag("h")

    def sigma_max(self) -> np.ndarray:
        return np.array([gf.sigma_max[self.layer, self.direction] for gf in self.flows])

    def spectral_radius(self) -> np.ndarray:
        return np.array([gf.spectral_radius[self.layer, self.direction] for gf in self.flows])

    def unit_gradients(self, seed: int = 0) -> np.ndarray:
        """|dL/dh_t| per unit relative to ‖dL/dh_T‖, ``[unit, time]`` in time order (one seed)."""
        gf = self.flows[seed]
        last = gf.dh[self.layer, self.direction, -1]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (np.abs(gf.dh_units[self.layer, self.direction].astype(np.float64)) / last).T

    def saliency(self) -> np.ndarray:
        """‖dL/dx_t‖ of each seed, ``[seed, time]`` in time order."""
        return np.stack([gf.saliency for gf in self.flows])

    def summary(self, threshold: float) -> dict:
        """One row of the summary table: horizons (median over seeds, with min–max), norms, overflow."""
        row = {"model": self.label, "seeds": self.seeds}
        for name, th in (("horizon_floor", HORIZON_FLOOR), ("horizon", threshold)):
            h = self.horizons(th)
            row[name] = int(np.median(h))
            row[name + "_range"] = (int(h.min()), int(h.max()))
        row["whole_sequence"] = row["horizon_floor"] >= self.steps - 1
        row["at_lag_100"] = self.at_lag(100)
        jac = self.jacobian.median
        finite = jac[np.isfinite(jac) & (jac > 0)]
        row["typical_step"] = float(np.exp(np.log(finite).mean())) if finite.size else None
        row["sigma_max"] = float(np.median(self.sigma_max()))
        row["spectral_radius"] = (float(np.median(self.spectral_radius())) if self.cell in ("rnn", *LEAKY)
                                  else None)
        row["overflow_lag"] = self.overflow_lag
        row["forward_overflow_lag"] = self.forward_overflow_lag
        return row


def lag_ratio(numerator: Flow, denominator: Flow, lag: int = 100) -> float:
    """How many times larger ``numerator``'s median normalized gradient is at ``lag`` (inf if the other is 0)."""
    a, b = numerator.at_lag(lag), denominator.at_lag(lag)
    if a is None or b is None:
        raise ValueError(f"both sequences must be longer than {lag} steps")
    with np.errstate(divide="ignore"):
        return float(np.float64(a) / np.float64(b))


def generated_text(kind: str, length: int, seed: int = 0) -> str:
    """An input for the page, as text over the recall task's tokens, ``length`` steps long.

    - ``recall_blank``: the recall task's input: one symbol (A–H), then blanks ``_``: ``"C____…"``.
    - ``recall_noise``: one symbol, then random digits (the task's noisy filler): ``"C8302…"``.
    - ``random``: random tokens drawn from all of those.

    Same format as :class:`rnnviz.tasks.Recall`, whose lag stops at 500; the page goes to 2,000 steps.
    """
    if kind not in GENERATORS:
        raise ValueError(f"unknown generator {kind!r}: use one of {', '.join(GENERATORS)}")
    length = int(length)
    if length < 1:
        raise ValueError("length must be at least 1")
    rng = np.random.default_rng(seed)
    symbol = RECALL_SYMBOLS[rng.integers(len(RECALL_SYMBOLS))]
    if kind == "recall_blank":
        return symbol + Recall.BLANK * (length - 1)
    if kind == "recall_noise":
        return symbol + "".join(rng.choice(list(Recall.NOISE), length - 1))
    return "".join(rng.choice(list(RECALL_SYMBOLS + Recall.BLANK + Recall.NOISE), length))
