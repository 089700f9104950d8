"""Keras and PyTorch files uploaded in a real browser: the page shows what it read (layers and shapes), then runs the
model on typed text with the vocabulary given beside it."""

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import PLOTLY_CHART, TIMEOUT_S, assert_no_exception, expect_rerun, open_page, save_screenshot
from tests.e2e.test_hostile import LANG, control, radio, type_into, upload

pytestmark = pytest.mark.e2e
LETTERS = "abcde "



@pytest.fixture(autouse=True)
def english_labels():
    """The hostile suite's actions read labels in its current case's language (a module-wide setting that a
    Chinese case in the same worker leaves behind): these pages open in English."""
    LANG["code"] = "en"

@pytest.fixture(scope="module")
def letters_keras(tmp_path_factory) -> bytes:
    """Embedding over six characters → LSTM(6) → LSTM(4) → Dense(6, softmax) at every step."""
    from tests.unit import keras_models as K

    L = K.L
    model = K.keras.Sequential([K.keras.Input((None,)), L.Embedding(6, 3), L.LSTM(6, return_sequences=True),
                                L.LSTM(4, return_sequences=True), L.Dense(6, activation="softmax")])
    K._randomized(model, 0)
    return K.saved(model, tmp_path_factory.mktemp("keras"), ".keras")


def test_keras_upload_shows_its_layers_and_runs_on_text(page, letters_keras):
    open_page(page, "cell")
    radio("Uploaded")(page)
    upload(page, "letters.keras", letters_keras)
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table).to_be_visible(timeout=TIMEOUT_S * 1000)
    vocab_choice = page.get_by_role("radio", name="The characters of a text, in first-seen order", exact=True)
    with expect_rerun(page):
        vocab_choice.locator("xpath=ancestor::label[1]").click()
    type_into(page, control(page, "Vocabulary text"), LETTERS)
    type_into(page, control(page, "Sequence"), "abc abcd ed")
    expect(page.locator(PLOTLY_CHART).first).to_be_attached(timeout=TIMEOUT_S * 1000)
    assert_no_exception(page)
    text = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert any("imported from Keras" in t for t in text), text
    page.set_viewport_size({"width": 1400, "height": 2400})  # the app scrolls inside itself: show it all
    save_screenshot(page, "imports-keras-cell")


@pytest.fixture(scope="module")
def stock_h5(tmp_path_factory) -> bytes:
    """The notes' stock model, LSTM(80) → Dropout → LSTM(100) → Dense(1), saved as a legacy .h5."""
    from tests.unit import keras_models as K

    model, _ = K.build(K.stock_lstm)
    return K.saved(model, tmp_path_factory.mktemp("keras"), ".h5")


def test_stock_model_reads_numbers_and_says_how_it_is_padded(page, stock_h5):
    open_page(page, "cell")
    radio("Numbers")(page)
    radio("Uploaded")(page)
    upload(page, "stock.h5", stock_h5)
    expect(page.locator(PLOTLY_CHART).first).to_be_attached(timeout=TIMEOUT_S * 1000)
    expect(page.get_by_text("padded to 100 units")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_be_visible()
    assert_no_exception(page)
    page.set_viewport_size({"width": 1400, "height": 2400})
    save_screenshot(page, "imports-stock-numbers")
