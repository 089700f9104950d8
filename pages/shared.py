"""UI sections and caches shared by the pages. Each section is a function that returns what it collected.

Model sources, in the words the pages use:
- "Pretrained": bundled checkpoints in assets/ (read-only, cached for everyone).
- "Random": built from size and init controls, seeded (read-only, cached for everyone).
- "Trained here": models trained on /train in this session, kept in ``st.session_state[TRAINED_KEY]``.
- "Uploaded": a safetensors checkpoint, validated by rnnviz.checkpoint.
A cached model is never trained or mutated; /train trains its own copies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote_plus

import streamlit as st
import torch
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rnnviz import (
    GradFlow,
    InitConfig,
    Model,
    ModelConfig,
    RnnvizError,
    Trace,
    Vocab,
    gradient_flow,
    step_norms,
    trace,
)
from rnnviz.assets import list_pretrained, load_pretrained
from rnnviz.checkpoint import load as load_checkpoint
from rnnviz.figures import with_revision


def leave_legacy_pages_mode() -> None:
    """Send a run that Streamlit's legacy pages/ mode started through app.py's navigation instead.

    Each new session's PagesManager sets the class-wide flag ``PagesManager.uses_pages_directory`` to whether a
    folder named pages/ sits beside app.py, unless it is already set; only st.navigation clears it. So on a fresh
    server every session whose first run starts before some run has reached app.py's st.navigation runs in the legacy
    mode: a deep link such as /train executes pages/train.py alone, with file names as navigation and no
    set_page_config. Several sessions opening one shared link at once all start that way. The test is therefore
    per run, not the flag: the legacy mode lists every file of pages/, this module among them, as a page, and
    app.py's navigation never does. Such a run clears the flag and reruns, which goes through app.py to the same
    URL. Called first by url_notice, which every page calls before its widgets. (It used to run when this module
    was imported, so it fired in one session only: the others stayed in the legacy mode, and those importing the
    module meanwhile found it half-initialized: "cannot import name 'LINK' from 'pages.shared'".)
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    here = Path(__file__).resolve()
    if any(Path(info.get("script_path") or ".").resolve() == here for info in ctx.pages_manager.get_pages().values()):
        PagesManager.uses_pages_directory = False
        st.rerun()


MAX_STEPS = 2000  # longest sequence a page runs; longer input is cut with a visible message
TRAINED_KEY = "rnnviz_trained"  # session_state: {name: {"model": Model, "card": dict}}, written by /train
SOURCES = ("Pretrained", "Random", "Trained here", "Uploaded")
FIRST_PRETRAINED = "char_lstm"  # the bundled model a page opens with: the LSTM shows every gate
SCHEMES = ("default", "orthogonal", "identity")  # recurrent-weight init schemes, as rnnviz.InitConfig names them
NONLINEARITIES = ("tanh", "relu")


# The page's link ----------------------------------------------------------------------------------------------
# Each page keeps its main settings in its URL, so that a link reproduces what the sender saw: their widgets take
# bind=LINK, and the widget's key (which starts with the page's prefix) names the parameter. A setting equal to its
# default is left out. url_notice, called before the widgets, removes what a widget could not use and says so.

LINK = "query-params"  # bind= of a widget whose value lives in the page's link
LINK_TEXT_MAX = 4000  # a text box stays in the link while its text is this short once URL-encoded, so that links
#                       stay well below the 8 KB request line that common proxies accept (Tornado refuses 64 KB)
NOTICE_KEY = "rnnviz_link_notice"  # session_state: (page prefix, message), carried across url_notice's rerun
ECHO = 40  # characters of a link's name or value quoted back in the notice
MAX_LISTED = 6  # unusable settings named in the notice; the rest are counted

Check = Callable[[list[str]], str | None]  # a setting's values in the link → why they cannot be used, or None


def link_length(text: str) -> int:
    """Characters ``text`` takes in a URL's query string."""
    return len(quote_plus(text))


def _options_text(labels: list[str]) -> str:
    shown = ", ".join(labels[:6]) + (", …" if len(labels) > 6 else "")
    return f"not one of {shown}" if labels else "no options here"


def one_of(options: Sequence, format_func: Callable = str) -> Check:
    """One choice (radio, selectbox, segmented control, select slider, tabs): the link holds the option's label."""
    labels = [str(format_func(o)) for o in options]
    return lambda values: None if values[-1] in labels else _options_text(labels)


