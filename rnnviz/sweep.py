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
from dataclasses import asdict, dataclass

import torch

from .errors import ConfigError, RnnvizError
from .reservoir import fit_readout
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
            raise ConfigError(f"Sweeps run on {', '.join(SWEEP_TASKS)}; pick one of them.")
        bad = [c for c in self.cells if c not in SWEEP_CELLS]
        if not self.cells or bad or len(set(self.cells)) != len(self.cells):
            raise ConfigError(f"Pick cells among {', '.join(SWEEP_CELLS)}, each at most once.")
        if not self.lags or len(set(self.lags)) != len(self.lags):
            raise ConfigError("Give at least one lag, each once.")
        for lag in self.lags:
            task_at(self.task, lag, 0)  # refuses a lag the task cannot take, with the task's own sentence
        whole("number of seeds", self.seeds, 1, 20)
        if self.steps is not None:
            whole("number of steps", self.steps, 1, 100_000)
        if self.runs > MAX_RUNS:
            raise ConfigError(f"The sweep has {self.runs} runs; the limit is {MAX_RUNS}. "
                              "Use fewer lags, cells or seeds.")

    @property
    def runs(self) -> int:
        return len(self.lags) * len(self.cells) * self.seeds


def task_at(name: str, lag: int, seed: int) -> Task:
    return make_task(name, seed=seed, **{SWEEP_TASKS[name]: lag})


def _device(device) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def run_one(config: SweepConfig, cell: str, lag: int, seed: int, device=None) -> dict:
    """Train (or fit) one cell at one lag with one seed; returns its record (see the module docstring)."""
    device = _device(device)
    task = task_at(config.task, lag, seed)
    extra = {"leak": config.leak} if cell in ("leaky", "esn") else {}
    model = task.build_model(cell, config.hidden_size, seed=seed, **extra).to(device)
    t0 = time.perf_counter()
    if cell == "esn":
        metrics = fit_readout(model, task, samples=config.esn_samples, seed=seed)
        steps = 0
    else:
        trainer = Trainer(model, task, seed=seed, eval_every=None, flow_steps=(), device=device)
        steps = config.steps or task.defaults.steps
        trainer.step(steps)
        metrics = trainer.evaluate()
    seconds = time.perf_counter() - t0
    record = {"cell": cell, "lag": lag, "seed": seed, "steps": steps, "seconds": round(seconds, 3),
              "loss": metrics["loss"], "accuracy": metrics["accuracy"]}
    if task.loss_kind == "ce":
        record["value"] = metrics["accuracy"]
    else:
        y = task.validation()[1]
        baseline = float(torch.mean((y - 1) ** 2))
        record.update(baseline=baseline, value=1 - metrics["loss"] / baseline)
    return record


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
    for lag in config.lags:
        for cell in config.cells:
            for seed in range(config.seeds):
                if should_stop is not None and should_stop():
                    break
                runs.append(run_one(config, cell, lag, seed, device))
                if on_run is not None:
                    on_run(len(runs), config.runs, runs[-1])
    task = task_at(config.task, config.lags[0], 0)
    metric = "accuracy" if task.loss_kind == "ce" else "1 - mse/baseline"
    return {"format": "rnnviz-sweep", "version": 1, "config": asdict(config), "metric": metric,
            "chance": task.chance, "device": str(device), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds": round(time.perf_counter() - start, 1), "complete": len(runs) == config.runs,
            "runs": runs, "summary": summarize(runs)}


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
