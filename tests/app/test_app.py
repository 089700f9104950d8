"""App tests without a browser: AppTest runs app.py (home by default), then switches to each page.

AppTest notes for page authors:
* ``AppTest.from_file`` resolves a relative path against the *calling test file*, so pass ``APP``.
* ``switch_page`` takes the page's file path (``"pages/cell.py"``), not its url_path, and needs a
  ``run()`` of app.py first so ``st.navigation`` has registered the pages; it does not rerun by itself.
* Plotly charts have no ``at.plotly_chart`` list: use ``at.get("plotly_chart")``; the figure is JSON in
  ``.proto.spec``.
"""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.vocab import token_label

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT_S = 60  # the first run imports torch and plotly
NOT_PAGES = {  # helper modules that live beside the pages
    "pages/shared.py", "pages/i18n.py", "pages/cell_units.py", "pages/step_backward.py", "pages/train_jobs.py",
    "pages/cell_sentiment.py", "pages/train_reviews.py",
}
PAGE_TITLES = {  # every page file and the title it shows
    "pages/home.py": "rnnviz",
    "pages/cell.py": "Inside the cell",
    "pages/gradients.py": "Gradient flow",
    "pages/memory.py": "Before gating: leaky units and echo state networks",
    "pages/train.py": "Train live",
    "pages/step.py": "Step through",
    "pages/generate.py": "Generate",
}


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def plotly_figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def set_sequence(at: AppTest, text: str) -> AppTest:
    at.text_area(key="home_sequence").set_value(text).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_every_page_file_is_in_the_navigation():
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")} - NOT_PAGES
    assert on_disk == set(PAGE_TITLES)
    app_source = (ROOT / "app.py").read_text()
    assert all(f'"{page}"' in app_source for page in PAGE_TITLES)


def test_home_is_the_default_page_and_draws_the_hidden_states():
    at = run_app()
    assert [t.value for t in at.title] == ["rnnviz"]
    assert at.text_area(key="home_sequence").value == "hello, world"
    (fig,) = plotly_figures(at)
    assert fig["layout"]["xaxis"]["ticktext"] == [token_label(c) for c in "hello, world"]


@pytest.mark.parametrize("page", [p for p in PAGE_TITLES if p != "pages/home.py"])
def test_page_runs_and_shows_its_title(page):
    at = run_app()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert PAGE_TITLES[page] in [t.value for t in at.title]


def test_home_takes_any_unicode():
    text = "héllo 世界 👋"
    at = set_sequence(run_app(), text)
    (fig,) = plotly_figures(at)
    assert fig["layout"]["xaxis"]["ticktext"] == [token_label(c) for c in text]
    assert not at.error and not at.warning


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_home_hints_on_blank_text(text):
    at = set_sequence(run_app(), text)
    assert at.info, "expected a hint to type something"
    assert not at.get("plotly_chart")


def test_home_truncates_long_text_with_a_warning():
    at = set_sequence(run_app(), "ab" * 1500)
    assert "3,000" in at.warning[0].value and "2,000" in at.warning[0].value
    (fig,) = plotly_figures(at)
    assert fig["layout"]["xaxis"]["range"][1] == pytest.approx(2000 - 0.5)
