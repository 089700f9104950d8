"""The server's share of a cold /gradients draw: the page's script run under AppTest, no browser.

Run by hand on a quiet machine (a script, not a test)::

    python -m tests.perf.gradients_server [--rounds 6] [--kind random] [--all-cells]

The page's random 128-unit models (RNN, LSTM and GRU, as it opens; ``--all-cells`` adds LEAKY and ESN) read a
generated sequence of 1,000 tokens; each round sets a new model seed and a new sequence, so every cache misses
(backward passes and per-step Jacobian norms for every model), then times the whole run, parallel fragments
included. One thread for torch and numpy's BLAS, as app.py
sets. The first run (imports, the page's first draw) is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from streamlit.testing.v1 import AppTest
from threadpoolctl import threadpool_limits

from rnnviz.flows import GENERATORS, generated_text
from tests.app.test_app import APP

ALL_CELLS = ["rnn", "lstm", "gru", "leaky", "esn"]  # the Cells pills' options (importing the page would run it)


def measure(rounds: int, kind: str, all_cells: bool) -> tuple[list[float], list[str]]:
    """Seconds per cold run, and the cells the page ran (its default, or every one)."""
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("pages/gradients.py").run()
    at.radio(key="grad_source").set_value("Random").run()
    if all_cells:
        at.pills(key="grad_cells").set_value(ALL_CELLS).run()
    cells = at.pills(key="grad_cells").value
    times = []
    for r in range(rounds + 1):
        at.number_input(key="grad_seed").set_value(5000 + r)
        at.text_area(key="grad_sequence").set_value(generated_text(kind, 1000, seed=r + 1))
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        if at.exception or at.error:
            raise SystemExit(f"the page failed: {[e.message for e in at.exception]} {[e.value for e in at.error]}")
        if r:
            times.append(seconds)
    return times, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--kind", choices=GENERATORS, default="random")
    parser.add_argument("--all-cells", action="store_true", help="LEAKY and ESN too (five models, not three)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")
    times, cells = measure(args.rounds, args.kind, args.all_cells)
    rounds = " ".join(f"{v:.2f}" for v in times)
    print(f"/gradients server script time, cold, T=1000, random 128-unit {'/'.join(cells).upper()}, {args.kind} input, "
          f"{args.rounds} rounds: median {statistics.median(times):.3f} s  ({rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
