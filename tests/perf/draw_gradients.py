"""How long /gradients takes to draw in headless Chromium: sequence length 1,000, three random 128-unit models.

Run by hand on a quiet machine (a script, not a test: timings belong in a benchmark, not in an assertion)::

    python -m tests.perf.draw_gradients [--rounds 3]

Each time runs from the user's action until the script run has finished, no stale element is left, both Plotly
charts are drawn (3 heatmap images, at least 6 lines) and the saliency strip holds every token:

- cold: press Generate with a new model seed, so nothing is cached (BPTT and per-step Jacobians for 3 models);
- warm: the same sequence and models in a new browser session (the server's cache answers);
- rerun: in the same tab, move the horizon threshold (cached; the page is rebuilt and redrawn).

The reference, measured in the same run, is the same page at length 100: the ratios say how much the long
sequence costs beyond what any draw of the page costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.helpers import PLOTLY_CHART, VIEWPORT, assert_no_exception, expect_rerun, open_page, track_runs
from tests.e2e.server import serve_app

TIMEOUT_S = 300


def drawn(page: Page, steps: int) -> None:
    page.wait_for_function(f"""() => {{
        const charts = document.querySelectorAll('{PLOTLY_CHART}');
        if (charts.length < 2 || document.querySelector('[data-stale="true"]')) return false;
        const images = charts[1].querySelectorAll('.heatmaplayer image').length;
        const lines = charts[0].querySelectorAll('.scatterlayer .js-line').length;
        const tokens = document.querySelectorAll('.rnnviz-saliency .tokens > span').length;
        return images >= 3 && lines >= 6 && tokens === {steps};
    }}""", timeout=TIMEOUT_S * 1000)


def timed(page: Page, action, steps: int) -> float:
    start = time.perf_counter()
    with expect_rerun(page, TIMEOUT_S):
        action()
    drawn(page, steps)
    return time.perf_counter() - start


def set_number(page: Page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    with expect_rerun(page, TIMEOUT_S):
        box.fill(str(value))
        box.press("Enter")


def setup(page: Page, seed: int, length: int) -> None:
    """Random models with this seed, and the generator set to this length (nothing generated yet)."""
    open_page(page, "gradients", TIMEOUT_S)
    with expect_rerun(page, TIMEOUT_S):
        page.locator('[data-testid="stSidebar"]').get_by_text("Random (untrained)", exact=True).click()
    set_number(page, "Seed", seed)
    set_number(page, "Length", length)


def generate(page: Page) -> None:
    page.get_by_role("button", name="Generate", exact=True).click()


def nudge_threshold(page: Page) -> None:
    slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').filter(has_text="Horizon threshold")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowLeft")


def measure(rounds: int, shots: Path | None) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"cold": [], "warm": [], "rerun": [], "reference (length 100), cold": []}
    log = Path("/tmp") / "rnnviz-draw-gradients.log"
    with serve_app(log) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, base_url=url)

        def new_page() -> Page:
            page = context.new_page()
            track_runs(page)
            return page

        for r in range(rounds):
            page = new_page()
            setup(page, 1000 + r, 100)
            times["reference (length 100), cold"].append(timed(page, lambda p=page: generate(p), 100))
            page.close()
            page = new_page()
            setup(page, 2000 + r, 1000)
            times["cold"].append(timed(page, lambda p=page: generate(p), 1000))
            times["rerun"].append(timed(page, lambda p=page: nudge_threshold(p), 1000))
            assert_no_exception(page)
            if shots is not None and r == 0:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "gradients-T1000.png"), full_page=True)
            page.close()
            page = new_page()
            setup(page, 2000 + r, 1000)
            times["warm"].append(timed(page, lambda p=page: generate(p), 1000))
            page.close()
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for a full-page screenshot")
    args = parser.parse_args(argv)
    times = measure(args.rounds, args.screenshots)
    ref = statistics.median(times["reference (length 100), cold"])
    print(f"/gradients draw time, T=1000, three 128-unit models, headless Chromium {VIEWPORT['width']}x"
          f"{VIEWPORT['height']}, {args.rounds} rounds (median, then every round):")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:30s} {med:5.2f} s  ({med / ref:4.1f}x reference)  " + " ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
