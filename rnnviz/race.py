"""Race several cells on one task: the same data, the same seed and settings, stepped in lockstep.

    race = Race(RaceConfig(task="recall", params=(("lag", 100),), cells=("rnn", "lstm")))
    race.advance(50, budget_s=0.4)    # a page calls this in time-boxed slices; all trainers stay level
    race.curves()                     # one RunCurves per cell, for rnnviz.figures.train
    race.snapshots["lstm"]            # (model copy, card) taken at the latest validation pass

Every trainer reads the same task object and draws its batches from a generator seeded with ``seed``, so the
cells see identical batches in identical order: the only difference between them is the cell. No UI here.
"""

from __future__ import annotations

import copy
import math
import re
import uuid
import weakref
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .checkpoint import make_card
from .errors import ConfigError
from .i18n import N_, tr
from .init import InitConfig
from .model import Model
from .remote import TrainerProcess, advance_trainers, load_weights
from .reservoir import fit_readout
from .tasks import Task, make_task
from .train import TASK_DEFAULT, Trainer

CELL_ORDER = ("rnn", "lstm", "gru", "leaky", "esn")
ESN_TASKS = ("recall", "adding", "temporal_order")  # one answer at the last step: the ESN's readout is fitted there
MAX_RACE_STEPS = 5000  # a race's step cap: its history and snapshots stay small in a long session
# Work per training step, all cells together: about 1-3 s on a busy 2-core CPU. Every task's defaults need under
# 5e9; recall at lag 500 with 256 units and batch 512 would need 9e11 (about 20 s a step here).
MAX_STEP_FLOPS = 3e10
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "leaky": 1, "esn": 1}
REVIEW_SOURCES = {"reviews": N_("Chinese reviews"), "synthetic": N_("generated"), "user": N_("yours")}


@dataclass(frozen=True)
class RaceConfig:
    """What a race is built from; ``None`` (or TASK_DEFAULT for ``clip``) takes the task's recommended value."""

    task: str = "recall"
    params: tuple[tuple[str, object], ...] = ()  # task parameters as sorted (name, value) pairs: hashable
    cells: tuple[str, ...] = ("rnn", "lstm")
    hidden_size: int | None = None
    num_layers: int = 1
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    clip: float | None | str = TASK_DEFAULT  # gradient-norm threshold; None or 0 turns clipping off
    init: InitConfig | None = None  # for the gated cells; the vanilla RNN has no gate biases to set
    seed: int = 0

    def __post_init__(self):
        if not self.cells:
            raise ConfigError("Pick at least one cell to train.")
        unknown = [c for c in self.cells if c not in CELL_ORDER]
        if unknown or len(set(self.cells)) != len(self.cells):
            raise ConfigError("Pick each of rnn, lstm, gru, leaky and esn at most once.")
        if "esn" in self.cells and self.task not in ESN_TASKS:
            raise ConfigError("The echo state network's readout is fitted at the last step, so it races only on "
                              "recall, adding and temporal order; pick one of those tasks or leave ESN out.")

    def make_task(self) -> Task:
        return make_task(self.task, seed=self.seed, **dict(self.params))


@dataclass(frozen=True)
class RunCurves:
    """One trainer's history as arrays, for the figure builders. Loss is in ``Race.loss_unit``."""

    name: str  # legend label, e.g. "LSTM"
    cell: str  # "rnn" | "lstm" | "gru": picks the colour
    steps: np.ndarray  # [n] optimizer steps 1..n
    loss: np.ndarray  # [n] training loss of each step's batch
    accuracy: np.ndarray  # [n] training accuracy of each batch (NaN where it has no meaning)
    grad_norm: np.ndarray  # [n] gradient norm before clipping
    clipped: np.ndarray  # [n] bool: clipping shortened this step
    eval_steps: np.ndarray  # [m] steps of the validation passes (0 first)
    eval_loss: np.ndarray  # [m]
    eval_accuracy: np.ndarray  # [m]
    flow_step: int | None = None  # the step of ``flow``
    flow: np.ndarray | None = None  # [time] ‖dL/dh_t‖ of the top layer at ``flow_step``
    flow0: np.ndarray | None = None  # [time] the same at step 0
    diverged_at: int | None = None  # the step whose loss or gradient was not finite


