"""UI sections and caches shared by the pages. Each section is a function that returns what it collected.

Model sources, in the words the pages use:
- "Pretrained": bundled checkpoints in assets/ (read-only, cached for everyone).
- "Random": built from size and init controls, seeded (read-only, cached for everyone).
- "Trained here": models trained on /train in this session, kept in ``st.session_state[TRAINED_KEY]``.
- "Uploaded": a safetensors checkpoint, validated by rnnviz.checkpoint.
A cached model is never trained or mutated; /train trains its own copies.
"""

from __future__ import annotations

import re

import streamlit as st
import torch

from rnnviz import GradFlow, InitConfig, Model, ModelConfig, RnnvizError, Trace, Vocab, gradient_flow, trace
from rnnviz.assets import list_pretrained, load_pretrained
from rnnviz.checkpoint import load as load_checkpoint


def _leave_legacy_pages_mode() -> None:
    """Send a deep link that reached a fresh server through app.py's navigation.

    A folder named pages/ beside app.py makes a fresh Streamlit server start in its legacy multipage mode,
    where a first request for /gradients runs pages/gradients.py alone (no set_page_config, file names as
    navigation) until app.py has run once. Every page imports this module first, so here the flag is
    cleared and the run restarted; the rerun goes through app.py's st.navigation to the same URL.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_pages_mode()

MAX_STEPS = 2000  # longest sequence a page runs; longer input is cut with a visible message
TRAINED_KEY = "rnnviz_trained"  # session_state: {name: {"model": Model, "card": dict}}, written by /train
SOURCES = ("Pretrained", "Random", "Trained here", "Uploaded")


def sequence_ui(key: str, default: str, presets: dict[str, str] | None = None, height: int = 90,
                help: str | None = None) -> str | None:
    """The "Sequence" box with optional presets; returns the text cut to MAX_STEPS, or None when empty."""
    if presets:
        def apply_preset():
            st.session_state[key] = presets[st.session_state[f"{key}_preset"]]

        st.selectbox("Preset", list(presets), key=f"{key}_preset", on_change=apply_preset, index=None,
                     placeholder="Pick an example sequence…")
    st.session_state.setdefault(key, default)  # the key holds the value, so presets and callbacks may write it
    text = st.text_area("Sequence", key=key, height=height,
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


@st.cache_data(max_entries=48, show_spinner=False)
def cached_trace(_model: Model, model_key: str, x) -> Trace:
    """trace(_model, x); ``model_key`` (Model.fingerprint()) stands for the unhashed model."""
    return trace(_model, x)


@st.cache_data(max_entries=8, show_spinner=False)  # up to ~16 MB each at T=2000, H=256
def cached_gradient_flow(_model: Model, model_key: str, x, objective: str = "sum", jacobian: bool = True) -> GradFlow:
    """gradient_flow(_model, x) with its trace; the per-step Jacobian norms are computed before caching."""
    gf = gradient_flow(_model, x, objective=objective, tr=cached_trace(_model, model_key, x))
    if jacobian:
        gf.jacobian  # noqa: B018 - cached_property: compute once, keep in the cache
    return gf


def random_model_ui(key: str, cells=("rnn", "lstm", "gru"), hidden: int = 32, max_hidden: int = 256,
                    show_layers: bool = True) -> tuple[str, ModelConfig, InitConfig, int]:
    """Controls for a random model: (cell, config without encoder fields, init, seed)."""
    c1, c2, c3, c4 = st.columns(4)
    cell = c1.selectbox("Cell", cells, index=cells.index("lstm") if "lstm" in cells else 0, key=f"{key}_cell")
    size = c2.number_input("Hidden units", 1, max_hidden, hidden, key=f"{key}_hidden")
    layers = c3.number_input("Layers", 1, 4, 1, key=f"{key}_layers") if show_layers else 1
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed"))
    bidirectional = st.checkbox("Bidirectional", key=f"{key}_bi") if show_layers else False
    with st.expander("Initialization"):
        scheme = st.selectbox("Recurrent weights W_hh", ("default", "orthogonal", "identity"), key=f"{key}_scheme",
                              help="default: PyTorch's uniform ±1/√H; orthogonal: every singular value equals the "
                                   "gain; identity: W_hh = gain·I (IRNN).")
        gain = st.slider("Gain", 0.1, 3.0, 1.0, 0.05, key=f"{key}_gain", disabled=scheme == "default")
        forget = st.slider("Forget-gate bias (GRU: update gate)", -2.0, 6.0, 0.0, 0.5, key=f"{key}_forget",
                           disabled=cell == "rnn",
                           help="Large values start the gate near 1, so memory is kept. Set once, not doubled.")
        chrono = st.number_input("Chrono init T_max (0 = off)", 0, 10_000, 0, key=f"{key}_chrono",
                                 disabled=cell == "rnn", help="b_f ~ log U(1, T_max − 1), b_i = −b_f.")
    nonlin = "tanh"
    if cell == "rnn":
        nonlin = st.radio("Nonlinearity", ("tanh", "relu"), horizontal=True, key=f"{key}_nonlin")
    config = ModelConfig(cell=cell, hidden_size=int(size), num_layers=int(layers), bidirectional=bidirectional,
                         nonlinearity=nonlin)
    init = InitConfig(scheme, gain=float(gain) if scheme != "default" else 1.0,
                      forget_bias=float(forget) if forget else None,
                      chrono_tmax=float(chrono) if chrono >= 3 else None)
    return cell, config, init, seed


def trained_models() -> dict[str, dict]:
    """Models trained on /train in this session: {name: {"model": Model, "card": dict}}."""
    return st.session_state.get(TRAINED_KEY, {})


def markdown_literal(text: str) -> str:
    """User text made safe inside st.markdown / st.error: every markdown, HTML and LaTeX character escaped."""
    return re.sub(r"([\\`*_{}\[\]#<>|~$&])", r"\\\1", text)  # escaped [ ] also defuse links and images


def show_error(err: Exception) -> None:
    """A user-caused error as one sentence on the page; anything else is a bug and is re-raised."""
    if isinstance(err, RnnvizError):
        st.error(str(err), icon=":material/error:")
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
    name = st.selectbox("Pretrained model", names, key=f"{key}_pretrained",
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
            st.error(f"{markdown_literal(file.name)}: {err}", icon=":material/error:")
            return None
        store.update(ident=ident, model=model.eval(), card=card)
    st.caption(card_caption(store["card"]))
    return store["model"], file.name


def model_source_ui(key: str, group: str, random_ui, sources=SOURCES) -> tuple[Model, str] | None:
    """Pick where the model comes from. ``random_ui()`` builds the "Random" choice (the page knows what input it
    needs) and returns (Model, name) or None. Returns the chosen (model, display name), or None with a message."""
    source = st.radio("Model source", sources, horizontal=True, key=f"{key}_source",
                      help="Pretrained: bundled with rnnviz. Random: untrained, from the controls below. "
                           "Trained here: from the Train live page in this session. Uploaded: your checkpoint.")
    if source == "Pretrained":
        return pretrained_ui(key, group)
    if source == "Trained here":
        return trained_ui(key)
    if source == "Uploaded":
        return upload_ui(key)
    return random_ui()
