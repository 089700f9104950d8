"""Links: every page keeps its main settings in the URL's query parameters (pages.shared: LINK, url_notice).

A link with valid parameters reproduces the sender's settings and what the page computes from them. A link with
bad or hostile parameters falls back to the defaults, with one visible notice that names them, and no traceback.
AppTest does not write the URL when a widget changes (the browser does: tests/e2e/test_url_state.py), but it does
pass a link's parameters in, and it shows what the server removed from them.
"""

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared import ECHO, LINK_TEXT_MAX, markdown_literal
from rnnviz.assets import list_pretrained
from rnnviz.vocab import token_label
from tests.app.helpers import TIMEOUT_S, ok, open_app_page
from tests.app.test_app import APP

NOTICE_ICON = ":material/link_off:"
SCRIPT = "<script>alert(1)</script>"
HOME = "pages/home.py"
PREFIXES = {"pages/home.py": "home_", "pages/cell.py": "cell_", "pages/gradients.py": "grad_",
            "pages/train.py": "train_", "pages/step.py": "step_", "pages/generate.py": "generate_"}


def open_link(page_file: str, params: dict) -> AppTest:
    """A new session opening ``page_file`` from a link whose query string holds ``params``: the notice, if any, is
    on its first run of that page (app.py opens at home, so home needs no switch)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params.update(params)
    ok(at.run())
    if page_file != HOME:
        at.switch_page(page_file)
        ok(at.run())
    return at


def set_by_hand(page_file: str, settings: list[tuple[str, object]]) -> AppTest:
    """A new session opening ``page_file`` plainly, then setting each (key, value) through its widget, in order."""
    at = open_app_page(page_file)
    for key, value in settings:
        widget(at, key).set_value(value)
        ok(at.run())
    return at


def nodes(at: AppTest) -> list:
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None) or {}
        stack.extend(children.values() if isinstance(children, dict) else children)
        out.append(node)
    return out


def widget(at: AppTest, key: str):
    found = [n for n in nodes(at) if getattr(n, "key", None) == key]
    assert len(found) == 1, f"no single widget with key {key!r} on the page"
    return found[0]


def bound(at: AppTest) -> dict:
    """{query parameter: widget} for every widget the page keeps in its link."""
    return {n.proto.query_param_key: n for n in nodes(at)
            if getattr(getattr(n, "proto", None), "query_param_key", "")}


def bound_values(at: AppTest) -> dict:
    return {key: w.value for key, w in bound(at).items()}


def url_values(w) -> list[str]:
    """A widget's value as its link writes it: the serialized widget state (option labels, not option values)."""
    state = w._widget_state
    kind = state.WhichOneof("value")
    value = getattr(state, kind)
    if kind.endswith("array_value"):
        return [str(v) for v in value.data] or [""]
    return ["true" if value else "false"] if kind == "bool_value" else [str(value)]


def notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.icon == NOTICE_ICON]


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def pretrained_title(group: str, name: str) -> str | None:
    cards = {c["name"]: c for c in list_pretrained(group)}
    return cards[name].get("title", name) if name in cards else None


