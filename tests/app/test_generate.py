"""/generate through AppTest: seeded and greedy decoding, temperature, unknown and hostile primes, model sources."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared import TRAINED_KEY
from rnnviz import sample
from rnnviz.assets import list_pretrained
from rnnviz.stepthrough import train_letters
from rnnviz.tasks import make_task
from tests.app.helpers import ok, open_app_page
from tests.app.test_app import APP

TIMEOUT_S = 180
BUNDLED = bool(list_pretrained("char"))


@pytest.fixture(autouse=True)
def quick_demo(monkeypatch):
    """The tiny demo trains for ~20 s on a busy machine; here it trains for a handful of steps."""
    real = sample.train_demo_model
    monkeypatch.setattr(sample, "train_demo_model", lambda: real(steps=10, hidden=16, max_chars=20_000))


@pytest.fixture
def at() -> AppTest:
    return open_app_page("pages/generate.py")


def written(at: AppTest) -> str:
    """The text inside the generated-text box (prime included), unescaped, without the newline markers."""
    (body,) = [h.proto.body for h in at.get("html") if "rnnviz-gen\"" in h.proto.body]
    spans = re.findall(r'data-tip="[^"]*">(.*?)</span>(?=<span class="tk|</div>)', body, flags=re.S)
    text = "".join(re.sub(r'<span class="ctl">⏎</span>', "", s) for s in spans)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&#x27;", "'") \
        .replace("&amp;", "&")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def use_demo(at: AppTest) -> AppTest:
    at.radio(key="generate_source").set_value("Tiny demo")
    ok(at.run())
    at.button(key="generate_demo_button").click()
    return ok(at.run())


@pytest.fixture
def ready(at) -> AppTest:
    """The page with a model picked: the bundled LSTM when there is one, else the (quick) tiny demo."""
    if BUNDLED:
        assert at.radio(key="generate_source").value == "Pretrained"
        assert at.selectbox(key="generate_pretrained").value == "char_lstm"
        return at
    assert at.radio(key="generate_source").value == "Tiny demo"
    return use_demo(at)


def test_writes_text_after_the_prime_and_the_same_seed_writes_it_again(ready):
    at = ready
    first = written(at)
    assert first.startswith("def ") and len(first) > 300
    at.number_input(key="generate_seed").set_value(5)
    ok(at.run())
    other = written(at)
    assert other != first
    at.number_input(key="generate_seed").set_value(0)
    ok(at.run())
    assert written(at) == first


def test_sample_again_moves_to_the_next_seed(ready):
    at = ready
    first = written(at)
    at.button(key="generate_again").click()
    ok(at.run())
    assert at.number_input(key="generate_seed").value == 1 and written(at) != first


def test_greedy_ignores_the_seed_and_samples_from_a_single_choice(ready):
    at = ready
    at.segmented_control(key="generate_decoding").set_value("Greedy")
    ok(at.run())
    text = written(at)
    assert at.slider(key="generate_temperature").disabled
    assert metrics(at)["Mean entropy of q"] == "0.00 bits"
    at.session_state["generate_seed"] = 9  # the box is disabled for greedy; the seed must not matter anyway
    ok(at.run())
    assert written(at) == text


def test_lower_temperature_lowers_the_entropy_sampled_from(ready):
    at = ready
    entropy = {}
    for t in (0.2, 1.8):
        at.slider(key="generate_temperature").set_value(t)
        ok(at.run())
        entropy[t] = float(metrics(at)["Mean entropy of q"].split()[0])
    assert entropy[0.2] < entropy[1.8]


def test_unknown_and_hostile_prime_characters_are_shown_escaped_not_dropped(ready):
    at = ready
    prime = "é<img src=x onerror=alert(1)></textarea>💥"
    at.text_area(key="generate_prime").set_value(prime)
    at.number_input(key="generate_length").set_value(20)
    ok(at.run())
    body = next(h.proto.body for h in at.get("html") if "rnnviz-gen\"" in h.proto.body)
    assert "<img" not in body and "</textarea>" not in body
    assert body.count('class="tk') == len(prime) + 20
    assert int(metrics(at)["Unknown in the prime"]) == 2  # é and 💥 are not in Python source's vocabulary
    assert "is not in the vocabulary, read as &lt;unk&gt;" in body


def test_an_empty_prime_asks_for_one(ready):
    at = ready
    at.text_area(key="generate_prime").set_value("")
    ok(at.run())
    assert any("Type a prime" in i.value for i in at.info)
    assert not at.metric


def test_the_top5_table_lists_the_alternatives_at_a_position(ready):
    at = ready
    at.number_input(key="generate_position").set_value(6)
    ok(at.run())
    table = at.dataframe[0].value
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table["p under the model"].is_monotonic_decreasing


def test_the_tiny_demo_is_labelled_as_a_demo(at):
    at = use_demo(at)
    assert any(w.value.startswith("Tiny demo, not a real model") for w in at.warning)
    assert written(at).startswith("def ")


def test_models_trained_here_write_text_or_say_why_not(at):
    letters, _ = train_letters("rnn", "one", "onehot", seed=0)
    recall = make_task("recall", lag=5).build_model("lstm", 8)
    at.session_state[TRAINED_KEY] = {"letters": {"model": letters, "card": {}},
                                     "recall": {"model": recall, "card": {}}}
    at.radio(key="generate_source").set_value("Trained here")
    ok(at.run())
    at.selectbox(key="generate_trained").set_value("letters")
    at.text_area(key="generate_prime").set_value("a")
    at.segmented_control(key="generate_decoding").set_value("Greedy")
    at.number_input(key="generate_length").set_value(9)
    ok(at.run())
    assert written(at) == "abcdeabcde"
    at.selectbox(key="generate_trained").set_value("recall")
    ok(at.run())
    assert any("cannot write text" in e.value for e in at.error)


def test_without_bundled_models_the_page_says_so_and_opens_on_the_demo(monkeypatch):
    for where in ("rnnviz.assets.list_pretrained", "pages.shared.list_pretrained"):
        monkeypatch.setattr(where, lambda group=None: [])
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT_S).run())
    at.switch_page("pages/generate.py")
    ok(at.run())
    assert at.radio(key="generate_source").value == "Tiny demo"
    assert any("No pretrained character model is bundled" in i.value for i in at.info)
    at.radio(key="generate_source").set_value("Pretrained")
    ok(at.run())
    assert any("No pretrained models of this kind" in i.value for i in at.info)