def task_label(task: Task, lang: str = "en") -> str:
    """A short name for a task and its main parameter, in ``lang``: "recall lag 100", "text (stdlib)",
    "sine period 40"."""
    p = task.params
    if task.name == "recall":
        return tr(lang, "recall lag {lag}", lag=p["lag"]) + (tr(lang, ", noise") if p.get("filler") == "noise" else "")
    if task.name == "letters":
        return tr(lang, "letters (four in)") if p["mode"] == "four" else tr(lang, "letters (one in)")
    if task.name == "text":
        source = tr(lang, "yours") if p.get("source") == "user" else p.get("source", "")
        return tr(lang, "text ({source})", source=source)
    if task.name == "sentiment":
        return tr(lang, "sentiment ({source})", source=tr(lang, REVIEW_SOURCES.get(p.get("source"), "yours")))
    if task.name == "adding":
        return tr(lang, "adding length {n}", n=p["length"])
    if task.name == "temporal_order":
        return tr(lang, "temporal order length {n}", n=p["length"])
    if task.name == "stocks":
        return tr(lang, "stocks {symbols}", symbols="+".join(p["symbols"]))
    if task.name == "sine":
        return tr(lang, "sine period {period:g}", period=p["period"])
    return task.name


def parse_number(name: str, text: str, lo: float, hi: float) -> float:
    """A typed number such as ``0.003`` or ``3e-3``; ConfigError with a sentence for anything else."""
    entry = str(text).strip().replace("−", "-")
    if not entry:
        raise ConfigError("Type a {name}, for example 0.003 or 3e-3.", name=name)
    if re.fullmatch(r"[+-]?(?:nan|inf|infinity)", entry, re.IGNORECASE):
        raise ConfigError("The {name} must be a finite number, such as 0.003 or 3e-3; {entry} is not one.", name=name,
                          entry=entry)
    shown = entry if len(entry) <= 20 else entry[:20] + "…"
    if not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", entry):
        raise ConfigError("The {name} {entry} is not a number: type digits, a dot for decimals, "
                          "and optionally an exponent, such as 0.003 or 3e-3.", name=name, entry=repr(shown))
    value = float(entry)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError("The {name} must be between {lo:g} and {hi:g}; {entry} is outside.", name=name, lo=lo, hi=hi,
                          entry=shown)
    return value


