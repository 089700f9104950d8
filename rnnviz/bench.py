"""python -m rnnviz.bench: speed as ratios against references measured side by side in the same run.

For each cell, on one sequence (T=1000, hidden 256, input 64, batch 1, float32, CPU):

    ratio = time(trace + gradient_flow) / time(fused forward + backward)

The fused reference is nn.LSTM / nn.GRU / nn.RNN for those cells. Leaky units and ESN reservoirs have no fused
kernel (rnnviz.leaky loops over time), so theirs is the nearest one: nn.RNN (tanh) of the same sizes.

Also printed: the per-step Jacobian norms ‖dh_t/dh_{t−1}‖₂ of that flow, by the lockstep Lanczos solver that was
measured when the speed issue was filed (before, rnnviz.spectral.lockstep_norms) and by the one the app uses
(after, rnnviz.spectral.spectral_norms), the speedup, and the app's as a ratio to the fused reference; optionally,
the autograd step loop the design rules out.

Threads: ``--threads`` (default 1, what app.py runs with) sets both torch's intra-op threads and numpy's BLAS
threads. With torch and OpenBLAS each running a pool as wide as the machine, on 2 shared cores their spinning
workers starve each other: the fused LSTM (one small parallel product per step, 1,000 barriers) then ran 5-8x its
own time inside a trace. Rounds interleave the candidates so machine load hits them alike; each figure is the
median over rounds, and the load average is printed beside them. ``--check`` exits with status 1 when any
trace + gradient-flow ratio passes 2 (for a person to run before a change lands; too noisy for shared CI).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

from .gradients import gradient_flow, gradient_flow_autograd
from .model import CELLS, LEAKY, Model, ModelConfig
from .spectral import lockstep_norms, spectral_norms
from .trace import trace

CHECK_LIMIT = 2.0  # --check fails past this ratio (the target is 1.5; the margin is for machine noise)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def set_threads(n: int) -> None:
    """``n`` threads for torch's intra-op pool and for numpy's BLAS (when threadpoolctl can reach it)."""
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a runtime dependency
        return
    threadpool_limits(n, user_api="blas")


def reference(model: Model) -> nn.Module:
    """The fused recurrent module timed against ``model``: its own for rnn/lstm/gru, an nn.RNN otherwise."""
    if model.cell not in LEAKY:
        return model.rnn
    c = model.config
    return nn.RNN(model.input_size, c.hidden_size, num_layers=c.num_layers, batch_first=True,
                  bidirectional=c.bidirectional)


def measure_cell(cell: str, steps: int = 1000, hidden: int = 256, inputs: int = 64, rounds: int = 7,
                 with_autograd: bool = False) -> dict:
    """Median times (ms) of the candidates over ``rounds`` interleaved rounds, and their ratios to the fused one."""
    model = Model(ModelConfig(cell=cell, hidden_size=hidden, encoder="float", input_size=inputs, head="none"),
                  generator=torch.Generator().manual_seed(0))
    x = torch.randn(steps, inputs, generator=torch.Generator().manual_seed(1))
    rnn = reference(model)
    parts = gradient_flow(model, x)._jac_parts[0]  # (q, d0, W_hh) of the one layer

    def fused():
        xx = x[None].clone().requires_grad_(True)
        out, _ = rnn(xx)
        out[0, -1].sum().backward()
        rnn.zero_grad(set_to_none=True)

    def ours():
        tr = trace(model, x)
        return gradient_flow(model, x, tr=tr)

    candidates = {"fused": fused, "ours": ours, "norms_before": lambda: lockstep_norms(*parts),
                  "norms_after": lambda: spectral_norms(*parts)}
    for fn in candidates.values():
        fn()  # warm up
    times: dict[str, list[float]] = {k: [] for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            times[name].append(_time(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {"cell": cell, "T": steps, "hidden": hidden, "fused_ms": med["fused"] * 1e3, "ours_ms": med["ours"] * 1e3,
           "ratio": med["ours"] / med["fused"], "norms_before_ms": med["norms_before"] * 1e3,
           "norms_after_ms": med["norms_after"] * 1e3, "norms_speedup": med["norms_before"] / med["norms_after"],
           "norms_ratio": med["norms_after"] / med["fused"]}
    if with_autograd:
        t = min(_time(lambda: gradient_flow_autograd(model, x)) for _ in range(2))
        row["autograd_loop_ratio"] = t / med["fused"]
    return row


def report(rows: list[dict], args, load: tuple[float, float]) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) (and numpy BLAS); T={args.steps}, "
          f"hidden={args.hidden}, input 64, batch 1, float32; medians of {args.rounds} interleaved rounds; "
          f"load average {load[0]:.2f} before, {load[1]:.2f} after")
    head = (f"{'cell':5} {'fused fwd+bwd':>14} {'trace+grad flow':>16} {'ratio':>6}   "
            f"{'step norms before':>17} {'after':>9} {'speedup':>7} {'after/fused':>11}")
    print(head + (f" {'autograd loop':>14}" if args.autograd else ""))
    for r in rows:
        line = (f"{r['cell']:5} {r['fused_ms']:11.1f} ms {r['ours_ms']:13.1f} ms {r['ratio']:6.2f}   "
                f"{r['norms_before_ms']:14.1f} ms {r['norms_after_ms']:6.1f} ms {r['norms_speedup']:6.2f}x "
                f"{r['norms_ratio']:10.2f}x")
        if args.autograd:
            line += f" {r['autograd_loop_ratio']:13.1f}x"
        print(line)
    print("fused reference: nn.LSTM/GRU/RNN; for leaky and esn (no fused kernel) nn.RNN tanh of the same size")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnviz.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--cells", default=",".join(CELLS))
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1, as app.py)")
    p.add_argument("--autograd", action="store_true", help="also time the autograd step loop (slow)")
    p.add_argument("--no-trainer", action="store_true", help="skip the Trainer overhead measurement")
    p.add_argument("--check", action="store_true", help=f"exit with status 1 when a ratio passes {CHECK_LIMIT}")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    set_threads(max(1, args.threads))
    before = os.getloadavg()[0]
    rows = [measure_cell(c, args.steps, args.hidden, rounds=args.rounds, with_autograd=args.autograd)
            for c in args.cells.split(",")]
    extra = {}
    if not args.no_trainer:
        from .train import trainer_overhead
        extra["trainer_overhead_ratio"] = trainer_overhead()
    load = (before, os.getloadavg()[0])
    if args.json:
        print(json.dumps({"cells": rows, "load_average": load, **extra}, indent=2))
    else:
        report(rows, args, load)
        for k, v in extra.items():
            print(f"{k}: {v:.3f}")
    slow = [r["cell"] for r in rows if r["ratio"] > CHECK_LIMIT]
    if args.check and slow:
        print(f"--check: trace + gradient flow past {CHECK_LIMIT}x fused for {', '.join(slow)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
