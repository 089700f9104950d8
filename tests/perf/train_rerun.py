"""What one /train run costs the server: a rerun of a paused race, and the run that answers a Pause.

    python -m tests.perf.train_rerun --reruns 20 --rounds 5

One session (tests.load.wire's light client: no browser on the cores) opens /train, plays a few seconds, pauses,
then asks for ``--reruns`` plain reruns (what any widget or a Pause costs when nothing else changed) and reports the
server's CPU time and the wall time per rerun; then ``--rounds`` times Play for 3 s and Pause, reporting how long the
Pause took to come back without "playing"/"pausing…" and how many full runs it took. Every session of a class pays
these once per click, on one Python process: with 20 sessions clicking at once, they add up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.e2e.server import app_process
from tests.load.sessions import TRAINING, cpu_s
from tests.load.wire import Wire


async def measure(url: str, pid: int, reruns: int, rounds: int) -> list[str]:
    s = Wire(1, url, 120)
    await s.open("train", "lang=en")
    await s.set_number("Train for (steps)", 5000)
    await s.choose("Play or pause", "Play")
    await asyncio.sleep(3)
    await s.choose("Play or pause", "Pause")
    await asyncio.sleep(2)
    out = []
    for _ in range(2):  # the first pass warms what the second measures
        c0, t0 = cpu_s(pid), time.monotonic()
        for _ in range(reruns):
            await s.rerun()
        wall, cpu = (time.monotonic() - t0) / reruns, (cpu_s(pid) - c0) / reruns
    out.append(f"a rerun of a paused race: {1000 * cpu:.0f} ms of server CPU, {1000 * wall:.0f} ms wall (mean of "
               f"{reruns})")
    answers, runs = [], []
    for _ in range(rounds):
        await s.choose("Play or pause", "Play")
        await asyncio.sleep(3)
        before, t0 = s.full_runs, time.monotonic()
        await s.choose("Play or pause", "Pause")
        while s.full_runs <= before or s.running or s.progress.endswith(TRAINING):
            await asyncio.sleep(0.005)
        answers.append(time.monotonic() - t0)
        runs.append(s.full_runs - before)
    out.append(f"Pause answered in {statistics.median(answers):.2f} s (median of {rounds}; "
               f"{min(answers):.2f} to {max(answers):.2f}), in {max(runs)} full run(s) at most")
    await s.close()
    if s.problems or s.errors:
        raise SystemExit(f"the session failed: {s.problems + s.errors}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.train_rerun", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    log = Path(tempfile.mkdtemp(prefix="rnnviz-rerun-")) / "streamlit.log"
    with app_process(log) as (url, proc):
        lines = asyncio.run(measure(url, proc.pid, args.reruns, args.rounds))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