class Race:
    """One Trainer per cell on a shared task; ``task`` may be passed in (e.g. a cached one) or is built."""

    def __init__(self, config: RaceConfig, task: Task | None = None, eval_every: int | None | str = TASK_DEFAULT,
                 evaluate: bool = True):
        self.config = config
        self.task = task if task is not None else config.make_task()
        self._snapshots: dict[str, tuple[Model, dict]] = {}  # {cell: (model copy, card)}
        self._pending: dict[str, tuple[dict, dict]] = {}  # {cell: (weights as numpy, card)}: made a model when read
        self.listed: dict[str, str] = {}  # {cell: the name publish() listed its snapshot under}
        self.token = uuid.uuid4().hex  # marks this race's entries in a published store
        self.trainers: dict[str, Trainer] = {}
        self.fits: dict[str, dict] = {}  # {cell: fit_readout's result}: the ESN, trained in one ridge fit
        self.baselines: dict | None = None  # the task's baselines() once measured (measure_baselines)
        for cell in sorted(config.cells, key=CELL_ORDER.index):
            model = self.task.build_model(cell, config.hidden_size, config.init, config.seed,
                                          num_layers=config.num_layers)
            if cell == "esn":  # no BPTT: the reservoir stays fixed, the readout is solved for once, here
                self.fits[cell] = fit_readout(model, self.task, seed=config.seed)
            self.trainers[cell] = Trainer(model, self.task, config.optimizer, config.lr, config.batch_size,
                                          config.clip, config.seed, callbacks=[_weak(self._on_event)],
                                          eval_every=eval_every, flow_steps=(0,))
        self.label = task_label(self.task)
        self._check_work()
        if evaluate:  # the step-0 validation point and gradient flow: the charts have a start before any step
            for trainer in self.trainers.values():
                trainer.evaluate()
            self.snapshot_flows()
            for cell in self.fits:
                self.trainers[cell].snapshot_flow()

    def _check_work(self) -> None:
        x_val = self.task.validation()[0]
        steps = x_val.shape[1]
        train = sum(step_flops(t.model, steps, t.batch_size) for t in self.trainers.values())
        check = sum(step_flops(t.model, steps, x_val.shape[0]) for t in self.trainers.values()) / 3  # forward only
        if train > MAX_STEP_FLOPS or check > 4 * MAX_STEP_FLOPS:  # a validation pass runs every few dozen steps
            raise ConfigError("These settings need about {need:,.0f} billion operations per training step, past the "
                              "{limit:.0f} billion allowed here (a step would take many seconds). Lower the hidden "
                              "size, the batch size, the sequence length or the number of cells.",
                              need=max(train, check / 4) / 1e9, limit=MAX_STEP_FLOPS / 1e9)

    # Training ------------------------------------------------------------------------------------------------

    @property
    def step(self) -> int:
        return max(t.step_count for t in self.trainers.values())

    @property
    def live(self) -> list[Trainer]:
        return [t for t in self.trainers.values() if not t.diverged and t.model.cell not in self.fits]

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trainers.values())

    def advance(self, steps: int, budget_s: float | None = None, process: TrainerProcess | None = None,
                flow: bool = False, lock=None) -> int:
        """Up to ``steps`` more steps for every trainer that has not diverged, in equal chunks so that they stay
        level. With ``budget_s`` it returns once it has trained that many seconds of CPU time (after at least one
        step; rnnviz.remote.advance_trainers), growing the chunk as it learns the time per step. With ``process``
        (rnnviz.remote) the steps run in that process, with the same result: ``flow`` takes each trainer's gradient
        flow at the step it ends on there, and ``lock`` is held only while the trainers are read and updated, not
        while that process trains. Returns the steps taken."""
        steps = max(0, min(int(steps), MAX_RACE_STEPS - self.step))
        if process is not None:
            done = process.advance(self.task, self.live, steps, budget_s, flow=flow, lock=lock)
            if done:  # (none when a page was reading the race: the slice gave its turn away)
                with lock if lock is not None else nullcontext():
                    self.prune_flows()
            return done
        with lock if lock is not None else nullcontext():
            return advance_trainers(self.live, steps, budget_s)

    def snapshot_flows(self) -> None:
        """Store each trainer's gradient flow at the current step, keeping only step 0 and the newest one."""
        for trainer in self.live:
            if trainer.step_count not in trainer.flows:
                trainer.snapshot_flow()
        self.prune_flows()

    def prune_flows(self) -> None:
        """Keep each trainer's gradient flow at step 0 and its newest one: the page draws those two, and a long
        session's memory stays bounded."""
        for trainer in self.live:
            newest = max(trainer.flows, default=0)
            for s in [s for s in trainer.flows if s not in (0, newest)]:
                del trainer.flows[s]

    @property
    def diverged(self) -> dict[str, int]:
        """{cell: the step at which it diverged} for the trainers that did."""
        return {c: t.step_count for c, t in self.trainers.items() if t.diverged}

    # Models for other pages --------------------------------------------------------------------------------------

    def _on_event(self, trainer: Trainer, event: str, record: dict) -> None:
        # Right after a validation pass the trainer's card needs no extra evaluation: keep a copy of the model.
        if event == "eval" and trainer.step_count > 0:
            self._snapshot(trainer)

    def _snapshot(self, trainer: Trainer) -> None:
        cell = trainer.model.cell
        extra = {"baselines": self.baselines} if self.baselines else {}  # the accuracies it had to beat
        card = make_card(trainer.model, {**trainer.card(), **extra, "title": self.model_name(cell, trainer.step_count)})
        weights = getattr(trainer, "eval_weights", None)  # trained in a process (rnnviz.remote): its weights then
        if weights is not None:
            self._pending[cell] = (weights, card)  # copied into a model when read: not at every slice
            return
        self._pending.pop(cell, None)
        self._snapshots[cell] = (copy.deepcopy(trainer.model).eval(), card)  # the card as checkpoint.load returns it

    @property
    def snapshots(self) -> dict[str, tuple[Model, dict]]:
        """{cell: (model copy, card)} at each cell's latest validation pass."""
        self.materialize()
        return self._snapshots

    def materialize(self) -> None:
        """Make the models of the snapshots taken in a training process (their weights came as numpy arrays).

        Safe without the job's lock while a slice runs: the copy's architecture is the trainer's, and its weights
        are all overwritten from the snapshot's own arrays. A snapshot that a slice replaced meanwhile stays pending,
        for the next read. So a page can do this before it takes the lock, and not hold up the training."""
        for cell, entry in list(self._pending.items()):
            weights, card = entry
            model = copy.deepcopy(self.trainers[cell].model).eval()
            load_weights(model, weights)
            if self._pending.get(cell) is entry:
                self._snapshots[cell] = (model, card)
                del self._pending[cell]

    def snapshot_now(self) -> None:
        """Snapshots at the current step, with a validation pass where the last one is older."""
        for cell, trainer in self.trainers.items():
            taken = self.snapshots.get(cell)
            if trainer.step_count == 0 or (taken and taken[1]["training"]["steps"] == trainer.step_count):
                continue
            if trainer.history.evals and trainer.history.evals[-1]["step"] == trainer.step_count:
                self._snapshot(trainer)
            else:
                trainer.evaluate()  # fires "eval", which takes the snapshot

    def publish(self, store: dict, limit: int) -> list[str]:
        """List the snapshots in ``store`` ({name: {"model", "card"}}, what other pages open), each under its
        newest name in place of the name this race listed it under before; the oldest entries past ``limit``
        are dropped. Returns the names now listed."""
        for cell, (model, card) in self.snapshots.items():
            name, old = card["title"], self.listed.get(cell)
            if name == old and name in store:
                continue
            if old is not None and store.get(old, {}).get("race") == self.token:
                del store[old]
            store.pop(name, None)  # re-inserted last: the newest entry
            store[name] = {"model": model, "card": card, "race": self.token}
            self.listed[cell] = name
        while len(store) > limit:
            del store[next(iter(store))]
        return [n for n in self.listed.values() if n in store]

    def model_name(self, cell: str, step: int) -> str:
        """The name other pages list the model under: "LSTM · recall lag 100 · step 600"."""
        return f"{cell.upper()} · {self.label} · step {step:,}"

    # Arrays for the figures --------------------------------------------------------------------------------------

    @property
    def loss_unit(self) -> str:
        if self.task.name == "text":
            return N_("bits per character")  # marked: the figures translate it
        return N_("mean squared error") if self.task.loss_kind == "mse" else N_("cross-entropy (nats)")

    @property
    def has_accuracy(self) -> bool:
        """Classifiers, and regressions with a tolerance, count right answers; plain regressions do not."""
        return self.task.loss_kind == "ce" or self.task.tolerance is not None

    @property
    def score(self) -> str:
        """What the validation pass is best summed up by: "bpc", "accuracy" or "loss"."""
        if self.task.name == "text":
            return "bpc"
        return "accuracy" if self.has_accuracy else "loss"

    @property
    def baseline(self) -> tuple[float, str] | None:
        """A loss a model has to beat, where the task has one: the persistence forecast of a series."""
        if hasattr(self.task, "persistence_loss"):
            return self.task.persistence_loss(), N_("persistence: next = last")
        return None

    @property
    def has_baselines(self) -> bool:
        """The task has classifiers to beat that are fitted in the run (the sentiment task's ``baselines()``)."""
        return callable(getattr(self.task, "baselines", None))

    def measure_baselines(self, values: dict | None = None) -> dict | None:
        """The task's baselines, kept for :attr:`accuracy_baselines`: ``values`` when given (a page passes the
        result it cached for this task), else ``task.baselines()``, which fits them (seconds on a CPU)."""
        if self.has_baselines:
            self.baselines = dict(values) if values is not None else self.task.baselines()
        return self.baselines

    @property
    def accuracy_baselines(self) -> list[tuple[float, str]]:
        """Validation accuracies a model has to beat, measured on the same split: [(accuracy, catalog name)].
        The bag-of-characters (or bag-of-words, for a vocabulary of words) logistic regression fitted on the
        training split, then the majority class of the training split; empty until measured."""
        b = self.baselines or {}
        words = getattr(getattr(self.task, "vocab", None), "level", "char") == "word"
        names = (("bag_of_chars", N_("bag of words") if words else N_("bag of characters")),
                 ("majority", N_("majority class")))
        return [(float(b[key]), name) for key, name in names if isinstance(b.get(key), float)]

    def _fitted_curves(self, cell: str, trainer: Trainer, scale: float, latest: int | None) -> RunCurves:
        """A fitted ESN: no training steps; its one validation result drawn flat from step 0 to the race's step."""
        step = self.step
        record = trainer.history.evals[-1] if trainer.history.evals else {}
        flow = _top_layer(trainer.flows.get(latest))
        return RunCurves(
            name=cell.upper(), cell=cell, steps=np.zeros(0), loss=np.zeros(0), accuracy=np.zeros(0),
            grad_norm=np.zeros(0), clipped=np.zeros(0, dtype=bool),
            eval_steps=np.array([0, step] if step else [0], dtype=np.float64),
            eval_loss=_flat(record, "loss", step, scale), eval_accuracy=_flat(record, "accuracy", step),
            flow_step=latest, flow=flow, flow0=flow, diverged_at=None)

    def curves(self) -> list[RunCurves]:
        scale = 1 / math.log(2) if self.task.name == "text" else 1.0
        out = []
        for cell, trainer in self.trainers.items():
            h = trainer.history
            latest = max(trainer.flows) if trainer.flows else None
            if cell in self.fits:  # fitted once: its validation result holds level across the race
                out.append(self._fitted_curves(cell, trainer, scale, latest))
                continue
            out.append(RunCurves(
                name=cell.upper(), cell=cell, steps=h.column("step"), loss=h.column("loss") * scale,
                accuracy=h.column("accuracy"), grad_norm=h.column("grad_norm"),
                clipped=np.array([bool(r["clipped"]) for r in h.steps], dtype=bool),
                eval_steps=h.column("step", evals=True), eval_loss=h.column("loss", evals=True) * scale,
                eval_accuracy=h.column("accuracy", evals=True), flow_step=latest,
                flow=_top_layer(trainer.flows.get(latest)), flow0=_top_layer(trainer.flows.get(0)),
                diverged_at=trainer.step_count if trainer.diverged else None))
        return out