def some_of(options: Sequence, format_func: Callable = str) -> Check:
    """A multiselect: the link repeats the parameter, once per chosen label (once, empty, for no choice)."""
    labels = [str(format_func(o)) for o in options]
    return lambda values: None if all(v in labels for v in values if v) else _options_text(labels)


def number(lo: float, hi: float, integer: bool = False) -> Check:
    """A number input or slider: a finite number from lo to hi, and a whole one (such as 3 or 3.0) for whole-number
    widgets. Streamlit parses every number with float(), then would truncate 2.7 to 2 and raise on "inf"."""
    def check(values: list[str]) -> str | None:
        try:
            x = float(values[-1])
        except ValueError:
            x = math.nan
        if math.isfinite(x) and lo <= x <= hi and (x.is_integer() or not integer):
            return None
        return f"not a {'whole ' if integer else ''}number from {lo:,} to {hi:,}"
    return check


def flag() -> Check:
    """A checkbox or toggle."""
    return lambda values: None if values[-1].lower() in ("true", "false") else "not true or false"


def short_text() -> Check:
    """A text box: any text short enough for a link (LINK_TEXT_MAX); the page checks what it means."""
    def check(values: list[str]) -> str | None:
        n = link_length(values[-1])
        return None if n <= LINK_TEXT_MAX else f"{n:,} characters once encoded, more than a link keeps"
    return check


def _echo(value: str) -> str:
    """A name or value from the URL, quoted safely: whitespace collapsed, cut to ECHO characters, escaped."""
    short = " ".join(value[: ECHO + 1].split())
    return markdown_literal(short[:ECHO] + ("…" if len(value) > ECHO else ""))


def url_notice(prefix: str, checks: dict[str, Check]) -> None:
    """Call before the page's widgets, with a check for each setting the page keeps in its link.

    Removes from the URL each parameter of this page (its name starts with ``prefix``) that is unknown or that its
    widget could not use, reruns, and shows one warning that names them: their widgets start at the defaults.
    Streamlit alone would drop most such values silently, and raise on some ("inf" for a whole number), because
    widgets read the link as it was when the run began. Other parameters (other pages', other sites') are left alone.
    The browser's Back button can bring such a link back to a widget that is already bound: that widget keeps its
    value, set again by code, which wins over the URL on a run that is not a history navigation (hence the rerun).
    """
    leave_legacy_pages_mode()
    problems, removed = [], False
    for name in list(st.query_params):
        if name in checks:
            why = checks[name](st.query_params.get_all(name) or [""])
        else:
            why = "not a setting of this page" if name.startswith(prefix) else None
        if why is None:
            continue
        value = ", ".join(st.query_params.get_all(name))
        problems.append(f"**{_echo(name)}** = “{_echo(value)}” ({markdown_literal(why)})")
        try:
            del st.query_params[name]
        except StreamlitAPIException:  # already bound to its widget: the browser went back to this link
            if name not in st.session_state:
                continue
            st.session_state[name] = st.session_state[name]
        removed = True
    if problems:
        more = len(problems) - MAX_LISTED
        message = ("This link holds settings that this page cannot use, so their defaults are used instead: "
                   + "; ".join(problems[:MAX_LISTED]) + (f"; and {more:,} more" if more > 0 else "") + ".")
        if removed and st.session_state.get(NOTICE_KEY) != (prefix, message):  # once: a bound one is still there
            st.session_state[NOTICE_KEY] = (prefix, message)
            st.rerun()
        st.session_state.pop(NOTICE_KEY, None)
        st.warning(message, icon=":material/link_off:")
        return
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice is not None and notice[0] == prefix:
        st.warning(notice[1], icon=":material/link_off:")


def linked_text(where, kind: str, label: str, key: str, **kwargs) -> str:
    """``where.text_area`` or ``where.text_input`` (``kind``; ``where`` is st or a column) kept in the page's link
    while its text fits there (LINK_TEXT_MAX), so that a long paste never makes a link the server refuses; past that
    the box leaves the link and a caption under it says so. A link opened with ?key=… overrides the default."""
    bind = _text_link(key)
    text = getattr(where, kind)(label, key=key, bind=bind, **kwargs)
    if bind is None:
        where.caption(f":material/link_off: Too long for this page's link ({len(text):,} characters), so a link to "
                      "this page opens with the default text here; its other settings are kept.")
    return text


