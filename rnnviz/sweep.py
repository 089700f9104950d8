"""Success against lag: train every cell at every lag of a long-lag task, several seeds each.

The classic figure of Bengio et al. (1994) and Hochreiter & Schmidhuber (1997): one curve per architecture of
how well it learns as the dependency grows. The lag is the recall task's ``lag`` and the sequence length of
the adding and temporal-order tasks. Each run uses the task's defaults (optimizer, learning rate, batch,
clipping, init, steps unless ``steps`` is given); the ESN fits its readout in one ridge regression instead.

Score per run (``value``, higher is better, on the task's validation batch):
  - recall, temporal_order: accuracy (chance 1/classes);
  - adding: 1 − MSE / baseline, with baseline the MSE of always answering 1 (≈ 0.167): 0 is no better than
    the constant answer, 1 is perfect.

    python -m rnnviz.sweep --task recall --lags 5,10,20,50,100,200 --cells rnn,leaky,esn,lstm,gru --seeds 3 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch

from .errors import ConfigError, RnnvizError
from .i18n import N_
from .reservoir import fit_readout, states
from .tasks import Task, make_task, whole
from .train import Trainer

SWEEP_TASKS = {"recall": "lag", "adding": "length", "temporal_order": "length"}
SWEEP_CELLS = ("rnn", "leaky", "esn", "lstm", "gru")
MAX_RUNS = 500


@dataclass(frozen=True)
class SweepConfig:
    task: str = "recall"
    lags: tuple[int, ...] = (5, 10, 20, 50, 100, 200)
    cells: tuple[str, ...] = SWEEP_CELLS
    seeds: int = 3  # seeds 0..seeds−1: each seeds the task's data, the init and the batches
    steps: int | None = None  # optimizer steps per run; None: the task's default
    hidden_size: int | None = None  # None: the task's default
    leak: float = 0.5  # the leaky cell's α (fixed) and the ESN's
    esn_samples: int = 2048  # training sequences of the ESN's ridge fit

    def __post_init__(self):
        if self.task not in SWEEP_TASKS:
            raise ConfigError("Sweeps run on {tasks}; pick one of them.", tasks=", ".join(SWEEP_TASKS))
        bad = [c for c in self.cells if c not in SWEEP_CELLS]
        if not self.cells or bad or len(set(self.cells)) != len(self.cells):
            raise ConfigError("Pick cells among {cells}, each at most once.", cells=", ".join(SWEEP_CELLS))
        if not self.lags or len(set(self.lags)) != len(self.lags):
            raise ConfigError("Give at least one lag, each once.")
        for lag in self.lags:
            task_at(self.task, lag, 0)  # refuses a lag the task cannot take, with the task's own sentence
        whole(N_("number of seeds"), self.seeds, 1, 20)
        if self.steps is not None:
            whole(N_("number of steps"), self.steps, 1, 100_000)
        if self.runs > MAX_RUNS:
            raise ConfigError("The sweep has {runs} runs; the limit is {limit}. Use fewer lags, cells or seeds.",
                              runs=self.runs, limit=MAX_RUNS)

    @property
    def runs(self) -> int:
        return len(self.lags) * len(self.cells) * self.seeds


def task_at(name: str, lag: int, seed: int) -> Task:
    return make_task(name, seed=seed, **{SWEEP_TASKS[name]: lag})


def _device(device) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _start(config: SweepConfig, cell: str, lag: int, seed: int, device) -> tuple[Task, object, Trainer | None]:
    """The task, the model (on ``device``) and its Trainer (None for the ESN) of one run."""
    task = task_at(config.task, lag, seed)
    extra = {"leak": config.leak} if cell in ("leaky", "esn") else {}
    model = task.build_model(cell, config.hidden_size, seed=seed, **extra).to(device)
    trainer = None if cell == "esn" else Trainer(model, task, seed=seed, eval_every=None, flow_steps=(),
                                                  device=device)
    return task, model, trainer


def _steps(config: SweepConfig, task: Task) -> int:
    return config.steps or task.defaults.steps


def _record(task: Task, cell: str, lag: int, seed: int, steps: int, seconds: float, metrics: dict) -> dict:
    record = {"cell": cell, "lag": lag, "seed": seed, "steps": steps, "seconds": round(seconds, 3),
              "loss": metrics["loss"], "accuracy": metrics["accuracy"]}
    if task.loss_kind == "ce":
        record["value"] = metrics["accuracy"]
    else:
        y = task.validation()[1]
        baseline = float(torch.mean((y - 1) ** 2))
        record.update(baseline=baseline, value=1 - metrics["loss"] / baseline)
    return record


def run_one(config: SweepConfig, cell: str, lag: int, seed: int, device=None) -> dict:
    """Train (or fit) one cell at one lag with one seed; returns its record (see the module docstring)."""
    task, model, trainer = _start(config, cell, lag, seed, _device(device))
    t0 = time.perf_counter()
    if trainer is None:
        metrics, steps = fit_readout(model, task, samples=config.esn_samples, seed=seed), 0
    else:
        steps = _steps(config, task)
        trainer.step(steps)
        metrics = trainer.evaluate()
    return _record(task, cell, lag, seed, steps, time.perf_counter() - t0, metrics)


def summarize(runs: list[dict]) -> dict:
    """{cell: {lag: {"median", "min", "max", "n"}}} of the runs' values (lags as strings, for JSON)."""
    out: dict = {}
    for r in runs:
        out.setdefault(r["cell"], {}).setdefault(str(r["lag"]), []).append(r["value"])
    return {cell: {lag: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                   for lag, v in lags.items()} for cell, lags in out.items()}