def _flat(record: dict, key: str, step: int, scale: float = 1.0) -> np.ndarray:
    value = record.get(key)
    return np.full(2 if step else 1, np.nan if value is None else value * scale, dtype=np.float64)


def _weak(method):
    """``method`` as a callback that does not keep its object alive. A Race holds its trainers; were they to hold
    the race back, the pair would be a cycle, and a closed session's race (models, optimizers, history) would wait
    for a full garbage collection, which on a server's large heap can be many sessions away."""
    ref = weakref.WeakMethod(method)

    def callback(*args):
        if (bound := ref()) is not None:
            bound(*args)

    return callback


def describe_card(card: dict, lang: str = "en") -> str:
    """One line about a model card, in ``lang``: size, validation metrics and training settings, as far as the card
    says."""
    parts = []
    if isinstance(card.get("hidden_size"), int):
        layers = card.get("num_layers", 1)
        parts.append(tr(lang, "{n} units", n=card["hidden_size"])
                     + (tr(lang, " × {n} layers", n=layers) if isinstance(layers, int) and layers > 1 else ""))
    metrics, training = (v if isinstance(v, dict) else {} for v in (card.get("metrics"), card.get("training")))
    scores = [tr(lang, "accuracy {value:.1%}", value=metrics["accuracy"])
              if isinstance(metrics.get("accuracy"), float) else "",
              tr(lang, "{value:.3f} bits/char", value=metrics["bpc"]) if isinstance(metrics.get("bpc"), float) else "",
              tr(lang, "loss {value:.3g}", value=metrics["loss"]) if isinstance(metrics.get("loss"), float) else ""]
    if any(scores):
        where = tr(lang, " at step {step:,}", step=metrics["step"]) if isinstance(metrics.get("step"), int) else ""
        parts.append(tr(lang, "validation {scores}", scores=", ".join(p for p in scores if p)) + where)
    if isinstance(training.get("optimizer"), str) and isinstance(training.get("lr"), float | int):
        parts.append(tr(lang, "{optimizer} lr {lr:g}, batch {batch}", optimizer=training["optimizer"],
                        lr=training["lr"], batch=training.get("batch_size")))
    return " · ".join(parts)


def file_name(name: str) -> str:
    """A safe download name for a model: "LSTM · recall lag 100 · step 600" → "lstm-recall-lag-100-step-600"."""
    return (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:80] or "model") + ".safetensors"


def step_flops(model: Model, time_steps: int, batch: int) -> float:
    """Floating-point operations of one training step (forward and backward, about 3× the forward's matmuls)."""
    c = model.config
    flops, width = 0.0, model.input_size
    for _ in range(c.num_layers):
        flops += 2 * batch * time_steps * GATES[c.cell] * c.hidden_size * (width + c.hidden_size) * c.directions
        width = c.hidden_size * c.directions
    flops += 2 * batch * time_steps * width * c.output_size  # the head (read at every step by some tasks)
    return 3 * flops


def _top_layer(dh: np.ndarray | None) -> np.ndarray | None:
    """‖dL/dh_t‖ of the top layer (both directions together) from ``[layer, direction, time]``."""
    if dh is None:
        return None
    dh = np.asarray(dh, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.sqrt((dh[-1] ** 2).sum(0))

