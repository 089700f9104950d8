"""UI sections and caches shared by the pages. Each section is a function that returns what it collected.

Words: every label goes through pages.i18n.t. Options are stable codes shown through format_func; where the code is
itself the English label (the model sources), the code is marked with N_ and shown with ``label``.

Model sources, in the words the pages use:
- "Pretrained": bundled checkpoints in assets/ (read-only, cached for everyone).
- "Random": built from size and init controls, seeded (read-only, cached for everyone).
- "Trained here": models trained on /train in this session, kept in ``st.session_state[TRAINED_KEY]``.
- "Uploaded": an rnnviz checkpoint, a Keras model or a PyTorch state dict, read as data by rnnviz.uploads.
A cached model is never trained or mutated; /train trains its own copies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote_plus

import streamlit as st
import torch
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages.i18n import lang, speaking, t
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
from rnnviz.figures import with_revision
from rnnviz.i18n import LANGUAGES, N_
from rnnviz.uploads import UPLOAD_TYPES, kind_of, read_model
from rnnviz.vocab import mostly_chinese, read_tokens


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
SOURCES = (N_("Pretrained"), N_("Random"), N_("Trained here"), N_("Uploaded"))  # codes, and English labels
FIRST_PRETRAINED = "char_lstm"  # the bundled model a page opens with: the LSTM shows every gate
SCHEMES = ("default", "orthogonal", "identity")  # recurrent-weight init schemes, as rnnviz.InitConfig names them
SCHEME_LABELS = {"default": N_("default"), "orthogonal": N_("orthogonal"), "identity": N_("identity")}
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


def label(option) -> str:
    """format_func for options whose code is their English label, marked with N_ (SOURCES)."""
    return t(str(option))


def named(names: dict) -> Callable[[object], str]:
    """format_func for options that are codes: ``names`` maps each code to its English label, marked with N_."""
    return lambda code: t(names.get(code, str(code)))


def scheme_label(scheme: str) -> str:
    return t(SCHEME_LABELS.get(scheme, scheme))


def _options_text(labels: list[str]) -> str:
    shown = ", ".join(labels[:6]) + (", …" if len(labels) > 6 else "")
    return t("not one of {options}", options=shown) if labels else t("no options here")


def _labels(options: list, format_func: Callable) -> Callable[[], list[str]]:
    """The options' labels, read when called: in the session's language (or the one ``speaking`` sets)."""
    return lambda: [str(format_func(o)) for o in options]


def _labelled(check: Check, options: list, format_func: Callable) -> Check:
    """``check`` with a ``relabel(values)``: a link's option labels in another language (a link copied before the
    language changed, or sent by someone who reads the other one) → the same options' labels in this session's
    language, or None when there is nothing to change (or nothing that maps)."""
    labels = _labels(options, format_func)

    def relabel(values: list[str]) -> list[str] | None:
        now = labels()
        if all(v in now for v in values if v):
            return None
        for code in LANGUAGES:
            with speaking(code):
                other = labels()
            if all(v in other for v in values if v):
                return [now[other.index(v)] if v else v for v in values]
        return None

    check.relabel = relabel
    return check


def one_of(options: Sequence, format_func: Callable = str) -> Check:
    """One choice (radio, selectbox, segmented control, select slider, tabs): the link holds the option's label,
    in the language of the page that wrote it (see _labelled)."""
    options = list(options)
    labels = _labels(options, format_func)
    return _labelled(lambda values: None if values[-1] in labels() else _options_text(labels()), options,
                     format_func)


def some_of(options: Sequence, format_func: Callable = str) -> Check:
    """A multiselect: the link repeats the parameter, once per chosen label (once, empty, for no choice)."""
    options = list(options)
    labels = _labels(options, format_func)
    return _labelled(lambda values: None if all(v in labels() for v in values if v) else _options_text(labels()),
                     options, format_func)


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
        if integer:
            return t("not a whole number from {lo:,} to {hi:,}", lo=lo, hi=hi)
        return t("not a number from {lo:,} to {hi:,}", lo=lo, hi=hi)
    return check


def flag() -> Check:
    """A checkbox or toggle."""
    return lambda values: None if values[-1].lower() in ("true", "false") else t("not true or false")


def short_text() -> Check:
    """A text box: any text short enough for a link (LINK_TEXT_MAX); the page checks what it means."""
    def check(values: list[str]) -> str | None:
        n = link_length(values[-1])
        return None if n <= LINK_TEXT_MAX else t("{n:,} characters once encoded, more than a link keeps", n=n)
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
    problems, removed, relinked = [], False, False
    for name in list(st.query_params):
        relabel = getattr(checks.get(name), "relabel", None)
        relabelled = relabel(st.query_params.get_all(name)) if relabel else None
        if relabelled is not None:
            relinked = _relink(name, relabelled) or relinked
            continue
        if name in checks:
            why = checks[name](st.query_params.get_all(name) or [""])
        else:
            why = t("not a setting of this page") if name.startswith(prefix) else None
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
        listed = "; ".join(problems[:MAX_LISTED]) + (t("; and {n:,} more", n=more) if more > 0 else "")
        message = t("This link holds settings that this page cannot use, so their defaults are used instead: "
                    "{problems}.", problems=listed)
        if removed and st.session_state.get(NOTICE_KEY) != (prefix, message):  # once: a bound one is still there
            st.session_state[NOTICE_KEY] = (prefix, message)
            st.rerun()
        st.session_state.pop(NOTICE_KEY, None)
        st.warning(message, icon=":material/link_off:")
        return
    if relinked:
        st.rerun()  # the widgets read the link as it was when the run began
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice is not None and notice[0] == prefix:
        st.warning(notice[1], icon=":material/link_off:")


def _relink(name: str, values: list[str]) -> bool:
    """Put ``values`` (the same options, in this session's language) in the link for ``name``; True when the link
    changed (the page reruns for its widgets to read it). A parameter already bound to its widget cannot be set: its
    value is written back to the widget instead, which sends it to the browser (and the link) in this language."""
    try:
        st.query_params[name] = values
        return True
    except StreamlitAPIException:
        if name in st.session_state:
            st.session_state[name] = st.session_state[name]
        return False


def linked_text(where, kind: str, label: str, key: str, **kwargs) -> str:
    """``where.text_area`` or ``where.text_input`` (``kind``; ``where`` is st or a column) kept in the page's link
    while its text fits there (LINK_TEXT_MAX), so that a long paste never makes a link the server refuses; past that
    the box leaves the link and a caption under it says so. A link opened with ?key=… overrides the default."""
    bind = _text_link(key)
    text = getattr(where, kind)(label, key=key, bind=bind, **kwargs)
    if bind is None:
        where.caption(":material/link_off: " + t("Too long for this page's link ({n:,} characters), so a link to "
                                                 "this page opens with the default text here; its other settings are "
                                                 "kept.", n=len(text)))
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
                help: str | None = None, on_preset: Callable[[str], None] | None = None) -> str | None:
    """The "Sequence" box with optional presets; returns the text cut to MAX_STEPS, or None when empty.
    ``on_preset(name)`` runs after a preset has set the text (a page may pick the model that reads it)."""
    if presets:
        def apply_preset():
            st.session_state[key] = presets[st.session_state[f"{key}_preset"]]
            if on_preset is not None:
                on_preset(st.session_state[f"{key}_preset"])

        st.selectbox(t("Preset"), list(presets), key=f"{key}_preset", on_change=apply_preset, index=None,
                     placeholder=t("Pick an example sequence…"), format_func=label)  # names marked with N_
    st.session_state.setdefault(key, default)  # the key holds the value, so presets and callbacks may write it
    text = linked_text(st, "text_area", t("Sequence"), key, height=height,
                       help=help or t("Any characters: letters, code, Chinese, emoji. Each one is a time step."))
    if not text or not text.strip():
        st.info(t("Type a sequence to run the model on."), icon=":material/keyboard:")
        return None
    if len(text) > MAX_STEPS:
        st.warning(t("The sequence has {n:,} characters; only the first {limit:,} are used.", n=len(text),
                     limit=MAX_STEPS))
        text = text[:MAX_STEPS]
    return text


@st.cache_resource(max_entries=24, show_spinner=False)
def random_model(config: ModelConfig, init: InitConfig, vocab: Vocab | None, seed: int) -> Model:
    """A seeded, untrained model. Shared by every session: read only."""
    return Model(config, vocab, init, torch.Generator().manual_seed(seed)).eval()


def plotly_chart(where, fig, *, revised: bool = False, **kwargs):
    """``where.plotly_chart(fig, **kwargs)`` (``where``: ``st`` or a container) with the figure's datarevision set,
    so the browser does not draw it again when Streamlit re-sends it after mounting (rnnviz.figures.with_revision
    says why). Every page's charts go here. ``revised``: the caller set it already, on a figure it draws again
    unchanged (the digest is a JSON dump of the whole figure)."""
    return where.plotly_chart(fig if revised else with_revision(fig), **kwargs)


@st.cache_data(max_entries=48, show_spinner=False)
def cached_trace(_model: Model, model_key: str, x) -> Trace:
    """trace(_model, x); ``model_key`` (Model.fingerprint()) stands for the unhashed model."""
    return trace(_model, x)


class RunTraces:
    """Traces made during one script run, for the cached functions that both need one: a page makes one of these
    per run and passes it as their unhashed ``_traces`` argument, so that on a cache miss the flow and the step
    norms of a model share one forward pass, and on a hit nothing is traced. It dies with the run (full traces
    are a few MB each: the caches keep only compact results).

    It also starts the step norms early: a flow that misses its cache asks for its model's norms (:meth:`prefetch`)
    as soon as the trace exists, so ``NORM_WORKERS`` solve them while this thread runs the backward passes and sends
    the first charts; :func:`cached_step_norms` then takes those results (:meth:`norms`). A flow that misses while
    its norms are cached (only the objective changed) costs one model's norms for nothing."""

    def __init__(self) -> None:
        self._made: dict = {}
        self._norms: dict = {}

    @staticmethod
    def _key(model_key: str, x) -> tuple:
        return model_key, x if isinstance(x, str) else id(x)

    def get(self, model: Model, model_key: str, x) -> Trace:
        key = self._key(model_key, x)
        if key not in self._made or self._made[key][0] is not x:  # the input is kept, so its id is not reused
            self._made[key] = (x, trace(model, x))
        return self._made[key][1]

    def prefetch(self, model: Model, model_key: str, x, layer: int | None) -> None:
        """Start ``step_norms(model, x, layer)`` on ``NORM_WORKERS`` with this run's trace."""
        key = (*self._key(model_key, x), layer)
        if key not in self._norms:
            self._norms[key] = (x, NORM_WORKERS.submit(step_norms, model, x, layer, tr=self.get(model, model_key, x)))

    def norms(self, model: Model, model_key: str, x, layer: int | None) -> Future:
        """The norms :meth:`prefetch` started, or a task started now (with this run's trace)."""
        key = (*self._key(model_key, x), layer)
        if key in self._norms and self._norms[key][0] is not x:
            del self._norms[key]
        self.prefetch(model, model_key, x, layer)
        return self._norms[key][1]


@st.cache_data(max_entries=48, show_spinner=False)  # compact: ~1.5 MB at T=1000, H=128; 6 MB at T=2000, H=256
def cached_gradient_flow(_model: Model, model_key: str, x, objective: str = "sum",
                         _traces: RunTraces | None = None, _prefetch: bool = False,
                         _layer: int | None = None) -> GradFlow:
    """gradient_flow(_model, x), compacted: the gates dropped, and without the per-step Jacobian norms.

    Those are the costly part (batched Lanczos, ~0.03-0.15 s per 128-unit model at T=1000 on one core) and depend on
    the input only: :func:`cached_step_norms` computes them. With ``_prefetch`` and ``_traces``, a miss here starts
    them at once for ``_layer``, the layer the page will ask them for (RunTraces.prefetch).
    One view of /gradients holds up to five models (times the seeds), so the cache keeps a few views for a few users;
    with too few entries a user's own earlier views were evicted and recomputed (2-3 s at T=1000)."""
    tr = None
    if _traces is not None:
        tr = _traces.get(_model, model_key, x)
        if _prefetch:
            _traces.prefetch(_model, model_key, x, _layer)
    return gradient_flow(_model, x, objective=objective, tr=tr).compact(step_norms=False)  # /cell caches its own


NORM_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rnnviz-norms")
# Every session's per-step Jacobian norms run here, one model per task: a page's models on both cores of this
# machine at once (their products release the GIL), and never more than two such threads in the whole server
# however many sessions ask, first come first served. Each task is one torch thread, as app.py sets.


@st.cache_data(max_entries=48, show_spinner=False)  # per model [layer, direction, time] float64: 8 kB at T=1000
def cached_step_norms(_models: list[Model], model_keys: tuple[str, ...], x, layers: tuple[int, ...],
                      _traces: RunTraces | None = None) -> list:
    """rnnviz.step_norms(model, x, layer) for each model and the layer it shows: ‖dh_t/dh_{t−1}‖₂ at every step,
    for GradFlow.with_step_norms.

    All the models of a view in one call, one task each on ``NORM_WORKERS``, taken from ``_traces`` where
    cached_gradient_flow already started them."""
    runs = RunTraces() if _traces is None else _traces
    tasks = [runs.norms(m, key, x, layer) for m, key, layer in zip(_models, model_keys, layers, strict=True)]
    return [task.result() for task in tasks]


def random_model_ui(key: str, cells=("rnn", "lstm", "gru"), hidden: int = 32, max_hidden: int = 256,
                    show_layers: bool = True) -> tuple[str, ModelConfig, InitConfig, int]:
    """Controls for a random model: (cell, config without encoder fields, init, seed)."""
    c1, c2, c3, c4 = st.columns(4)
    cell = c1.selectbox(t("Cell"), cells, index=cells.index("lstm") if "lstm" in cells else 0, key=f"{key}_cell",
                        bind=LINK)
    size = c2.number_input(t("Hidden units"), 1, max_hidden, hidden, key=f"{key}_hidden", bind=LINK)
    layers = c3.number_input(t("Layers"), 1, 4, 1, key=f"{key}_layers", bind=LINK) if show_layers else 1
    seed = int(c4.number_input(t("Seed"), 0, 2**31 - 1, 0, key=f"{key}_seed", bind=LINK))
    bidirectional = st.checkbox(t("Bidirectional"), key=f"{key}_bi", bind=LINK) if show_layers else False
    with st.expander(t("Initialization")):
        scheme = st.selectbox(t("Recurrent weights W_hh"), SCHEMES, key=f"{key}_scheme", bind=LINK,
                              format_func=scheme_label,
                              help=t("default: PyTorch's uniform ±1/√H; orthogonal: every singular value equals the "
                                     "gain; identity: W_hh = gain·I (IRNN)."))
        gain = st.slider(t("Gain"), 0.1, 3.0, 1.0, 0.05, key=f"{key}_gain", disabled=scheme == "default", bind=LINK)
        forget = st.slider(t("Forget-gate bias (GRU: update gate)"), -2.0, 6.0, 0.0, 0.5, key=f"{key}_forget",
                           disabled=cell == "rnn", bind=LINK,
                           help=t("Large values start the gate near 1, so memory is kept. Set once, not doubled."))
        chrono = st.number_input(t("Chrono init T_max (0 = off)"), 0, 10_000, 0, key=f"{key}_chrono",
                                 disabled=cell == "rnn", bind=LINK, help="b_f ~ log U(1, T_max − 1), b_i = −b_f.")
    nonlin = "tanh"
    if cell == "rnn":
        nonlin = st.radio(t("Nonlinearity"), NONLINEARITIES, horizontal=True, key=f"{key}_nonlin", bind=LINK)
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
            f"{key}_bi": flag(), f"{key}_scheme": one_of(SCHEMES, scheme_label), f"{key}_gain": number(0.1, 3.0),
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
        st.error(markdown_literal(err.text(lang())), icon=":material/error:")
    else:
        raise err


def pretrained(name: str) -> tuple[Model, dict]:
    """A bundled model and its card. Shared by every session: read only."""
    with st.spinner(t("Loading the pretrained model…")):  # shown only when loading takes a moment
        return _pretrained(name)


@st.cache_resource(max_entries=12, show_spinner=False)  # a cached spinner's words would be in one language
def _pretrained(name: str) -> tuple[Model, dict]:
    return load_pretrained(name)


# The words of a model card (rnnviz.checkpoint), shown in the reader's language; values stay as they are.
CARD_WORDS = {"recall": N_("recall"), "letters": N_("letters"), "text": N_("text"), "adding": N_("adding"),
              "temporal_order": N_("temporal order"), "stocks": N_("stocks"), "sine": N_("sine"),
              "sentiment": N_("sentiment"), "lag": N_("lag"), "mode": N_("mode"), "filler": N_("filler"),
              "source": N_("source"), "length": N_("length"), "accuracy": N_("accuracy"),
              "bpc": N_("bpc"), "loss": N_("loss")}


def card_caption(card: dict) -> str:
    """One line about a model card: cell, size, task and its validation metrics."""
    card = card if isinstance(card, dict) else {}
    task = card.get("task") or {}
    word = named(CARD_WORDS)
    if isinstance(task, dict):
        params = ", ".join(f"{word(k)} {v}" for k, v in task.items()
                           if k in ("lag", "mode", "filler", "source", "length"))
        task = f"{word(task.get('name', '?'))}" + (f" ({params})" if params else "")
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    shown = [f"{word(k)} {metrics[k]:.3g}" for k in ("accuracy", "bpc", "loss")
             if isinstance(metrics.get(k), int | float)]
    layers = card.get("num_layers", 1)
    task = str(task)[:80]
    parts = [str(card.get("cell", "?")).upper(), t("{n} units", n=card.get("hidden_size", "?")),
             t("{n} layers", n=layers) if layers != 1 else "", t("bidirectional") if card.get("bidirectional") else "",
             t("task {task}", task=task), t("step {n}", n=metrics["step"]) if "step" in metrics else "",
             ", ".join(shown)]
    return " · ".join(p for p in parts if p)


Groups = str | tuple[str, ...]  # a card group ("char", "recall", "sentiment"), or several in the order listed


def pretrained_cards(group: Groups) -> list[dict]:
    """The bundled models' cards of one group, or of several (in the order given), each sorted by name."""
    return [c for g in ((group,) if isinstance(group, str) else group) for c in list_pretrained(g)]


def auto_pretrained(cards: list[dict], text: str | None) -> tuple[str, str]:
    """(name, why) of the bundled model that should read ``text``: a Chinese character model (card group "char",
    "language" "zh") when the text is mostly Chinese ("zh"), else FIRST_PRETRAINED or the first ("default")."""
    names = [c["name"] for c in cards]
    if text and mostly_chinese(text):
        chinese = [c["name"] for c in cards if c.get("language") == "zh" and c.get("group") == "char"]
        if chinese:
            return chinese[0], "zh"
    return (FIRST_PRETRAINED if FIRST_PRETRAINED in names else names[0]), "default"


def choose_pretrained(key: str, name: str, by: str = "preset") -> None:
    """Select the bundled model ``name`` in model_source_ui(key, …), as chosen ``by`` "preset" (the next preset
    without a model gives the choice back to the automatic one) or "user" (kept until the user changes it)."""
    st.session_state[f"{key}_source"] = "Pretrained"
    st.session_state[f"{key}_pretrained"] = name
    st.session_state[f"{key}_pretrained_by"] = by


def release_pretrained(key: str) -> None:
    """Give the choice of model back to the automatic one, unless the user made it."""
    if st.session_state.get(f"{key}_pretrained_by") == "preset":
        st.session_state[f"{key}_pretrained_by"] = "auto"


def pretrained_ui(key: str, group: Groups, text: str | None = None) -> tuple[Model, str] | None:
    """The bundled model of ``group``. Until someone chooses one (the user, a preset, or the link the page was
    opened with), the page picks it for ``text`` (auto_pretrained): the Chinese model for Chinese text. The
    automatic pick is also the widget's default, so a link leaves it out and reproduces it from the text."""
    cards = pretrained_cards(group)
    if not cards:
        st.info(t("No pretrained models of this kind are bundled yet: run `python -m rnnviz.pretrain`, "
                  "or choose another source."), icon=":material/info:")
        return None
    names = [c["name"] for c in cards]
    widget, by_key = f"{key}_pretrained", f"{key}_pretrained_by"
    if by_key not in st.session_state:  # the session's first run: a link's choice is the sender's
        st.session_state[by_key] = "link" if widget in st.query_params else "auto"
    auto, why = auto_pretrained(cards, text)
    by = st.session_state[by_key]
    if by == "auto" and st.session_state.get(widget, auto) != auto:
        st.session_state[widget] = auto
    title = _titles(cards)
    name = st.selectbox(t("Pretrained model"), names, index=names.index(auto), key=widget, bind=LINK,
                        format_func=title, on_change=lambda: st.session_state.update({by_key: "user"}))
    model, card = pretrained(name)
    st.caption(card_caption(card))
    reads_chinese = card.get("language") == "zh"
    if by == "auto" and why == "zh" and name == auto:
        st.caption(":material/translate: " + t("The text is mostly Chinese, so the Chinese character model reads "
                                               "it. Pick another model above to override."))
    elif text and mostly_chinese(text) and not reads_chinese:
        st.caption(":material/translate: " + t("The text is mostly Chinese, but the model you chose was trained on "
                                               "Python source: it reads most Chinese characters as unknown."))
    return model, title(name)


def _titles(cards: list[dict]) -> Callable[[str], str]:
    """format_func of a bundled model's name: its card's title (rnnviz.assets.TITLES), translated."""
    titles = {c["name"]: c.get("title", c["name"]) for c in cards}
    return lambda name: t(titles.get(name, name))


def trained_ui(key: str) -> tuple[Model, str] | None:
    models = trained_models()
    if not models:
        st.info(t("No model has been trained in this session yet: train one on the Train live page."),
                icon=":material/info:")
        return None
    name = st.selectbox(t("Model trained in this session"), list(models), key=f"{key}_trained")
    st.caption(card_caption(models[name].get("card", {})))
    return models[name]["model"], name


VOCAB_FORMS = ("ids", "chars", "lines", "json")  # how an imported model's token ids are named


def _vocab_form_label(form: str) -> str:
    return {"ids": t("Name tokens by their ids"), "chars": t("The characters of a text, in first-seen order"),
            "lines": t("One token per line"), "json": t("A JSON list of tokens")}[form]


def vocab_ui(key: str) -> list[str] | None:
    """The vocabulary of a Keras or PyTorch file, whose weights do not name their token ids: None (ids are named by
    their numbers) or the tokens for ids 0, 1, …, typed or read from a text file. Raises InputError for bad JSON."""
    with st.expander(t("Vocabulary: what the model's token ids mean"), expanded=True):
        form = st.radio(t("Vocabulary"), VOCAB_FORMS, format_func=_vocab_form_label, horizontal=True,
                        key=f"{key}_vocab_form",
                        help=t("A Keras or PyTorch model sees integer ids. Name them here, in id order (id 0 first), "
                               "so that you can type text; without names, type the ids themselves, such as 3 1 4. "
                               "A model that reads numbers needs none."))
        if form == "ids":
            return None
        file = st.file_uploader(t("Vocabulary file (.txt or .json)"), type=["txt", "json"], key=f"{key}_vocab_file")
        text = st.text_area(t("Vocabulary text"), key=f"{key}_vocab_text", height=80,
                            disabled=file is not None,
                            placeholder={"chars": "abcde", "lines": "the\ncat\nsat", "json": '["the", "cat"]'}[form])
        if file is not None:
            text = file.getvalue().decode("utf-8", "replace")
        return read_tokens(text, form) if text else None


def layers_table(card: dict) -> None:
    """What was read from an imported file, one row per layer, before the model is used."""
    rows = card.get("layers") if isinstance(card, dict) else None
    if not rows:
        return
    st.dataframe([{t("Layer"): r["layer"], t("Type"): r["type"], t("Output"): r["output"], t("Weights"): r["weights"]}
                  for r in rows], hide_index=True)
    widths = card.get("units") or []
    if len(set(widths)) > 1:
        st.caption(t("The recurrent layers differ in width, so the narrower ones are shown padded to {width} units: "
                     "the units past a layer's own width have zero weights and stay at 0.", width=max(widths)))


def _read_upload(store: dict, file, tokens: list[str] | None) -> tuple[Model, dict]:
    """read_model on the uploaded ``file`` with ``tokens``, kept in ``store`` for this file (one entry per
    vocabulary, so switching back and forth does not read the file again)."""
    ident = (file.name, file.size, getattr(file, "file_id", None))
    if store.get("ident") != ident:
        store.clear()
        store.update(ident=ident, reads={})
    reads, vocab_key = store["reads"], None if tokens is None else tuple(tokens)
    if vocab_key not in reads:
        model, card = read_model(file.getvalue(), file.name, tokens)
        if len(reads) >= 4:  # a few vocabularies tried on one file
            reads.clear()
        reads[vocab_key] = (model.eval(), card)
    return reads[vocab_key]


def upload_ui(key: str) -> tuple[Model, str] | None:
    """An uploaded model file: an rnnviz checkpoint, a Keras model or a PyTorch state dict, read as data and checked
    (rnnviz.uploads); kept in this session only. An imported model's layers and shapes are shown before use, and a
    model that reads token ids (or one-hot vectors) gets a vocabulary section to name them."""
    file = st.file_uploader(t("Model file: an rnnviz checkpoint (.safetensors), Keras (.keras, .h5) or a PyTorch "
                              "state dict (.pt, .pth)"), type=list(UPLOAD_TYPES), key=f"{key}_upload")
    if file is None:
        st.info(t("Upload a checkpoint saved from the Train live page, a Keras model or a PyTorch state dict."),
                icon=":material/upload:")
        return None
    store = st.session_state.setdefault(f"{key}_uploaded", {})
    try:
        model, card = _read_upload(store, file, None)
        st.caption(markdown_literal(card_caption(card)))
        layers_table(card)
        if kind_of(file.name) != "rnnviz" and (model.config.encoder != "float" or model.input_size > 1):
            tokens = vocab_ui(key)
            if tokens is not None:
                model, card = _read_upload(store, file, tokens)
    except RnnvizError as err:
        st.error(markdown_literal(f"{file.name}: {err.text(lang())}"), icon=":material/error:")
        return None
    return model, file.name


def model_source_checks(key: str, group: Groups, sources=SOURCES) -> dict[str, Check]:
    """url_notice's checks for model_source_ui(key, group, …, sources): the source and the pretrained model."""
    cards = pretrained_cards(group)
    return {f"{key}_source": one_of(sources, label),
            f"{key}_pretrained": one_of([c["name"] for c in cards], _titles(cards))}


def model_source_ui(key: str, group: Groups, random_ui, sources=SOURCES, default: str | None = None,
                    text: str | None = None) -> tuple[Model, str] | None:
    """Pick where the model comes from, starting at ``default`` (else the first source). ``random_ui()`` builds the
    "Random" choice (the page knows what input it needs) and returns (Model, name) or None. Returns the chosen
    (model, display name), or None with a message. ``text``: what the model will read, for the automatic choice of
    a bundled model (pretrained_ui). Defaults are the widgets' own (index=), not set through
    st.session_state, because a link leaves out a value equal to the widget's default."""
    source = st.radio(t("Model source"), sources, index=sources.index(default) if default in sources else 0,
                      horizontal=True, key=f"{key}_source", bind=LINK, format_func=label,
                      help=t("Pretrained: bundled with rnnviz. Random: untrained, from the controls below. "
                             "Trained here: from the Train live page in this session. Uploaded: your checkpoint."))
    if source == "Pretrained":
        return pretrained_ui(key, group, text)
    if source == "Trained here":
        return trained_ui(key)
    if source == "Uploaded":
        return upload_ui(key)
    return random_ui()