def _text_link(key: str) -> str | None:
    """bind= for the text box ``key``: LINK while its text fits in a link, None when it does not."""
    text = st.session_state.get(key) or ""
    fits = link_length(text) <= LINK_TEXT_MAX
    if fits and text and st.session_state.get(f"{key}_unlinked"):
        try:  # a bound box reaches the URL only when it changes: put it back now that it fits again
            st.query_params[key] = text
        except StreamlitAPIException:
            pass
    st.session_state[f"{key}_unlinked"] = not fits
    return LINK if fits else None


def sequence_ui(key: str, default: str, presets: dict[str, str] | None = None, height: int = 90,
                help: str | None = None) -> str | None:
    """The "Sequence" box with optional presets; returns the text cut to MAX_STEPS, or None when empty."""
    if presets:
        def apply_preset():
            st.session_state[key] = presets[st.session_state[f"{key}_preset"]]

        st.selectbox("Preset", list(presets), key=f"{key}_preset", on_change=apply_preset, index=None,
                     placeholder="Pick an example sequence…")
    st.session_state.setdefault(key, default)  # the key holds the value, so presets and callbacks may write it
    text = linked_text(st, "text_area", "Sequence", key, height=height,
                       help=help or "Any characters: letters, code, Chinese, emoji. Each one is a time step.")
    if not text or not text.strip():
        st.info("Type a sequence to run the model on.", icon=":material/keyboard:")
        return None
    if len(text) > MAX_STEPS:
        st.warning(f"The sequence has {len(text):,} characters; only the first {MAX_STEPS:,} are used.")
        text = text[:MAX_STEPS]
    return text


@st.cache_resource(max_entries=24, show_spinner=False)
def random_model(config: ModelConfig, init: InitConfig, vocab: Vocab | None, seed: int) -> Model:
    """A seeded, untrained model. Shared by every session: read only."""
    return Model(config, vocab, init, torch.Generator().manual_seed(seed)).eval()


def plotly_chart(where, fig, **kwargs):
    """``where.plotly_chart(fig, **kwargs)`` (``where``: ``st`` or a container) with the figure's datarevision set,
    so the browser does not draw it again when Streamlit re-sends it after mounting (rnnviz.figures.with_revision
    says why). Every page's charts go here."""
    return where.plotly_chart(with_revision(fig), **kwargs)


@st.cache_data(max_entries=48, show_spinner=False)
def cached_trace(_model: Model, model_key: str, x) -> Trace:
    """trace(_model, x); ``model_key`` (Model.fingerprint()) stands for the unhashed model."""
    return trace(_model, x)


@st.cache_data(max_entries=48, show_spinner=False)  # compact: ~1.5 MB at T=1000, H=128; 6 MB at T=2000, H=256
def cached_gradient_flow(_model: Model, model_key: str, x, objective: str = "sum") -> GradFlow:
    """gradient_flow(_model, x), compacted: the gates dropped, and without the per-step Jacobian norms.

    Those are the costly part (batched Lanczos, ~0.1-0.5 s per 128-unit model at T=1000) and depend on the input
    only: :func:`cached_step_norms` computes them, after a page has drawn everything else.
    One view of /gradients holds three models (times the seeds), so the cache keeps a few views for a few users;
    with too few entries a user's own earlier views were evicted and recomputed (2-3 s at T=1000)."""
    return gradient_flow(_model, x, objective=objective).compact(step_norms=False)  # /cell caches its own trace


@st.cache_data(max_entries=48, show_spinner=False)  # per model [layer, direction, time] float64: 8 kB at T=1000
def cached_step_norms(_models: list[Model], model_keys: tuple[str, ...], x, layers: tuple[int, ...]) -> list:
    """rnnviz.step_norms(model, x, layer) for each model and the layer it shows: ‖dh_t/dh_{t−1}‖₂ at every step,
    for GradFlow.with_step_norms.

    All the models of a view in one call (~0.1-0.5 s per 128-unit model at T=1000; far less on the recall task's
    input, whose settled steps share a Jacobian)."""
    return [step_norms(m, x, layer) for m, layer in zip(_models, layers, strict=True)]