# Each case: (page, [(key, value set by hand, value in the link)], what the page computed from them).
REPRODUCED = {
    "home": ("pages/home.py", [("home_sequence", "abc", "abc")], figures),
    "cell": ("pages/cell.py", [("cell_source", "Random", "Random"), ("cell_text_cell", "gru", "gru"),
                               ("cell_text_hidden", 16, "16"), ("cell_text_seed", 7, "7"),
                               ("cell_text_forget", 1.5, "1.5"), ("cell_sequence", "hello", "hello")], figures),
    "gradients": ("pages/gradients.py", [("grad_source", "Random", "Random (untrained)"),
                                         ("grad_cells", ["lstm", "esn"], ["LSTM", "ESN"]), ("grad_hidden", 16, "16"),
                                         ("grad_nonlin", "relu", "relu"), ("grad_seed", 3, "3"),
                                         ("grad_threshold", 1e-3, "1e-03"), ("grad_sequence", "abc" * 20, "abc" * 20)],
                  lambda at: ([m.value for m in at.metric], figures(at))),
    "train": ("pages/train.py", [("train_task", "adding", "Adding problem"), ("train_length", 20, "20"),
                                 ("train_cells", ["gru"], ["GRU"]), ("train_hidden", 8, "8"), ("train_clip", 0.0, "0"),
                                 ("train_gates", "default", "PyTorch default"),
                                 ("train_lr", "0.02", "0.02"), ("train_seed", 3, "3")],
              lambda at: at.session_state["train_race"].config),
    "step": ("pages/step.py", [("step_source", "Random", "Random"), ("step_cell", "LSTM", "LSTM"),
                               ("step_hidden", 2, "2"), ("step_seed", 5, "5"),
                               ("step_encoder", "embedding", "embedding (2 numbers)"), ("step_sequence", "bca", "bca")],
             lambda at: ([x.value for x in at.latex], [h.value for h in at.get("html")])),
    "generate": ("pages/generate.py", [("generate_decoding", "Greedy", "Greedy"), ("generate_length", 20, "20"),
                                       ("generate_prime", "def f(", "def f("),
                                       ("generate_pretrained", "char_gru", pretrained_title("char", "char_gru"))],
                 lambda at: [h.value for h in at.get("html")]),
}


@pytest.mark.parametrize("case", list(REPRODUCED))
def test_a_link_reproduces_the_settings_and_what_they_compute(case):
    page, settings, computed = REPRODUCED[case]
    if any(link is None for _, _, link in settings):
        pytest.skip("no pretrained character GRU is bundled")
    sender = set_by_hand(page, [(key, value) for key, value, _ in settings])
    receiver = open_link(page, {key: link for key, _, link in settings})
    default = open_app_page(page)
    assert not notices(receiver)
    for key, value, _ in settings:
        assert widget(receiver, key).value == value == widget(sender, key).value, key
        assert bound_values(default).get(key) != value, f"{key}: the case must move away from the default"
    assert computed(receiver) == computed(sender)
    assert computed(receiver) != computed(default)
    assert bound_values(receiver) == bound_values(sender)


