"""/cell in a real browser with the models that read Chinese (issue #21): typing 鱼离不开 picks the Chinese
character model and shows Chinese top-5 with no <unk>; a review read by the sentiment model draws its running
prediction as a line. With $RNNVIZ_SCREENSHOTS set, each view is saved there, in English and in Chinese."""

import pytest

from pages.cell_sentiment import MODEL
from rnnviz.assets import list_pretrained
from rnnviz.vocab import UNK, is_cjk
from tests.e2e.helpers import PLOTLY_CHART, assert_no_exception, expect_rerun, open_page, save_screenshot, set_text

pytestmark = pytest.mark.e2e

FISH = "鱼离不开"
REVIEW = "快递很快，包装也好，就是价格有点贵，总体还是满意的。"


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label`` (opened again if the list closes under a rerun)."""
    combo = page.get_by_role("combobox", name=label, exact=True)
    with expect_rerun(page):
        combo.click()
        page.get_by_role("option", name=option, exact=True).click()


def test_typing_chinese_picks_the_chinese_model_and_shows_chinese_top5(page):
    open_page(page, "cell")
    set_text(page, "Sequence", FISH)
    assert_no_exception(page)
    combo = page.get_by_role("combobox", name="Pretrained model", exact=True)
    assert "Chinese reviews" in combo.input_value()
    assert page.get_by_text("The text is mostly Chinese").count() == 1
    with expect_rerun(page):
        page.get_by_role("tab", name="Predictions").click()
    chart = page.locator(PLOTLY_CHART).first
    chart.locator("g.hm image, g.heatmaplayer").first.wait_for(state="attached")
    cells = [t for t in chart.locator("svg text").all_text_contents()]  # tick labels and the heatmap's tokens
    chinese = [t for t in cells if len(t) == 1 and is_cjk(t) and t not in FISH]
    assert len(chinese) >= 5, cells  # predicted characters, not only the typed ones
    assert UNK not in page.locator('[data-testid="stMain"]').inner_text()
    assert not any(UNK in t for t in cells)
    save_screenshot(page, "cell-chinese-model")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_review_read_by_the_sentiment_model_draws_the_prediction_line(page, lang):
    title = next(c["title"] for c in list_pretrained("sentiment") if c["name"] == MODEL)
    open_page(page, "cell" + ("?lang=zh" if lang == "zh" else ""))
    zh = lang == "zh"
    if zh:
        from rnnviz.i18n import tr
        title = tr("zh", title)
    pick(page, "预训练模型" if zh else "Pretrained model", title)
    set_text(page, "序列" if zh else "Sequence", REVIEW)
    assert_no_exception(page)
    tab = page.get_by_role("tab", name="情感分析" if zh else "Sentiment")
    assert tab.get_attribute("aria-selected") == "true"
    line = page.locator(PLOTLY_CHART).first.locator("g.scatterlayer path.js-line")
    line.first.wait_for(state="attached")
    assert len(line.first.get_attribute("d") or "") > 20  # a drawn line through the steps
    painted = page.locator(".rnnviz-colored-text").first
    assert painted.inner_text().replace("\n", "") == REVIEW
    save_screenshot(page, f"cell-sentiment-{lang}")
