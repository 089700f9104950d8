"""python -m rnnviz.bench: speed as ratios against references measured side by side in the same run.

For each cell, on one sequence (T=1000, hidden 256, input 64, batch 1, float32, CPU):

    ratio = time(trace + gradient_flow) / time(fused nn.LSTM/GRU/RNN forward + backward)

Rounds interleave the candidates so machine load hits them alike; each figure is the median over rounds.
Also printed: the lazily computed per-step Jacobian norms, and the autograd step loop the design rules out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from .gradients import gradient_flow, gradient_flow_autograd
from .model import Model, ModelConfig
from .trace import trace


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure_cell(cell: str, steps: int = 1000, hidden: int = 256, inputs: int = 64, rounds: int = 7,
                 with_autograd: bool = False) -> dict:
    model = Model(ModelConfig(cell=cell, hidden_size=hidden, encoder="float", input_size=inputs, head="none"),
                  generator=torch.Generator().manual_seed(0))
    x = torch.randn(steps, inputs, generator=torch.Generator().manual_seed(1))

    def fused():
        xx = x[None].clone().requires_grad_(True)
        out, _ = model.rnn(xx)
        out[0, -1].sum().backward()
        model.zero_grad(set_to_none=True)

    def ours():
        tr = trace(model, x)
        return gradient_flow(model, x, tr=tr)

    def jacobian():
        return gradient_flow(model, x).jacobian

    fused(), ours()  # warm up
    times: dict[str, list[float]] = {"fused": [], "ours": [], "with_jacobian": []}
    for _ in range(rounds):
        times["fused"].append(_time(fused))
        times["ours"].append(_time(ours))
        times["with_jacobian"].append(_time(jacobian))
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {"cell": cell, "T": steps, "hidden": hidden, "fused_ms": med["fused"] * 1e3, "ours_ms": med["ours"] * 1e3,
           "ratio": med["ours"] / med["fused"], "ratio_with_jacobian": med["with_jacobian"] / med["fused"]}
    if with_autograd:
        t = min(_time(lambda: gradient_flow_autograd(model, x)) for _ in range(2))
        row["autograd_loop_ratio"] = t / med["fused"]
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--cells", default="lstm,gru,rnn")
    p.add_argument("--autograd", action="store_true", help="also time the autograd step loop (slow)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = [measure_cell(c, args.steps, args.hidden, rounds=args.rounds, with_autograd=args.autograd)
            for c in args.cells.split(",")]
    try:
        from .train import trainer_overhead
    except ImportError:
        trainer_overhead = None
    extra = {"trainer_overhead_ratio": trainer_overhead()} if trainer_overhead else {}
    if args.json:
        print(json.dumps({"cells": rows, **extra}, indent=2))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; T={args.steps}, hidden={args.hidden}, "
          "input 64, batch 1, float32; medians of interleaved rounds")
    print(f"{'cell':5} {'fused fwd+bwd':>14} {'trace+grad flow':>16} {'ratio':>6} {'+Jacobian norms':>16}"
          + (f" {'autograd loop':>14}" if args.autograd else ""))
    for r in rows:
        line = (f"{r['cell']:5} {r['fused_ms']:11.1f} ms {r['ours_ms']:13.1f} ms {r['ratio']:6.2f} "
                f"{r['ratio_with_jacobian']:15.2f}x")
        if args.autograd:
            line += f" {r['autograd_loop_ratio']:13.1f}x"
        print(line)
    for k, v in extra.items():
        print(f"{k}: {v:.3f}")


if __name__ == "__main__":
    main()