def test_what_the_links_compute_is_what_they_say():
    """Spot checks that the reproduced output is the linked one, not just equal between two sessions."""
    home = open_link("pages/home.py", {"home_sequence": "abc"})
    assert figures(home)[0]["layout"]["xaxis"]["ticktext"] == [token_label(c) for c in "abc"]
    cell = open_link("pages/cell.py", {"cell_source": "Random", "cell_text_cell": "gru", "cell_text_hidden": "16"})
    cell.session_state["cell_view"] = "States"  # the page opens on what the units learned; heatmaps are a tab away
    cell.run()
    heatmaps = [t for t in figures(cell)[0]["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in heatmaps] == list("rznh") and heatmaps[0]["z"]["shape"].startswith("16,")
    train = open_link("pages/train.py", {"train_task": "Adding problem", "train_clip": "0", "train_hidden": "8"})
    config = train.session_state["train_race"].config
    assert (config.task, config.clip, config.hidden_size) == ("adding", None, 8)


# Each case: (page, valid settings the link also holds, bad parameters); at most six bad ones, all named.
HOSTILE = {
    "home": ("pages/home.py", [], {"home_sequence": "x" * 100_000, "home_theme": SCRIPT}),
    "cell": ("pages/cell.py", [("cell_source", "Random", "Random")],
             {"cell_mode": "", "cell_text_hidden": "inf", "cell_text_seed": "1e308", "cell_text_gain": "nan",
              "cell_text_cell": SCRIPT, "cell_sequence": "x" * 100_000}),
    "gradients": ("pages/gradients.py", [("grad_source", "Random", "Random (untrained)")],
                  {"grad_hidden": "7", "grad_layers": "-1", "grad_gain": "nan", "grad_threshold": "1e308",
                   "grad_objective": '<img src=x onerror="alert(1)">', "grad_sequence": "y" * 50_000}),
    "train": ("pages/train.py", [("train_hidden", 16, "16")],
              {"train_task": SCRIPT, "train_lr": "1e308", "train_lag": "inf", "train_cells": ["RNN", "TRANSFORMER"],
               "train_noise": "nan", "train_text": "a pasted corpus is never read from a link"}),
    "step": ("pages/step.py", [("step_source", "Random", "Random")],
             {"step_cell": "CNN", "step_hidden": "5", "step_seed": "1e308", "step_encoder": "",
              "step_sequence": "z" * 10_000, "step_W_hh": "w" * 10_000}),
    "generate": ("pages/generate.py", [("generate_decoding", "Greedy", "Greedy")],
                 {"generate_length": "0", "generate_seed": "inf", "generate_temperature": "nan",
                  "generate_source": "../../etc/passwd", "generate_prime": "p" * 100_000,
                  "generate_pretrained": "<b>x</b>"}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_bad_parameters_fall_back_to_defaults_with_one_notice(case):
    page, valid, bad = HOSTILE[case]
    at = open_link(page, {key: link for key, _, link in valid} | bad)
    expected = set_by_hand(page, [(key, value) for key, value, _ in valid])
    [notice] = notices(at)
    for key in bad:
        assert markdown_literal(key) in notice, key
        assert key not in at.query_params, f"{key} is still in the URL"
    assert not re.search(r"(?<!\\)[<>\[\]`$]", notice), "URL text must reach markdown escaped"
    assert all(ch * (ECHO + 1) not in notice for ch in "xyzwp"), "a hostile value is echoed at most ECHO characters"
    assert bound_values(at) == bound_values(expected)  # the valid settings applied, every other at its default
    for key, _, link in valid:
        assert at.query_params[key] == link
    ok(at.run())
    assert not notices(at), "the notice is about opening the link; the next run has nothing left to report"


def test_unknown_values_of_an_int_box_do_not_raise():
    """Streamlit's own URL seeding raises OverflowError on "inf" for a whole-number box; the page never gets it."""
    for value in ("inf", "-inf", "Infinity", "nan", "1e308", "9" * 5000, "2.5", "0x10", " "):
        at = open_link("pages/generate.py", {"generate_length": value})
        assert widget(at, "generate_length").value == 300, value
        assert len(notices(at)) == 1, value


def test_repeated_parameters_are_read_as_their_widget_reads_them():
    """A single-value setting takes the last of a repeated parameter, as Streamlit does."""
    at = open_link("pages/cell.py", {"cell_source": "Random", "cell_text_hidden": ["16", "999"]})
    assert widget(at, "cell_text_hidden").value == 128 and len(notices(at)) == 1
    at = open_link("pages/cell.py", {"cell_source": "Random", "cell_text_hidden": ["999", "16"]})
    assert widget(at, "cell_text_hidden").value == 16 and not notices(at)


def test_other_pages_and_other_sites_parameters_are_left_alone():
    params = {"train_hidden": "inf", "grad_seed": "nan", "utm_source": SCRIPT, "fbclid": "x" * 5000}
    at = open_link("pages/cell.py", params)
    assert not notices(at)
    assert all(key in at.query_params for key in params)


# Page states whose bound widgets, together, cover every setting each page keeps in its link.
STATES = {
    "pages/home.py": [{}],
    "pages/cell.py": [{"cell_source": "Random", "cell_text_cell": "rnn"}, {"cell_mode": "Numbers"},
                      {"cell_mode": "Numbers", "cell_numbers_cell": "rnn"}],
    "pages/gradients.py": [{"grad_source": "Random (untrained)"}],
    "pages/train.py": [{"train_task": label} for label in ("Recall: a symbol, a long lag, then name it",
                                                           "Letters: a→b→c→d→e→a", "Text: predict the next character",
                                                           "Adding problem", "Stock prices: next week",
                                                           "Noisy sine: next value", "Sentiment of short reviews")]
                      + [{"train_task": "Sentiment of short reviews", "train_review_source": "Generated (English)"}],
    "pages/step.py": [{}, {"step_source": "Random"}, {"step_source": "Type your own"}, {"step_view": "Backward"}],
    "pages/generate.py": [{}],
}


@pytest.mark.parametrize("page", list(STATES))
def test_every_linked_setting_round_trips(page):
    """Each bound widget's value, written as its link writes it, is accepted by the page's checks (no notice) and
    comes back the same; every parameter is named for its page, so that pages never share one."""
    for state in STATES[page]:
        at = open_link(page, state)
        linked = bound(at)
        assert linked and all(key.startswith(PREFIXES[page]) for key in linked), sorted(linked)
        again = open_link(page, state | {key: url_values(w) for key, w in linked.items()})
        assert not notices(again), (state, notices(again))
        assert bound_values(again) == bound_values(at), state


BACKWARD_LINK = {"step_view": "Backward", "step_bw_loss": "The last step only (as in bcde → a)",
                 "step_bw_targets": "c", "step_bw_lr": "2"}


def backward_numbers(at: AppTest) -> tuple:
    return [m.value for m in at.metric], [x.value for x in at.latex], [h.value for h in at.get("html")]


def test_a_link_opens_the_backward_tab_with_its_loss_targets_and_learning_rate():
    """/step's Backward tab keeps its settings in the link like the page's other widgets: opened from a link, it
    computes what the same settings chosen by hand compute, and not what the defaults compute."""
    receiver = open_link("pages/step.py", BACKWARD_LINK)
    assert not notices(receiver)
    assert receiver.session_state["step_view"] == "Backward"
    assert receiver.segmented_control(key="step_bw_loss").value == "last"
    assert receiver.text_input(key="step_bw_targets").value == "c"
    assert receiver.number_input(key="step_bw_lr").value == 2.0
    sender = open_app_page("pages/step.py")
    sender.session_state["step_view"] = "Backward"
    ok(sender.run())
    default = backward_numbers(sender)
    for key, value in (("step_bw_loss", "last"), ("step_bw_targets", "c"), ("step_bw_lr", 2.0)):
        widget(sender, key).set_value(value)
        ok(sender.run())
    assert backward_numbers(receiver) == backward_numbers(sender) != default
    linked = bound(sender)  # what the sender's link writes
    assert url_values(linked["step_bw_loss"]) == [BACKWARD_LINK["step_bw_loss"]]
    assert url_values(linked["step_bw_targets"]) == ["c"]
    assert float(url_values(linked["step_bw_lr"])[0]) == 2.0


def test_a_sequence_too_long_for_a_link_leaves_the_link_and_says_so():
    at = open_app_page("pages/home.py")
    at.text_area(key="home_sequence").set_value("ab" * 3000)
    ok(at.run())
    assert any("Too long for this page's link (6,000 characters)" in c.value for c in at.caption)
    assert "home_sequence" not in at.query_params
    at.text_area(key="home_sequence").set_value("short again")
    ok(at.run())
    assert not any("Too long" in c.value for c in at.caption)
    assert at.query_params["home_sequence"] == "short again"  # back in the link as soon as it fits


def test_a_linked_sequence_may_be_as_long_as_a_link_keeps():
    fits = "a" * LINK_TEXT_MAX
    at = open_link("pages/home.py", {"home_sequence": fits})
    assert widget(at, "home_sequence").value == fits and not notices(at)
    at = open_link("pages/home.py", {"home_sequence": fits + "a"})
    assert widget(at, "home_sequence").value == "hello, world" and len(notices(at)) == 1
    encoded = "世" * (LINK_TEXT_MAX // 9 + 1)  # 9 URL characters each: %E4%B8%96
    at = open_link("pages/home.py", {"home_sequence": encoded})
    assert widget(at, "home_sequence").value == "hello, world" and len(notices(at)) == 1