def random_model_ui(key: str, cells=("rnn", "lstm", "gru"), hidden: int = 32, max_hidden: int = 256,
                    show_layers: bool = True) -> tuple[str, ModelConfig, InitConfig, int]:
    """Controls for a random model: (cell, config without encoder fields, init, seed)."""
    c1, c2, c3, c4 = st.columns(4)
    cell = c1.selectbox("Cell", cells, index=cells.index("lstm") if "lstm" in cells else 0, key=f"{key}_cell",
                        bind=LINK)
    size = c2.number_input("Hidden units", 1, max_hidden, hidden, key=f"{key}_hidden", bind=LINK)
    layers = c3.number_input("Layers", 1, 4, 1, key=f"{key}_layers", bind=LINK) if show_layers else 1
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed", bind=LINK))
    bidirectional = st.checkbox("Bidirectional", key=f"{key}_bi", bind=LINK) if show_layers else False
    with st.expander("Initialization"):
        scheme = st.selectbox("Recurrent weights W_hh", SCHEMES, key=f"{key}_scheme", bind=LINK,
                              help="default: PyTorch's uniform ±1/√H; orthogonal: every singular value equals the "
                                   "gain; identity: W_hh = gain·I (IRNN).")
        gain = st.slider("Gain", 0.1, 3.0, 1.0, 0.05, key=f"{key}_gain", disabled=scheme == "default", bind=LINK)
        forget = st.slider("Forget-gate bias (GRU: update gate)", -2.0, 6.0, 0.0, 0.5, key=f"{key}_forget",
                           disabled=cell == "rnn", bind=LINK,
                           help="Large values start the gate near 1, so memory is kept. Set once, not doubled.")
        chrono = st.number_input("Chrono init T_max (0 = off)", 0, 10_000, 0, key=f"{key}_chrono",
                                 disabled=cell == "rnn", bind=LINK, help="b_f ~ log U(1, T_max − 1), b_i = −b_f.")
    nonlin = "tanh"
    if cell == "rnn":
        nonlin = st.radio("Nonlinearity", NONLINEARITIES, horizontal=True, key=f"{key}_nonlin", bind=LINK)
    config = ModelConfig(cell=cell, hidden_size=int(size), num_layers=int(layers), bidirectional=bidirectional,
                         nonlinearity=nonlin)
    init = InitConfig(scheme, gain=float(gain) if scheme != "default" else 1.0,
                      forget_bias=float(forget) if forget else None,
                      chrono_tmax=float(chrono) if chrono >= 3 else None)
    return cell, config, init, seed


def random_model_checks(key: str, cells=("rnn", "lstm", "gru"), max_hidden: int = 256) -> dict[str, Check]:
    """url_notice's checks for random_model_ui(key, cells, max_hidden=max_hidden)."""
    return {f"{key}_cell": one_of(cells), f"{key}_hidden": number(1, max_hidden, integer=True),
            f"{key}_layers": number(1, 4, integer=True), f"{key}_seed": number(0, 2**31 - 1, integer=True),
            f"{key}_bi": flag(), f"{key}_scheme": one_of(SCHEMES), f"{key}_gain": number(0.1, 3.0),
            f"{key}_forget": number(-2.0, 6.0), f"{key}_chrono": number(0, 10_000, integer=True),
            f"{key}_nonlin": one_of(NONLINEARITIES)}


def trained_models() -> dict[str, dict]:
    """Models trained on /train in this session: {name: {"model": Model, "card": dict}}."""
    return st.session_state.get(TRAINED_KEY, {})


def markdown_literal(text: str) -> str:
    """User text made safe inside st.markdown / st.error: every markdown, HTML and LaTeX character escaped."""
    return re.sub(r"([\\`*_{}\[\]#<>|~$&])", r"\\\1", text)  # escaped [ ] also defuse links and images


def show_error(err: Exception) -> None:
    """A user-caused error as one sentence on the page; anything else is a bug and is re-raised. The sentence may
    quote what the user typed or uploaded, so it is shown literally, never as markdown."""
    if isinstance(err, RnnvizError):
        st.error(markdown_literal(str(err)), icon=":material/error:")
    else:
        raise err


@st.cache_resource(max_entries=12, show_spinner="Loading the pretrained model…")
def pretrained(name: str) -> tuple[Model, dict]:
    """A bundled model and its card. Shared by every session: read only."""
    return load_pretrained(name)