def sweep(config: SweepConfig, on_run: Callable[[int, int, dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, device=None) -> dict:
    """Every (lag, cell, seed) of ``config`` in that order; ``on_run(done, total, record)`` after each run, and
    ``should_stop()`` before each (a True ends the sweep early, keeping what ran). Returns the JSON-ready result."""
    device = _device(device)
    runs, start = [], time.perf_counter()
    for lag, cell, seed in plan(config):
        if should_stop is not None and should_stop():
            break
        runs.append(run_one(config, cell, lag, seed, device))
        if on_run is not None:
            on_run(len(runs), config.runs, runs[-1])
    return result(config, runs, time.perf_counter() - start, device)


def plan(config: SweepConfig) -> list[tuple[int, str, int]]:
    """(lag, cell, seed) of every run, in the order they run."""
    return [(lag, cell, seed) for lag in config.lags for cell in config.cells for seed in range(config.seeds)]


def result(config: SweepConfig, runs: list[dict], seconds: float, device) -> dict:
    """The JSON-ready result of ``runs`` (all of ``config``'s or the first few)."""
    task = task_at(config.task, config.lags[0], 0)
    metric = "accuracy" if task.loss_kind == "ce" else "1 - mse/baseline"
    return {"format": "rnnviz-sweep", "version": 1, "config": asdict(config), "metric": metric,
            "chance": task.chance, "device": str(device), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds": round(seconds, 1), "complete": len(runs) == config.runs, "runs": runs,
            "summary": summarize(runs)}


def work(config: SweepConfig, cell: str, lag: int) -> float:
    """A run's work in (sequence × step) units: training steps × batch × time, or the ESN's fitted sequences × time
    (a forward pass only, about a third of a training step's)."""
    task = task_at(config.task, lag, 0)
    steps = len(task.sample(1, torch.Generator().manual_seed(0))[0][0])  # time steps of one sequence
    if cell == "esn":
        return config.esn_samples * 1.25 * steps / 3
    return _steps(config, task) * task.defaults.batch_size * steps


def estimate_seconds(config: SweepConfig, costs: dict[str, float] | None = None, device=None) -> float:
    """Seconds the sweep would take here: each run's :func:`work` times its cell's cost per unit of work
    (``costs``, from :func:`unit_costs`, measured now when not given)."""
    costs = costs if costs is not None else unit_costs(config, device)
    return sum(costs[cell] * work(config, cell, lag) for lag, cell, _ in plan(config))


def costs_from(result: dict) -> dict[str, float]:
    """Seconds per unit of :func:`work` for each cell, the median over a finished sweep's runs (its own machine's
    pace): an estimate that needs no probe. Cells the result lacks are left out."""
    config = SweepConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in result["config"].items()})
    per: dict[str, list[float]] = {}
    for r in result["runs"]:
        per.setdefault(r["cell"], []).append(r["seconds"] / work(config, r["cell"], r["lag"]))
    return {cell: statistics.median(v) for cell, v in per.items()}


def unit_costs(config: SweepConfig, device=None, probe_lag: int = 50) -> dict[str, float]:
    """Seconds per unit of :func:`work` for each cell, from a probe: two training steps (one ESN forward pass of
    64 sequences) at a lag of at most ``probe_lag``, timed after a warm-up step."""
    device = _device(device)
    lag = min(probe_lag, max(config.lags))
    per_unit = {}
    for cell in config.cells:
        task, model, trainer = _start(replace(config, esn_samples=64), cell, lag, 0, device)
        if trainer is None:
            x = task.sample(64, torch.Generator().manual_seed(0))[0].to(device)
            t0 = time.perf_counter()
            states(model, x)
            per_unit[cell] = (time.perf_counter() - t0) / (64 * x.shape[1] / 3)
        else:
            trainer.step(1)
            t0 = time.perf_counter()
            trainer.step(2)
            per_unit[cell] = (time.perf_counter() - t0) / (2 * trainer.batch_size * task.example().shape[0])
    return per_unit


