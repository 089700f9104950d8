"""How long /gradients takes to draw in headless Chromium: sequence length 1,000, three random 128-unit models.

Run by hand on a quiet machine (a script, not a test: timings belong in a benchmark, not in an assertion)::

    python -m tests.perf.draw_gradients [--rounds 3] [--all-cells]

The page opens on RNN, LSTM and GRU; ``--all-cells`` also picks LEAKY and ESN (five models) before each draw.

Each time runs from the user's action until the script run has finished, no stale element is left, the three Plotly
charts are drawn (a line per model in the main chart and in the per-step Jacobian chart below it, 3 heatmap images)
and the saliency strip holds every token:

- cold: press Generate with a new model seed, so nothing is cached (BPTT and per-step Jacobians for 3 models), on
  the page's default input, the recall task's (a symbol, then blanks: the state settles, so most steps share a
  Jacobian and the norms are solved once per distinct step);
- cold, random tokens: the same on random tokens, where every step's Jacobian differs (the costly case);
- warm: the same sequence and models in a new browser session (the server's cache answers);
- rerun: in the same tab, move the horizon threshold (cached; the page is rebuilt and redrawn).

The reference, measured in the same run, is the same page at length 100: the ratios say how much the long
sequence costs beyond what any draw of the page costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.helpers import APP, EXCEPTION, IDLE, PLOTLY_CHART, STALE, VIEWPORT
from tests.e2e.server import serve_app

TIMEOUT_S = 300

# Timed inside the page, so that the harness costs nothing while it runs: no websocket frames are copied out to
# Python (helpers.track_runs parses every one, megabytes per draw here, on the same two cores as the server and the
# browser). The clock starts at the user's input event (pointer or key) and stops at the first animation frame where
# a script run has started and finished, nothing is stale, and the page shows what this sequence draws.
WATCH = """([steps, needDrawn, APP, CHART, IDLE, STALE]) => { window.__drawn = new Promise(resolve => {
  const app = document.querySelector(APP);
  let start = null, ran = false;
  const mark = () => { if (start === null) start = performance.now(); };
  for (const kind of ['pointerdown', 'keydown']) document.addEventListener(kind, mark, {capture: true});
  const watcher = new MutationObserver(() => { if (app.dataset.testScriptState === 'running') ran = true; });
  watcher.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const drawn = () => {
    const charts = document.querySelectorAll(CHART);
    if (charts.length < 3) return false;
    const lines = [0, 1].map(i => charts[i].querySelectorAll('.scatterlayer .js-line').length);
    const images = charts[2].querySelectorAll('.imagelayer image').length;
    const tokens = document.querySelectorAll('.rnnviz-saliency .tokens > span').length;
    return lines[0] >= 3 && lines[1] >= 3 && images >= 3 && tokens === steps;
  };
  const check = () => {
    if (start !== null && ran && document.querySelector(IDLE) && !document.querySelector(STALE)
        && (!needDrawn || drawn())) {
      watcher.disconnect();
      for (const kind of ['pointerdown', 'keydown']) document.removeEventListener(kind, mark, {capture: true});
      resolve(performance.now() - start);
    } else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}); }"""


def timed(page: Page, action, steps: int | None = None) -> float:
    """Seconds from ``action``'s input event until its run has finished and (given ``steps``) the page is drawn."""
    page.evaluate(WATCH, [steps or 0, steps is not None, APP, PLOTLY_CHART, IDLE, STALE])
    action()
    seconds = page.evaluate("ms => Promise.race([window.__drawn, new Promise((_, fail) => setTimeout(() => fail("
                            "new Error(`the page did not finish drawing in ${ms / 1000} s`)), ms))])",
                            TIMEOUT_S * 1000) / 1000
    assert page.locator(EXCEPTION).count() == 0, "the page shows an exception"
    return seconds


def set_number(page: Page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)

    def act():
        box.fill(str(value))
        box.press("Enter")
    timed(page, act)


def setup(page: Page, seed: int, length: int, kind: str | None = None, all_cells: bool = False) -> None:
    """Random models with this seed (and LEAKY and ESN beside them, given ``all_cells``), and the generator set to
    this length and kind (nothing generated yet)."""
    page.goto("/gradients")
    page.wait_for_selector(PLOTLY_CHART, state="attached", timeout=TIMEOUT_S * 1000)
    page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_S * 1000)
    page.wait_for_selector(STALE, state="detached", timeout=TIMEOUT_S * 1000)
    timed(page, lambda: page.locator('[data-testid="stSidebar"]').get_by_text("Random (untrained)", exact=True)
          .click())
    if all_cells:
        for cell in ("LEAKY", "ESN"):
            timed(page, lambda c=cell: page.locator('[data-testid="stSidebar"] [data-testid="stButtonGroup"]')
                  .get_by_role("button", name=c, exact=True).click())
    set_number(page, "Seed", seed)
    set_number(page, "Length", length)
    if kind is not None:
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Generated input").click()  # opens: no run
        timed(page, lambda: page.get_by_role("option", name=kind, exact=True).click())


def generate(page: Page) -> None:
    page.get_by_role("button", name="Generate", exact=True).click()


def nudge_threshold(page: Page) -> None:
    slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').filter(has_text="Horizon threshold")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowLeft")


def measure(rounds: int, shots: Path | None, all_cells: bool = False) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"cold": [], "cold, random tokens": [], "warm": [], "rerun": [],
                                     "reference (length 100), cold": []}
    log = Path("/tmp") / "rnnviz-draw-gradients.log"
    with serve_app(log) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        for r in range(rounds):
            page = context.new_page()
            setup(page, 1000 + r, 100, all_cells=all_cells)
            times["reference (length 100), cold"].append(timed(page, lambda p=page: generate(p), 100))
            page.close()
            page = context.new_page()
            setup(page, 2000 + r, 1000, all_cells=all_cells)
            times["cold"].append(timed(page, lambda p=page: generate(p), 1000))
            times["rerun"].append(timed(page, lambda p=page: nudge_threshold(p), 1000))
            if shots is not None and r == 0:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "gradients-T1000.png"), full_page=True)
            page.close()
            page = context.new_page()
            setup(page, 3000 + r, 1000, "Random tokens", all_cells)
            times["cold, random tokens"].append(timed(page, lambda p=page: generate(p), 1000))
            page.close()
            page = context.new_page()
            setup(page, 2000 + r, 1000, all_cells=all_cells)
            times["warm"].append(timed(page, lambda p=page: generate(p), 1000))
            page.close()
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for a full-page screenshot")
    parser.add_argument("--all-cells", action="store_true", help="LEAKY and ESN too (five models, not three)")
    args = parser.parse_args(argv)
    times = measure(args.rounds, args.screenshots, args.all_cells)
    ref = statistics.median(times["reference (length 100), cold"])
    models = "five 128-unit models (RNN, LSTM, GRU, LEAKY, ESN)" if args.all_cells else "three 128-unit models"
    print(f"/gradients draw time, T=1000, {models}, headless Chromium {VIEWPORT['width']}x"
          f"{VIEWPORT['height']}, {args.rounds} rounds (median, then every round):")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:30s} {med:5.2f} s  ({med / ref:4.1f}x reference)  " + " ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
