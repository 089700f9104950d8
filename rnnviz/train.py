"""Trainer: optimizes a Model on a Task one step at a time and reports through callbacks (no UI inside).

    trainer = Trainer(model, task, callbacks=[on_event])
    trainer.step(50)                     # a page calls this in small slices; state lives in the object
    trainer.history.steps[-1]            # {"step", "loss", "accuracy", "grad_norm", "clipped", "seconds"}
    trainer.history.evals[-1]            # {"step", "loss", "accuracy"} on the task's validation batch (+ "bpc")
    trainer.flows[0], trainer.flows[50]  # ‖dL/dh_t‖ on one validation example, [layer, direction, time]

A callback is ``fn(trainer, event, record)`` with ``event`` one of "step", "eval", "flow". It may set
``trainer.stop = True`` to end the current ``step(n)`` call early.

Command line: ``python -m rnnviz.train --task recall --lag 100 --cell lstm --steps 600 --seed 0 --json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from .errors import ConfigError, RnnvizError, shown
from .i18n import N_
from .init import InitConfig
from .model import Model
from .tasks import TASKS, Task, make_task, number, whole

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}
TASK_DEFAULT = "task default"  # a parameter left at this takes the task's recommended value
Callback = Callable[["Trainer", str, dict], None]


@dataclass
class History:
    """Per-step training records and the validation records taken every ``eval_every`` steps."""

    steps: list[dict] = field(default_factory=list)  # step, loss, accuracy, grad_norm, clipped, seconds
    evals: list[dict] = field(default_factory=list)  # step, loss, accuracy (+ bpc for text)

    def column(self, key: str, evals: bool = False) -> np.ndarray:
        """One field across records as a float array (None becomes NaN)."""
        rows = self.evals if evals else self.steps
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows], dtype=np.float64)

    def first_step(self, key: str = "accuracy", at_least: float = 0.99) -> int | None:
        """The first evaluated step whose validation ``key`` reached ``at_least``; None if none did."""
        return next((r["step"] for r in self.evals if r.get(key) is not None and r[key] >= at_least), None)

    @property
    def clip_steps(self) -> list[int]:
        return [r["step"] for r in self.steps if r["clipped"]]


class Trainer:
    """Trains ``model`` on ``task`` with Adam, SGD or RMSprop, optional gradient-norm clipping and callbacks.

    ``optimizer``, ``lr``, ``batch_size``, ``clip`` and ``eval_every`` default to ``task.defaults``
    (``clip=None`` turns clipping off). Batches come from the Trainer's own generator seeded with ``seed``,
    so trainers with the same task and seed see the same data: that is how cells race fairly. The grad norm
    is recorded before clipping; ``clipped`` says whether clipping changed the step.
    ``flow_steps`` (and every ``flow_every`` steps) store the gradient flow on ``task.example()``.
    """

    def __init__(self, model: Model, task: Task, optimizer: str | None = None, lr: float | None = None,
                 batch_size: int | None = None, clip: float | None | str = TASK_DEFAULT, seed: int = 0,
                 callbacks: Iterable[Callback] = (), eval_every: int | None | str = TASK_DEFAULT,
                 flow_steps: Iterable[int] = (0,), flow_every: int | None = None, weight_decay: float = 0.0,
                 device: str | torch.device | None = None):
        d = task.defaults
        self.model, self.task = model, task
        self.optimizer_name = optimizer or d.optimizer
        if self.optimizer_name not in OPTIMIZERS:
            raise ConfigError("Unknown optimizer {name}: choose adam, sgd or rmsprop.",
                              name=shown(self.optimizer_name))
        self.lr = number(N_("learning rate"), d.lr if lr is None else lr, 1e-7, 10)
        self.batch_size = whole(N_("batch size"), batch_size or d.batch_size, 1, 4096)
        clip = d.clip if clip == TASK_DEFAULT else clip
        self.clip = None if clip is None or clip == 0 else number(N_("clipping threshold"), clip, 1e-6, 1e6)
        every = d.eval_every if eval_every == TASK_DEFAULT else eval_every
        self.eval_every = None if not every else whole(N_("evaluation interval"), every, 1, 10**9)
        self.flow_steps = {whole(N_("gradient-flow step"), s, 0, 10**9) for s in flow_steps}
        self.flow_every = None if not flow_every else whole(N_("gradient-flow interval"), flow_every, 1, 10**9)
        self.seed = whole(N_("seed"), seed, 0, 2**31 - 1)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.params = [p for p in model.parameters() if p.requires_grad]
        wd = number(N_("weight decay"), weight_decay, 0, 1)
        self.optimizer = OPTIMIZERS[self.optimizer_name](self.params, lr=self.lr, weight_decay=wd)
        self.callbacks = list(callbacks)
        self.history = History()
        self.flows: dict[int, np.ndarray] = {}
        self.step_count = 0
        self.seconds = 0.0  # time spent inside step(), evaluations and snapshots included
        self.stop = False
        self.diverged = False  # the loss or the gradient became NaN/inf; step() then does nothing
        self.device = device  # where batches go (the caller moves the model there); None: where the task makes them

    def _fire(self, event: str, record: dict):
        for callback in self.callbacks:
            callback(self, event, record)

    def step(self, n: int = 1) -> dict | None:
        """Run up to ``n`` optimizer steps; returns the last step's record (None if none ran)."""
        n = whole(N_("number of steps"), n, 0, 10**7)
        start = time.perf_counter()
        self.stop = False
        record = None
        if self.step_count == 0 and not self.history.evals and self.eval_every:
            self.evaluate()
        if self.step_count == 0 and 0 in self.flow_steps and 0 not in self.flows:
            self.snapshot_flow()
        model, task, clip = self.model, self.task, self.clip
        model.train()
        for _ in range(n):
            if self.diverged or self.stop:
                break
            t0 = time.perf_counter()
            x, y = self._to_device(*task.batch(self.batch_size, self.generator))
            out, _ = model(x)
            loss = task.loss(out, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip if clip is not None else math.inf))
            loss_value = loss.item()
            if not (math.isfinite(loss_value) and math.isfinite(norm)):
                self.diverged = True  # keep the weights from before the bad step
            else:
                self.optimizer.step()
            self.step_count += 1
            record = {"step": self.step_count, "loss": loss_value, "accuracy": task.accuracy(out.detach(), y),
                      "grad_norm": norm, "clipped": clip is not None and norm > clip,
                      "seconds": time.perf_counter() - t0}
            self.history.steps.append(record)
            self._fire("step", record)
            s = self.step_count
            if self.eval_every and s % self.eval_every == 0:
                self.evaluate()
                model.train()
            if s in self.flow_steps or (self.flow_every and s % self.flow_every == 0):
                self.snapshot_flow()
        self.seconds += time.perf_counter() - start
        return record

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss and accuracy on the task's fixed validation batch; recorded and sent to callbacks as "eval"."""
        self.model.eval()
        x, y = self._to_device(*self.task.validation())
        out, _ = self.model(x)
        record = {"step": self.step_count, **self.task.metrics(out, y)}
        if self.history.evals and self.history.evals[-1]["step"] == self.step_count:
            self.history.evals[-1] = record
        else:
            self.history.evals.append(record)
        self._fire("eval", record)
        return record

    def _to_device(self, x, y):
        return (x, y) if self.device is None else (x.to(self.device), y.to(self.device))

    def snapshot_flow(self) -> np.ndarray:
        """‖dL/dh_t‖ ``[layer, direction, time]`` on ``task.example()`` at the current step, stored in ``flows``.

        Classifiers use the cross-entropy of the last step against the true label; regressions the sum of
        the top layer's output at the last step.
        """
        from .gradients import gradient_flow

        x_val, y_val = self.task.validation()
        if self.task.loss_kind == "ce":
            target = int(y_val[0].reshape(-1)[-1])
            flow = gradient_flow(self.model, x_val[0], "next_token", target=target)
        else:
            flow = gradient_flow(self.model, x_val[0], "sum")
        self.flows[self.step_count] = flow.dh
        self._fire("flow", {"step": self.step_count, "dh": flow.dh})
        return flow.dh

    def metrics(self) -> dict:
        """The latest validation metrics (evaluating now if the last evaluation is stale)."""
        evals = self.history.evals
        record = evals[-1] if evals and evals[-1]["step"] == self.step_count else self.evaluate()
        return dict(record)

    def card(self, init: InitConfig | None = None) -> dict:
        """Task, metrics, training settings and init for a checkpoint's model card."""
        init = init if init is not None else getattr(self.model, "init", None)
        return {"task": self.task.card(), "metrics": self.metrics(),
                "training": {"optimizer": self.optimizer_name, "lr": self.lr, "batch_size": self.batch_size,
                             "clip": self.clip, "seed": self.seed, "steps": self.step_count},
                "init": asdict(init) if init is not None else None}


