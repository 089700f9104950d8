"""How long /cell takes to redraw after a typed change, in headless Chromium: a new ~200-character sequence on a
random 128-unit LSTM (the page's default random model), or with ``--bundled`` on the bundled char_lstm the page
opens on (its States tab draws UNIT_WINDOW units at a time).

Run by hand (a script, not a test: timings belong in a benchmark, not in an assertion)::

    python -m tests.perf.draw_cell [--rounds 5] [--bundled]

Each time runs from the key press that commits the new text (Ctrl+Enter) until the script run has finished, nothing
is stale, and (States tab) every heatmap is drawn with the new tokens on its axis. Each round types text not seen
before, so the trace is computed anew:

- States: the stacked heatmaps of h, c and the gates (6 panels, 128 units x 200 steps);
- Units: the page's first tab (features of the text and the units that track them).

Printed beside the figures: the load average, and the bytes the server sent for the last States redraw.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from pages.cell import UNIT_WINDOW
from rnnviz.assets import load_pretrained
from rnnviz.figures.cell import CELL_KEYS
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.helpers import APP, EXCEPTION, IDLE, STALE, VIEWPORT
from tests.e2e.server import serve_app
from tests.e2e.test_cell import DRAWN, bottom_ticks

TIMEOUT_S = 120
PANELS = len(CELL_KEYS["lstm"])
BASE = "for line in open(path):\n    if line.startswith('#'):\n        continue\n    words = line.split()\n"

# The clock starts at the key press and stops at the first animation frame where a run has started and finished,
# nothing is stale and (given a check) the page shows the new text: no websocket frames are copied out to Python.
WATCH = """([APP, IDLE, STALE, drawn, arg]) => { window.__drawn = new Promise(resolve => {
  const app = document.querySelector(APP);
  const isDrawn = drawn ? new Function('return ' + drawn)() : null;
  let start = null, ran = false;
  const mark = () => { if (start === null) start = performance.now(); };
  document.addEventListener('keydown', mark, {capture: true});
  const watcher = new MutationObserver(() => { if (app.dataset.testScriptState === 'running') ran = true; });
  watcher.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const check = () => {
    if (start !== null && ran && document.querySelector(IDLE) && !document.querySelector(STALE)
        && (!isDrawn || isDrawn(arg))) {
      watcher.disconnect();
      document.removeEventListener('keydown', mark, {capture: true});
      resolve(performance.now() - start);
    } else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}); }"""


def type_and_time(page: Page, text: str, heatmaps: bool) -> float:
    """Seconds from committing ``text`` in the Sequence box until the page has redrawn it."""
    box = page.get_by_label("Sequence", exact=True)
    box.fill(text)
    arg = [PANELS, *bottom_ticks(text, PANELS)] if heatmaps else None
    page.evaluate(WATCH, [APP, IDLE, STALE, DRAWN if heatmaps else None, arg])
    box.press("Control+Enter")
    seconds = page.evaluate("ms => Promise.race([window.__drawn, new Promise((_, fail) => setTimeout(() => fail("
                            "new Error('the page did not redraw in time')), ms))])", TIMEOUT_S * 1000) / 1000
    assert page.locator(EXCEPTION).count() == 0, "the page shows an exception"
    return seconds


def wait_idle(page: Page) -> None:
    page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_S * 1000)
    page.wait_for_selector(STALE, state="detached", timeout=TIMEOUT_S * 1000)


def open_cell(page: Page, tab: str, bundled: bool) -> None:
    """/cell on ``tab``, with the bundled char_lstm it opens on or the Random model source (a 128-unit LSTM)."""
    page.goto("/cell")
    wait_idle(page)
    if not bundled:
        page.locator('[data-testid="stRadio"]').get_by_text("Random", exact=True).first.click()
        wait_idle(page)
    page.get_by_role("tab", name=tab).click()
    wait_idle(page)


def measure(rounds: int, bundled: bool = False) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"States (heatmaps)": [], "Units (first tab)": []}
    log = Path("/tmp") / "rnnviz-draw-cell.log"
    with serve_app(log) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        for tab, name in (("States", "States (heatmaps)"), ("What the units learned", "Units (first tab)")):
            page = context.new_page()
            open_cell(page, tab, bundled)
            type_and_time(page, (f"warm {tab[:5]}: " + BASE * 3)[:200], tab == "States")  # loads Plotly's code
            for r in range(rounds):
                text = (f"{tab[:5]} {r}: " + BASE * 3)[:200]  # new text each round: nothing comes from a cache
                times[name].append(type_and_time(page, text, tab == "States"))
            page.close()
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bundled", action="store_true", help="the bundled char_lstm instead of a random LSTM")
    args = parser.parse_args(argv)
    before = os.getloadavg()[0]
    times = measure(args.rounds, args.bundled)
    hidden = load_pretrained("char_lstm")[1]["hidden_size"] if args.bundled else 128
    model = (f"bundled char_lstm ({hidden} units, {min(hidden, UNIT_WINDOW)} drawn)" if args.bundled
             else "random 128-unit LSTM")
    print(f"/cell redraw after a typed change, T=200, {model}, headless Chromium {VIEWPORT['width']}x"
          f"{VIEWPORT['height']}, {args.rounds} rounds (median, then every round); load average {before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after:")
    for name, values in times.items():
        print(f"  {name:20s} {statistics.median(values):5.2f} s  " + " ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
