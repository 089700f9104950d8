"""The Chinese interface in a real browser: ?lang=zh on every page, the switch, and links that keep the language.

Switching the language reruns the page and writes every widget's value back (app.py, switch_language): settings,
typed text and the training race must all survive it, and the link must then hold the same settings in the new
language's words.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    VIEWPORT,
    assert_no_exception,
    expect_rerun,
    open_page,
    save_screenshot,
    set_text,
    text_box,
    track_runs,
)

pytestmark = pytest.mark.e2e

# url_path: the page's title in Chinese, as app.py's catalog gives it
NAVIGATION = {"": "首页", "cell": "细胞内部", "gradients": "梯度流", "memory": "门控之前", "train": "实时训练",
              "step": "逐步演算", "generate": "生成"}
TITLES = {"gradients": "梯度流", "memory": "门控之前", "train": "实时训练", "generate": "生成",
          "cell": "细胞内部", "step": "逐步演算"}  # pages whose own title is translated
LAG, NOISE = "间隔（填充的时间步数）", "噪声"  # /train's recall lag and filler, in Chinese


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def switch_to(page: Page, name: str) -> None:
    with expect_rerun(page):
        page.get_by_role("radio", name=name, exact=True).click()
    assert_no_exception(page)


def progress(page: Page) -> str:
    return page.locator('[data-testid="stProgress"]').inner_text()


def test_every_page_opens_in_chinese_with_chinese_navigation(page):
    for url_path, title in NAVIGATION.items():
        open_page(page, f"{url_path}?lang=zh")
        assert_no_exception(page)
        assert params(page)["lang"] == ["zh"]
        for other in NAVIGATION.values():
            expect(page.get_by_role("link", name=other, exact=True).first).to_be_visible()
        if url_path in TITLES:
            expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
        expect(page.get_by_role("radio", name="中文", exact=True)).to_be_checked()
        save_screenshot(page, f"zh-{url_path or 'home'}")


def test_the_language_survives_a_page_switch(page):
    open_page(page, "?lang=zh")
    with expect_rerun(page):
        page.get_by_role("link", name="梯度流", exact=True).first.click()
    expect(page.get_by_role("heading", name="梯度流", level=1)).to_be_visible()
    assert params(page)["lang"] == ["zh"]


def test_switching_keeps_settings_and_training_on_train(page):
    open_page(page, "train?lang=zh")
    with expect_rerun(page):
        page.get_by_role("radio", name=NOISE, exact=True).locator("xpath=ancestor::label[1]").click()
    lag = page.get_by_label(LAG, exact=True)
    with expect_rerun(page):
        lag.fill("50")
        lag.press("Enter")
    with expect_rerun(page):
        page.get_by_role("button", name="单步", exact=True).click()
    trained = re.search(r"第 ([\d,]+) / ([\d,]+) 步 · 已训练 ([\d.]+) 秒", progress(page))
    assert trained and trained.group(1) == "10", progress(page)
    assert params(page)["train_filler"] == [NOISE] and params(page)["train_lag"] == ["50"]

    switch_to(page, "English")
    expect(page.get_by_role("heading", name="Train live", level=1)).to_be_visible()
    # the same race, not retrained: the same step and the same seconds of training
    assert progress(page).startswith(f"Step 10 of {trained.group(2)} · {trained.group(3)} s of training")
    assert page.get_by_label("Lag (steps of filler)", exact=True).input_value() == "50"
    expect(page.get_by_role("radio", name="noise", exact=True)).to_be_checked()
    expect(page.get_by_role("link", name="Gradient flow", exact=True).first).to_be_visible()
    # the link holds the same settings, in English words
    expect(page).to_have_url(re.compile(r"train_filler=noise"))
    assert params(page)["lang"] == ["en"] and params(page)["train_lag"] == ["50"]
    save_screenshot(page, "zh-train-switched-to-en")

    switch_to(page, "中文")
    assert re.search(rf"第 10 / {trained.group(2)} 步 · 已训练 {re.escape(trained.group(3))} 秒", progress(page))
    assert page.get_by_label(LAG, exact=True).input_value() == "50"
    expect(page.get_by_role("radio", name=NOISE, exact=True)).to_be_checked()
    expect(page).to_have_url(re.compile(r"train_filler=%E5%99%AA%E5%A3%B0"))  # 噪声


def test_switching_keeps_the_sequence_model_and_unit_on_cell(page):
    """/cell, there and back: the typed sequence, the model source and the selected unit stay as they were, and
    the open tab stays open (its state is its label)."""
    typed = "def f(x):\n    return [x, (x + 1)]  # 注释\n"
    open_page(page, "cell?lang=zh")
    with expect_rerun(page):
        page.get_by_role("radio", name="随机", exact=True).locator("xpath=ancestor::label[1]").click()
    set_text(page, "序列", typed)
    picker = page.locator('.st-key-cell_units_pick_128 input[role="combobox"]')
    with expect_rerun(page):
        picker.click()
        page.keyboard.type("#7")  # the list is long and drawn lazily: filter it
        page.get_by_role("option", name=re.compile(r"^#7\b")).first.click()
    chosen = picker.input_value()
    assert chosen.startswith("#7")
    painted = page.locator(".rnnviz-colored-text").first.inner_html()
    assert "第 0 步" in painted  # the hovers speak Chinese

    switch_to(page, "English")
    expect(page.get_by_role("heading", name="Inside the cell", level=1)).to_be_visible()
    assert text_box(page, "Sequence").input_value() == typed
    expect(page.get_by_role("radio", name="Random", exact=True)).to_be_checked()
    assert page.get_by_role("tab", name="What the units learned").get_attribute("aria-selected") == "true"
    assert picker.input_value().startswith("#7")
    english = page.locator(".rnnviz-colored-text").first.inner_html()
    assert "step 0 · " in english and "第 0 步" not in english
    save_screenshot(page, "zh-cell-switched-to-en")

    switch_to(page, "中文")
    assert text_box(page, "序列").input_value() == typed
    expect(page.get_by_role("radio", name="随机", exact=True)).to_be_checked()
    assert picker.input_value() == chosen
    assert page.locator(".rnnviz-colored-text").first.inner_html() == painted  # the same unit, the same values


def test_a_link_copied_in_chinese_opens_in_chinese(page, browser_context):
    open_page(page, "train?lang=zh")
    with expect_rerun(page):
        page.get_by_role("radio", name=NOISE, exact=True).locator("xpath=ancestor::label[1]").click()
    link = page.url
    other = browser_context.new_page()  # a new session: someone the link was sent to
    try:
        track_runs(other)
        open_page(other, link.split("/", 3)[3])
        assert_no_exception(other)
        expect(other.get_by_role("heading", name="实时训练", level=1)).to_be_visible()
        expect(other.get_by_role("radio", name=NOISE, exact=True)).to_be_checked()
    finally:
        other.close()


def test_an_english_link_opens_in_chinese_with_its_settings(page):
    """A link written before the Chinese interface (English option labels) still sets its options in Chinese."""
    open_page(page, "train?lang=zh&train_filler=noise&train_task=Adding+problem")
    assert_no_exception(page)
    expect(page.get_by_role("radio", name=NOISE, exact=True)).to_have_count(0)  # the adding task has no filler
    assert page.get_by_role("combobox", name="任务", exact=True).input_value() == "加法问题"
    assert not page.locator('[data-testid="stAlert"]').filter(has_text="链接").count()  # no "unusable link" notice


def test_a_chinese_browser_opens_in_chinese_without_a_link_parameter(browser, app_url):
    """No ?lang= in the link: the browser's language (st.context.locale) decides, and the link then keeps it."""
    for locale, title, code in (("zh-CN", "梯度流", "zh"), ("en-US", "Gradient flow", "en")):
        context = browser.new_context(viewport=VIEWPORT, base_url=app_url, locale=locale)
        try:
            tab = context.new_page()
            track_runs(tab)
            open_page(tab, "gradients")
            expect(tab.get_by_role("heading", name=title, level=1)).to_be_visible()
            expect(tab).to_have_url(re.compile(rf"lang={code}"))
        finally:
            context.close()
