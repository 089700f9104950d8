"""What one live redraw of /train costs the server, in CPU, while sessions play: with Streamlit's garbage collection
after every script run (its default, and this server's before) and without it (.streamlit/config.toml, rnnviz.heap).

Run by hand (a script, not a test: timings belong in a benchmark, not in an assertion)::

    python -m tests.perf.live_redraw [--sessions 1] [--seconds 20]

For each setting it starts a server, opens /train in ``--sessions`` headless Chromium sessions, presses Play in each
and, after a few seconds, reads for ``--seconds`` seconds: the server process's own CPU time (/proc; the training
processes are its children and are not counted) and the live redraws that finished (fragment runs, counted on each
page's websocket). It prints the CPU per redraw and the cores the server kept busy, side by side.

- before: ``--runner.postScriptGC true`` and RNNVIZ_GC_FREEZE=0: a full collection after every run, of every object;
- now: the app's settings (no collection after each run; the imported libraries frozen out of the collector's walks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from tests.e2e.conftest import CHROMIUM_ARGS, _chromium
from tests.e2e.server import app_process
from tests.load import sessions as L

SETTINGS = {
    "before": (["--runner.postScriptGC", "true"], {"RNNVIZ_GC_FREEZE": "0"}),
    "now": ([], {}),
}


def own_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process itself, not of its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, pid: int, sessions: int, seconds: float) -> tuple[float, int, float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        pages = [L.Session(i + 1, 120) for i in range(sessions)]
        for s in pages:
            await L.new_page(s, browser, url)

        async def ready(s: L.Session) -> None:
            await L.rerun(s, s.page.goto("/train", wait_until="commit"), "opening /train")
            await L.set_number(s, "Train for (steps)", 5000)

        await asyncio.gather(*(ready(s) for s in pages))
        await asyncio.gather(*(L.rerun(s, s.page.get_by_role("radio", name="Play").click(), "pressing Play")
                               for s in pages))
        await asyncio.sleep(3)
        runs, cpu, t0 = sum(s.runs for s in pages), own_cpu_s(pid), time.monotonic()
        await asyncio.sleep(seconds)
        redraws, used, wall = sum(s.runs for s in pages) - runs, own_cpu_s(pid) - cpu, time.monotonic() - t0
        await browser.close()
    return used, redraws, wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    print(f"{args.sessions} session(s) playing on /train, {args.seconds:g} s measured; load average "
          f"{os.getloadavg()[0]:.2f}")
    for name, (options, env) in SETTINGS.items():
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            log = Path(tempfile.mkdtemp(prefix="rnnviz-redraw-")) / "streamlit.log"
            with app_process(log, options) as (url, proc):
                used, redraws, wall = asyncio.run(measure(url, proc.pid, args.sessions, args.seconds))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        print(f"  {name:<7} server CPU {used:5.2f} s in {wall:.1f} s ({used / wall:.2f} cores), {redraws} redraws: "
              f"{used / max(1, redraws):.3f} s of CPU per redraw")


if __name__ == "__main__":
    main()