class LiveSweep:
    """A sweep run in time-boxed slices, for a page's timer: ``advance(budget_s)`` trains the current run a few
    steps at a time until the budget is spent; ``progress`` counts work done, ``result()`` what has run."""

    CHUNK = 10  # training steps between checks of the clock

    def __init__(self, config: SweepConfig, device=None):
        self.config, self.device = config, _device(device)
        self.plan = plan(config)
        self.runs: list[dict] = []
        self.seconds = 0.0
        self.total_work = sum(work(config, cell, lag) for lag, cell, _ in self.plan)
        self._done_work = 0.0
        self._current = None  # (task, model, trainer, started seconds) of the run in progress

    @property
    def done(self) -> bool:
        return len(self.runs) == len(self.plan)

    @property
    def progress(self) -> float:
        part = 0.0
        if self._current is not None:
            task, _, trainer, _ = self._current
            lag, cell, _ = self.plan[len(self.runs)]
            part = work(self.config, cell, lag) * trainer.step_count / _steps(self.config, task)
        return min(1.0, (self._done_work + part) / self.total_work)

    def seconds_left(self) -> float | None:
        """Time left at the pace so far (None before any work)."""
        p = self.progress
        return None if p <= 0 else self.seconds * (1 - p) / p

    def advance(self, budget_s: float) -> None:
        """Train for about ``budget_s`` seconds: at least one chunk of CHUNK steps (or one ESN fit), then more
        while time is left."""
        t0 = time.perf_counter()
        first = True
        while not self.done and (first or time.perf_counter() - t0 < budget_s):
            first = False
            lag, cell, seed = self.plan[len(self.runs)]
            if self._current is None:
                self._current = (*_start(self.config, cell, lag, seed, self.device), self.seconds
                                 + time.perf_counter() - t0)
            task, model, trainer, started = self._current
            if trainer is None:
                metrics, steps = fit_readout(model, task, samples=self.config.esn_samples, seed=seed), 0
            else:
                steps = _steps(self.config, task)
                trainer.step(min(self.CHUNK, steps - trainer.step_count))
                if trainer.step_count < steps:
                    continue
                metrics = trainer.evaluate()
            now = self.seconds + time.perf_counter() - t0
            self.runs.append(_record(task, cell, lag, seed, steps, now - started, metrics))
            self._done_work += work(self.config, cell, lag)
            self._current = None
        self.seconds += time.perf_counter() - t0

    def result(self) -> dict:
        return result(self.config, self.runs, self.seconds, self.device)


def _bar(done: int, total: int, record: dict, start: float) -> None:
    width = 30
    filled = int(width * done / total)
    elapsed = time.perf_counter() - start
    left = elapsed / done * (total - done)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {record['cell']} lag {record['lag']} "
          f"seed {record['seed']}: {record['value']:.3f}  {elapsed:.0f}s, ~{left:.0f}s left ",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnviz.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="recall", choices=tuple(SWEEP_TASKS))
    p.add_argument("--lags", type=_ints, default=SweepConfig.lags, help="comma-separated, e.g. 5,10,20")
    p.add_argument("--cells", default=",".join(SWEEP_CELLS), help="comma-separated among " + ",".join(SWEEP_CELLS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, help="optimizer steps per run (default: the task's)")
    p.add_argument("--hidden", type=int, help="hidden units (default: the task's)")
    p.add_argument("--leak", type=float, default=0.5, help="α of the leaky cell and the ESN")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is steadier on a busy machine)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when torch sees one)")
    p.add_argument("--out", help="also write the JSON result to this file")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(max(1, args.threads))
    try:
        config = SweepConfig(args.task, args.lags, tuple(c.strip() for c in args.cells.split(",") if c.strip()),
                             args.seeds, args.steps, args.hidden, args.leak)
        start = time.perf_counter()
        result = sweep(config, lambda done, total, rec: _bar(done, total, rec, start), device=args.device)
    except RnnvizError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result["command"] = "python -m rnnviz.sweep " + " ".join(sys.argv[1:] if argv is None else argv)
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    if args.json:
        print(text)
    else:
        for cell, lags in result["summary"].items():
            print(cell.ljust(6), "  ".join(f"lag {lag}: {s['median']:.3f} [{s['min']:.3f}, {s['max']:.3f}]"
                                           for lag, s in lags.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
