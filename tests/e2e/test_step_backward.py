"""/step, Backward tab, in a real browser: walk back through "bcde" from the last step to the first and see the
formulas, the ‖δ_t‖ chart and the weight gradients change; then the gradient-descent step.

Screenshots go to $RNNVIZ_SCREENSHOTS when it is set (step-backward.png, step-backward-lstm.png).
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import PLOTLY_CHART, assert_no_exception, expect_rerun, open_page, save_screenshot, text_box

pytestmark = pytest.mark.e2e

SUBHEADING = '[data-testid="stHeading"] h3'


def heading(page) -> str:
    return page.locator(SUBHEADING).filter(has_text="going back").first.inner_text()


def formulas(page) -> str:
    """The rendered formulas as the reader sees them (KaTeX's text, not its source)."""
    return "\n".join(page.locator(".katex-display").all_inner_texts())


def gradient_tables(page) -> str:
    return "\n".join(page.locator(".rnnviz-mat").filter(has_text="summed over").all_inner_texts())


def click(page, role: str, name: str) -> None:
    with expect_rerun(page):
        page.get_by_role(role, name=name, exact=True).click()


def test_walk_back_through_bcde(page):
    open_page(page, "step")
    expect(text_box(page, "Sequence")).to_have_value("bcde")  # the page opens on the notes' example
    click(page, "tab", "Backward")
    assert heading(page) == "Step 4, going back: the error at 'e'"
    assert page.get_by_role("button", name="Back", exact=True).is_disabled()
    assert page.locator(".rnnviz-chips .chip.now").inner_text().split()[:4] == ["t", "=", "4", "e"]
    assert page.locator(PLOTLY_CHART).locator(".scatterlayer .trace").count() >= 3  # ‖δ_t‖, last step's part, bound
    seen = [(formulas(page), gradient_tables(page))]
    save_screenshot(page, "step-backward")
    for n, letter in zip((3, 2, 1), "dcb", strict=True):
        click(page, "button", "Next")
        assert heading(page) == f"Step {n}, going back: the error at '{letter}'"
        assert page.locator(".rnnviz-chips .chip.now").inner_text().split()[:4] == ["t", "=", str(n), letter]
        seen.append((formulas(page), gradient_tables(page)))
    assert len({f for f, _ in seen}) == 4, "the formulas' numbers should change at every step"
    assert len({g for _, g in seen}) == 4, "the summed gradients should fill in at every step"
    assert page.get_by_role("button", name="Next", exact=True).is_disabled()
    assert page.get_by_text("the sums are complete").count() == 1
    assert page.locator(".katex-error").count() == 0  # every formula rendered
    click(page, "radio", "LSTM")
    assert heading(page) == "Step 4, going back: the error at 'e'"  # a new model starts again at the last step
    assert "δct" in formulas(page).replace(" ", "").replace("\n", "")
    assert_no_exception(page)
    save_screenshot(page, "step-backward-lstm")