def bare_loop(model: Model, task: Task, steps: int, lr: float, batch_size: int, clip: float | None,
              seed: int = 0) -> float:
    """The same training step written as a plain PyTorch loop; returns seconds per step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = task.batch(batch_size, generator)
        out, _ = model(x)
        loss = task.loss(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return (time.perf_counter() - t0) / steps


def measure_overhead(task: str = "recall", cell: str = "lstm", steps: int = 10, rounds: int = 24,
                     **task_params) -> dict:
    """Time per step of the Trainer (with two callbacks, as a page uses) against ``bare_loop`` on copies of
    one model, with the same batch size, optimizer and clipping, in alternating blocks of ``steps`` steps
    so that both see the same machine load. Validation passes and gradient-flow snapshots are extra work,
    not overhead, and are off in both. ``ratio`` is the median of the per-block-pair ratios."""
    task_params = task_params or ({"lag": 100} if task == "recall" else {})
    t = make_task(task, **task_params)
    d = t.defaults
    base = t.build_model(cell, seed=0)
    seen = []
    callbacks = [lambda tr, event, rec: seen.append(rec["loss"]), lambda tr, event, rec: None]
    trainer = Trainer(copy.deepcopy(base), t, "adam", d.lr, d.batch_size, d.clip, callbacks=callbacks,
                      eval_every=None, flow_steps=())
    bare_model = copy.deepcopy(base)
    trainer.step(5)
    bare_loop(bare_model, t, 5, d.lr, d.batch_size, d.clip)  # warm both up
    trainer_times, bare_times = [], []

    def run_trainer():
        t0 = time.perf_counter()
        trainer.step(steps)
        trainer_times.append((time.perf_counter() - t0) / steps)

    def run_bare():
        bare_times.append(bare_loop(bare_model, t, steps, d.lr, d.batch_size, d.clip, seed=len(bare_times)))

    for r in range(rounds):
        for run in ((run_trainer, run_bare) if r % 2 == 0 else (run_bare, run_trainer)):
            run()
    ratios = [a / b for a, b in zip(trainer_times, bare_times, strict=True)]
    return {"ratio": statistics.median(ratios), "ratio_of_fastest": min(trainer_times) / min(bare_times),
            "trainer_ms": 1e3 * statistics.median(trainer_times), "bare_ms": 1e3 * statistics.median(bare_times),
            "task": task, "cell": cell, "steps": steps * rounds, "callback_calls": len(seen)}


def trainer_overhead(**kwargs) -> float:
    """Trainer time per step / bare PyTorch loop time per step, measured side by side (required ≤ 1.10)."""
    return measure_overhead(**kwargs)["ratio"]


TASK_FLAGS = {"lag": int, "num_symbols": int, "filler": str, "length": int, "mode": str, "encoder": str,
              "window": int, "seq_len": int}


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m rnnviz.train", description="Train an rnnviz model on a task.")
    p.add_argument("--task", required=True, help=", ".join(TASKS))
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="default: the task's")
    p.add_argument("--hidden", type=int, help="hidden units (default: the task's)")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--steps", type=int, help="default: the task's")
    p.add_argument("--seed", type=int, default=0, help="seeds the task, the model's init and the batches")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS))
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--clip", type=float, help="gradient-norm threshold; 0 turns clipping off")
    p.add_argument("--eval-every", type=int)
    p.add_argument("--init", choices=("default", "orthogonal", "identity"), help="W_hh init scheme")
    p.add_argument("--gain", type=float)
    p.add_argument("--forget-bias", type=float)
    p.add_argument("--chrono", type=float, help="chrono init T_max (overrides the forget bias)")
    for name, kind in TASK_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=kind, dest=name)
    p.add_argument("--text-file", help="train the text task on this UTF-8 file (default: Python's stdlib)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="any other task parameter")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is steadier on a busy machine)")
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON object")
    p.add_argument("--save", metavar="PATH", help="save a safetensors checkpoint with its model card")
    return p.parse_args(argv)


def _init_config(args, task: Task) -> InitConfig:
    init = task.defaults.init
    changes = {k: v for k, v in (("scheme", args.init), ("gain", args.gain)) if v is not None}
    if args.forget_bias is not None:
        changes.update(forget_bias=args.forget_bias, chrono_tmax=None)
    if args.chrono is not None:
        changes["chrono_tmax"] = args.chrono
    return replace(init, **changes)


def main(argv=None) -> int:
    args = _parse_args(argv)
    if args.threads:
        torch.set_num_threads(max(1, args.threads))
    params = {k: getattr(args, k) for k in TASK_FLAGS if getattr(args, k) is not None}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --param takes KEY=VALUE, not {item!r}", file=sys.stderr)
            return 2
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    try:
        if args.text_file:
            with open(args.text_file, encoding="utf-8") as f:
                params["text"] = f.read()
        task = make_task(args.task, seed=args.seed, **params)
        init = _init_config(args, task)
        model = task.build_model(args.cell, args.hidden, init=init, seed=args.seed, num_layers=args.layers)
        steps = whole(N_("number of steps"), args.steps or task.defaults.steps, 1, 10**7)
        clip = TASK_DEFAULT if args.clip is None else (args.clip or None)
        eval_every = TASK_DEFAULT if args.eval_every is None else args.eval_every

        def report(trainer, event, record):
            if event == "eval" and not args.json:
                acc = "" if record["accuracy"] is None else f"  accuracy {record['accuracy']:.3f}"
                print(f"step {record['step']:>6}  validation loss {record['loss']:.4f}{acc}", flush=True)

        trainer = Trainer(model, task, args.optimizer, args.lr, args.batch_size, clip, args.seed, [report],
                          eval_every, flow_steps=())
        trainer.step(steps)
        final = trainer.metrics()
        result = {"task": task.name, "cell": model.cell, "hidden_size": model.config.hidden_size,
                  "steps": trainer.step_count, "seconds": round(trainer.seconds, 3), "loss": final["loss"],
                  "accuracy": final["accuracy"], "train_loss": trainer.history.steps[-1]["loss"],
                  "solved_at": trainer.history.first_step("accuracy", 0.99), "diverged": trainer.diverged,
                  "task_params": task.card(), "init": asdict(init)}
        if "bpc" in final:
            result["bpc"] = final["bpc"]
        if args.save:
            from .checkpoint import save

            save(model, args.save, trainer.card(init))
            result["saved"] = args.save
    except (RnnvizError, OSError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