def card_caption(card: dict) -> str:
    """One line about a model card: cell, size, task and its validation metrics."""
    card = card if isinstance(card, dict) else {}
    task = card.get("task") or {}
    if isinstance(task, dict):
        params = ", ".join(f"{k} {v}" for k, v in task.items() if k in ("lag", "mode", "filler", "source", "length"))
        task = f"{task.get('name', '?')}" + (f" ({params})" if params else "")
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    shown = [f"{k} {metrics[k]:.3g}" for k in ("accuracy", "bpc", "loss") if isinstance(metrics.get(k), int | float)]
    layers = card.get("num_layers", 1)
    task = str(task)[:80]
    parts = [str(card.get("cell", "?")).upper(), f"{card.get('hidden_size', '?')} units",
             f"{layers} layers" if layers != 1 else "", "bidirectional" if card.get("bidirectional") else "",
             f"task {task}", f"step {metrics['step']}" if "step" in metrics else "", ", ".join(shown)]
    return " · ".join(p for p in parts if p)


def pretrained_ui(key: str, group: str) -> tuple[Model, str] | None:
    cards = list_pretrained(group)
    if not cards:
        st.info("No pretrained models of this kind are bundled yet: run `python -m rnnviz.pretrain`, "
                "or choose another source.", icon=":material/info:")
        return None
    names = [c["name"] for c in cards]
    first = names.index(FIRST_PRETRAINED) if FIRST_PRETRAINED in names else 0
    name = st.selectbox("Pretrained model", names, index=first, key=f"{key}_pretrained", bind=LINK,
                        format_func=lambda n: cards[names.index(n)].get("title", n))
    model, card = pretrained(name)
    st.caption(card_caption(card))
    return model, cards[names.index(name)].get("title", name)


def trained_ui(key: str) -> tuple[Model, str] | None:
    models = trained_models()
    if not models:
        st.info("No model has been trained in this session yet: train one on the Train live page.",
                icon=":material/info:")
        return None
    name = st.selectbox("Model trained in this session", list(models), key=f"{key}_trained")
    st.caption(card_caption(models[name].get("card", {})))
    return models[name]["model"], name


def upload_ui(key: str) -> tuple[Model, str] | None:
    """A safetensors upload, validated against its card's shapes; kept in this session only."""
    file = st.file_uploader("Checkpoint (.safetensors, made by rnnviz)", type=["safetensors"], key=f"{key}_upload")
    if file is None:
        st.info("Upload a checkpoint saved from the Train live page.", icon=":material/upload:")
        return None
    store = st.session_state.setdefault(f"{key}_uploaded", {})
    ident = (file.name, file.size, getattr(file, "file_id", None))
    if store.get("ident") != ident:
        store.clear()
        try:
            model, card = load_checkpoint(file.getvalue())
        except RnnvizError as err:
            st.error(markdown_literal(f"{file.name}: {err}"), icon=":material/error:")
            return None
        store.update(ident=ident, model=model.eval(), card=card)
    st.caption(card_caption(store["card"]))
    return store["model"], file.name


def model_source_checks(key: str, group: str, sources=SOURCES) -> dict[str, Check]:
    """url_notice's checks for model_source_ui(key, group, …, sources): the source and the pretrained model."""
    titles = [card.get("title", card["name"]) for card in list_pretrained(group)]
    return {f"{key}_source": one_of(sources), f"{key}_pretrained": one_of(titles)}


def model_source_ui(key: str, group: str, random_ui, sources=SOURCES,
                    default: str | None = None) -> tuple[Model, str] | None:
    """Pick where the model comes from, starting at ``default`` (else the first source). ``random_ui()`` builds the
    "Random" choice (the page knows what input it needs) and returns (Model, name) or None. Returns the chosen
    (model, display name), or None with a message. Defaults are the widgets' own (index=), not set through
    st.session_state, because a link leaves out a value equal to the widget's default."""
    source = st.radio("Model source", sources, index=sources.index(default) if default in sources else 0,
                      horizontal=True, key=f"{key}_source", bind=LINK,
                      help="Pretrained: bundled with rnnviz. Random: untrained, from the controls below. "
                           "Trained here: from the Train live page in this session. Uploaded: your checkpoint.")
    if source == "Pretrained":
        return pretrained_ui(key, group)
    if source == "Trained here":
        return trained_ui(key)
    if source == "Uploaded":
        return upload_ui(key)
    return random_ui()
