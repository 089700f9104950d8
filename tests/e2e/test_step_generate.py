"""/step and /generate in a real browser: step through "bcde" with the buttons, then generate text and hover it.

Screenshots go to $RNNVIZ_SCREENSHOTS when it is set (step.png, step-lstm.png, generate.png, generate-hover.png).
"""

import time

import pytest
from playwright.sync_api import expect

from rnnviz.assets import list_pretrained
from tests.e2e.helpers import assert_no_exception, expect_rerun, open_page, save_screenshot, set_text, text_box

pytestmark = pytest.mark.e2e

SUBHEADING = '[data-testid="stHeading"] h3'
TOKENS = ".rnnviz-gen .tk"
DEMO_TIMEOUT_S = 180  # the tiny demo trains on the server when no character model is bundled


def heading(page) -> str:
    return page.locator(SUBHEADING).filter(has_text="reading").first.inner_text()


def click(page, role: str, name: str, timeout_s: float = 60) -> None:
    with expect_rerun(page, timeout_s):
        page.get_by_role(role, name=name, exact=True).click()


def test_step_through_bcde(page):
    start = time.perf_counter()
    open_page(page, "step")
    print(f"/step first open (trains the letter RNN): {time.perf_counter() - start:.1f} s")
    set_text(page, "Sequence", "bcd")
    set_text(page, "Sequence", "bcde")
    assert heading(page) == "Step 1: reading 'b'"
    assert page.get_by_role("button", name="Back").is_disabled()
    for t, letter in enumerate("cde", start=2):
        start = time.perf_counter()
        click(page, "button", "Next")
        print(f"Next → step {t}: {time.perf_counter() - start:.2f} s")
        assert heading(page) == f"Step {t}: reading '{letter}'"
    assert page.get_by_role("button", name="Next").is_disabled()
    assert "the model predicts a" in page.get_by_text("After reading e").inner_text()
    assert page.locator(".katex").count() >= 3  # the formulas are rendered, not shown as source
    assert page.locator(".rnnviz-chips .chip.now").inner_text().split() == ["t", "=", "4", "e", "→", "a"]
    save_screenshot(page, "step")
    click(page, "button", "Back")
    assert heading(page) == "Step 3: reading 'd'"
    click(page, "radio", "LSTM")
    gates = page.locator(".rnnviz-gates")
    assert gates.count() == 1 and "forget gate" in gates.inner_text()
    assert_no_exception(page)
    save_screenshot(page, "step-lstm")


def written(page) -> str:
    return page.locator(".rnnviz-gen").inner_text()


def test_generate_text_and_hover_for_the_top5(page):
    open_page(page, "generate")
    if not list_pretrained("char"):
        click(page, "button", "Train the tiny demo model", DEMO_TIMEOUT_S)
    expect(text_box(page, "Prime text")).to_have_value("def ")  # retries: the box can render before its value
    page.locator(TOKENS).nth(4 + 299).wait_for(state="attached")
    assert page.locator(TOKENS).count() == 4 + 300
    first = written(page)

    target = page.locator(TOKENS).nth(10)
    target.hover()
    tip = target.evaluate("e => getComputedStyle(e, '::after').content")
    assert "top 5 here" in tip and "under the model" in tip
    save_screenshot(page, "generate-hover", full_page=False)

    seed = page.get_by_label("Seed", exact=True)
    for value, same in (("1", False), ("0", True)):
        with expect_rerun(page):
            seed.fill(value)
            seed.press("Enter")
        assert (written(page) == first) == same

    start = time.perf_counter()
    set_text(page, "Prime text", "<img src=x onerror=alert(1)>é ")
    print(f"rerun after a new prime: {time.perf_counter() - start:.2f} s")
    box = page.locator(".rnnviz-gen")
    assert box.locator("img").count() == 0 and box.inner_text().startswith("<img src=x onerror=alert(1)>")
    assert box.locator(".unk").count() == 1  # é is read as the unknown token, shown, not dropped
    assert_no_exception(page)
    save_screenshot(page, "generate")
