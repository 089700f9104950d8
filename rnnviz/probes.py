"""Probes: features of a text that a person can name, and how well each unit of a trace follows them.

Features are per character ``[time, feature]`` (NaN where a feature is unavailable, e.g. a line Python's tokenizer
could not read). For Python source they come from the standard ``tokenize`` module; the rest work on any text:

=============  =====================================================================================
code           value at step t, after reading character t
=============  =====================================================================================
string         1 inside a string literal (quotes included), else 0                          (tokenize)
comment        1 inside a comment (from # to the end of the line)                           (tokenize)
docstring      1 inside a string that is a statement of its own (module, class, def docs)  (tokenize)
brackets       bracket depth: ( [ { open minus close, counted by tokenize (not in strings)  (tokenize)
indent         indentation level of the statement the line belongs to (INDENT tokens)      (tokenize)
keyword        1 on the first character of a keyword (def, for, return, ...)                (tokenize)
column         characters before this one in its line
line_left      characters after this one before the line break
word_pos       position in a word: 1 on its first letter, 2 on the next, ..., 0 outside words
space          1 on a space or tab
digit          1 on a digit
upper          1 on an upper-case letter
cjk            1 on a CJK letter (Han, kana, hangul; not CJK punctuation)
punct          1 on a punctuation mark (Unicode category P)
since_punct    characters since the last punctuation mark (the position in a clause)
quoted         1 inside 《》, “”, 「」 or 『』 (marks included)
sentence_pos   characters since the last 。！？!? (the position in a sentence)
=============  =====================================================================================

The last three are measured only on text that holds CJK characters: on code they would count characters.

``probe(trace, text)`` correlates every unit's h_t and c_t (every layer and direction) with every feature:
Pearson r over the steps where the feature is available. A constant unit or feature has r = 0, never NaN. A unit
tracks a feature when |r| ≥ 0.3 and above chance: the best |r| any unit reaches with the feature slid along the text.
"""

from __future__ import annotations

import keyword
import tokenize
import unicodedata
from dataclasses import dataclass

import numpy as np

from .i18n import N_, tr
from .trace import Trace
from .vocab import is_cjk

FEATURES = {  # code → English name (through tr() when shown)
    "string": N_("inside a string"),
    "comment": N_("inside a comment"),
    "docstring": N_("inside a docstring"),
    "brackets": N_("bracket depth"),
    "indent": N_("indentation"),
    "keyword": N_("start of a keyword"),
    "column": N_("column in the line"),
    "line_left": N_("characters left in the line"),
    "word_pos": N_("position in the word"),
    "space": N_("a space"),
    "digit": N_("a digit"),
    "upper": N_("upper case"),
    "cjk": N_("a CJK character"),
    "punct": N_("punctuation"),
    "since_punct": N_("characters since punctuation"),
    "quoted": N_("inside 《》 or quotation marks"),
    "sentence_pos": N_("position in the sentence"),
}
PYTHON = ("string", "comment", "docstring", "brackets", "indent", "keyword")  # from tokenize
CHINESE = ("since_punct", "quoted", "sentence_pos")  # measured only on text with CJK characters
QUANTITIES = ("h", "c")  # the unit's outputs a probe reads (c for an LSTM only)
TRACKS = 0.3  # best |r| below this: "nothing tracks" the feature
SHIFTS = 7  # chance level: the feature slid along the text by 1/8, 2/8, ... 7/8 of its length (circularly)
_OPEN, _CLOSE = "([{", ")]}"
_QUOTES = {"《": "》", "“": "”", "「": "」", "『": "』"}
_SENTENCE_END = set("。！？!?")


def feature_name(code: str, lang: str = "en") -> str:
    """The feature's name for people, e.g. "bracket depth"."""
    return tr(lang, FEATURES[code])


# Features of any text --------------------------------------------------------------------------------------------


def _line_features(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(column, characters left in the line), each ``[time]``; a line break sits at the end of its line."""
    T = len(text)
    column, left = np.zeros(T), np.zeros(T)
    start = 0
    for line in text.splitlines(keepends=True):
        body = len(line.rstrip("\r\n"))
        n = len(line)
        column[start:start + n] = np.arange(n)
        left[start:start + n] = np.maximum(body - 1 - np.arange(n), 0)
        start += n
    return column, left


def text_features(text: str) -> dict[str, np.ndarray]:
    """The features that need no tokenizer, each ``[time]`` float64 (see the module's table)."""
    T = len(text)
    out = {k: np.zeros(T) for k in ("word_pos", "space", "digit", "upper", "cjk", "punct", "since_punct", "quoted",
                                    "sentence_pos")}
    out["column"], out["line_left"] = _line_features(text)
    word = since = sentence = 0
    closing: list[str] = []  # the closing marks of the quotes we are inside
    for t, ch in enumerate(text):
        cat = unicodedata.category(ch)
        is_punct = cat[0] == "P"
        cjk = is_cjk(ch)
        word = word + 1 if (ch.isalnum() or ch == "_") and not cjk else 0
        since = 0 if is_punct else since + 1
        sentence = 0 if ch in _SENTENCE_END else sentence + 1
        if ch in _QUOTES:
            closing.append(_QUOTES[ch])
        quoted = bool(closing)
        if closing and ch == closing[-1]:
            closing.pop()
        out["word_pos"][t] = word
        out["space"][t] = ch in " \t"
        out["digit"][t] = cat == "Nd"
        out["upper"][t] = cat == "Lu"
        out["cjk"][t] = cjk
        out["punct"][t] = is_punct
        out["since_punct"][t] = since
        out["quoted"][t] = quoted
        out["sentence_pos"][t] = sentence
    if not out["cjk"].any():  # sentences and quotes of Chinese text: on code they would only count characters
        for k in CHINESE:
            out[k][:] = np.nan
    return out


# Python features from tokenize -----------------------------------------------------------------------------------


def _tokens(lines: list[str]) -> tuple[list[tokenize.TokenInfo], int]:
    """Tokens of ``lines`` up to the first error, and the number of lines read without error (all, on success)."""
    tokens = []
    try:
        for tok in tokenize.generate_tokens(iter(lines).__next__):
            if tok.type == tokenize.ERRORTOKEN and not tok.string.isspace():
                return tokens, tok.start[0] - 1
            tokens.append(tok)
    except (tokenize.TokenError, SyntaxError) as err:  # IndentationError is a SyntaxError
        line = err.args[1][0] if isinstance(err, tokenize.TokenError) else (err.lineno or 1)
        first_open = min((t.start[0] for t in tokens if t.type == tokenize.STRING and t.end[0] > line), default=line)
        good = min(line, first_open) - 1
        return [t for t in tokens if t.end[0] <= good], good
    return tokens, len(lines)


def _is_docstring(tokens: list[tokenize.TokenInfo], k: int) -> bool:
    """A STRING that is a statement of its own: after a line start (NEWLINE, INDENT, DEDENT or nothing) and
    followed by the end of the line."""
    skip = (tokenize.NL, tokenize.COMMENT)
    before = next((t for t in reversed(tokens[:k]) if t.type not in skip), None)
    after = next((t for t in tokens[k + 1:] if t.type not in skip), None)
    starts = before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
    return starts and (after is None or after.type in (tokenize.NEWLINE, tokenize.ENDMARKER))


def _paint(lines_at: np.ndarray, tokens, features: dict, lines: list[str]) -> None:
    """Write the tokenize features of ``tokens`` (positions are (row from 1, column)) into ``features``."""
    def index(row: int, col: int) -> int:
        return int(lines_at[row - 1]) + col

    depth = level = 0
    line_level: dict[int, int] = {}
    depth_at = []  # (character index, depth from there on)
    for k, tok in enumerate(tokens):
        if tok.type == tokenize.INDENT:
            level += 1
        elif tok.type == tokenize.DEDENT:
            level -= 1
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.COMMENT):
            for row in range(tok.start[0], tok.end[0] + 1):
                line_level.setdefault(row, level)
        a, b = index(*tok.start), index(*tok.end)
        if tok.type == tokenize.STRING:
            features["string"][a:b] = 1
            if _is_docstring(tokens, k):
                features["docstring"][a:b] = 1
        elif tok.type == tokenize.COMMENT:
            features["comment"][a:b] = 1
        elif tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
            features["keyword"][a] = 1
        elif tok.type == tokenize.OP and tok.string in _OPEN + _CLOSE:
            depth += 1 if tok.string in _OPEN else -1
            depth_at.append((a, max(depth, 0)))
    brackets = features["brackets"]
    brackets[:] = 0
    for (a, d), (b, _) in zip(depth_at, [*depth_at[1:], (len(brackets), 0)][:len(depth_at)], strict=True):
        brackets[a:b] = d
    level = 0
    for row in range(1, len(lines) + 1):  # blank and comment lines keep the level of the statement before them
        level = line_level.get(row, level)
        features["indent"][index(row, 0):index(row, 0) + len(lines[row - 1])] = level


def python_features(text: str) -> dict[str, np.ndarray]:
    """The tokenize features (``PYTHON``), each ``[time]`` float64, NaN on lines the tokenizer could not read.

    Broken code does not stop it: at an error the lines read so far keep their features, the line where it failed
    (and an unfinished string) become NaN, and tokenizing starts again on the next line with fresh state.
    """
    lines = text.splitlines(keepends=True)
    T = len(text)
    out = {k: np.full(T, np.nan) for k in PYTHON}
    starts = np.concatenate([[0], np.cumsum([len(s) for s in lines])]).astype(int)
    row = 0
    while row < len(lines):
        chunk = lines[row:]
        tokens, good = _tokens(chunk)
        if good:
            part = {k: np.zeros(starts[row + good] - starts[row]) for k in PYTHON}
            _paint(starts[row:row + good + 1] - starts[row], [t for t in tokens if t.start[0] <= good], part,
                   chunk[:good])
            for k in PYTHON:
                out[k][starts[row]:starts[row + good]] = part[k]
        row += max(good, 0) + (good < len(chunk))  # skip the line that failed
    return out


def features(text: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(codes, values ``[time, feature]``) for every feature of ``FEATURES``; NaN where unavailable."""
    every = {**python_features(text), **text_features(text)}
    codes = tuple(FEATURES)
    return codes, np.stack([every[k] for k in codes], axis=1) if text else np.zeros((0, len(codes)))


def token_features(tokens: list[str], text: str | None = None) -> tuple[tuple[str, ...], np.ndarray]:
    """Features at each token of a trace, ``[time, feature]``: for character tokens the character's own; for longer
    tokens (words) the features at their last character. ``text`` defaults to the tokens joined."""
    text = "".join(tokens) if text is None else text
    codes, values = features(text)
    if all(len(s) == 1 for s in tokens) and len(tokens) == len(text):
        return codes, values
    ends, at = [], 0
    for s in tokens:
        found = text.find(s, at)
        if found < 0 or not s:
            ends.append(-1)
            continue
        at = found + len(s)
        ends.append(at - 1)
    ends = np.asarray(ends, dtype=int)
    out = np.where((ends >= 0)[:, None], values[np.maximum(ends, 0)], np.nan)
    return codes, out


# Correlations ----------------------------------------------------------------------------------------------------


def _centred(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a − mean, ‖a − mean‖ per column, whether the column is constant up to rounding) for ``a`` ``[time, column]``."""
    mean = a.mean(0)
    a = a - mean
    norm = np.sqrt((a * a).sum(0))
    size = np.sqrt(len(a)) * (np.abs(mean) + np.abs(a).max(0))
    return a, norm, norm <= 1e-9 * size


def correlate(units: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Pearson r of every unit with every feature: ``units`` ``[time, unit]``, ``feats`` ``[time, feature]`` (NaN =
    unavailable) → ``[unit, feature]``. Each feature uses the steps where it is available; a constant unit or
    feature gives 0.

    r = Σ (x − x̄)(y − ȳ) / √(Σ (x − x̄)² Σ (y − ȳ)²), one matrix product per set of available steps.
    """
    x = np.asarray(units, dtype=np.float64)
    y = np.asarray(feats, dtype=np.float64)
    r = np.zeros((x.shape[1], y.shape[1]))
    available = np.isfinite(y)
    groups: dict[bytes, list[int]] = {}  # features that share their available steps share one product
    for f in range(y.shape[1]):
        groups.setdefault(available[:, f].tobytes(), []).append(f)
    for cols in groups.values():
        mask = available[:, cols[0]]
        if mask.sum() < 3:
            continue
        xs, x_norm, x_flat = _centred(x if mask.all() else x[mask])
        ys, y_norm, y_flat = _centred(y[mask][:, cols])
        ok = ~x_flat[:, None] & ~y_flat[None, :]
        scale = np.where(ok, np.outer(x_norm, y_norm), 1.0)
        r[:, cols] = np.where(ok, (xs.T @ ys) / scale, 0.0)  # [unit, feature]
    return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class Best:
    """One unit's fit to a feature: quantity ("h" or "c"), layer, direction, unit and Pearson r."""

    quantity: str
    layer: int
    direction: int
    unit: int
    r: float


@dataclass(frozen=True)
class Probes:
    """Every unit against every feature for one trace.

    ``r`` is ``[quantity, layer, direction, unit, feature]`` for ``quantities`` ("h", and "c" for an LSTM);
    ``values`` the features ``[time, feature]``; ``varies`` ``[feature]`` is False for a feature that is constant
    (or unavailable) on this text, which no unit can track. ``chance`` ``[feature]`` is the best |r| any unit
    reaches with the feature slid along the text (a circular shift keeps its runs and the units' slow drifts but
    breaks the alignment): on a short text, or with many units, that is what correlation alone gives, so a feature
    counts as tracked only above it (and above ``threshold``).
    """

    codes: tuple[str, ...]
    quantities: tuple[str, ...]
    r: np.ndarray
    values: np.ndarray
    varies: np.ndarray
    chance: np.ndarray

    def _level(self, threshold: float) -> np.ndarray:
        """The |r| a unit must reach to track each feature ``[feature]``; infinite for a feature that is constant."""
        return np.where(self.varies, np.maximum(threshold, self.chance), np.inf)

    def best(self, code: str, k: int = 1) -> list[Best]:
        """The ``k`` units whose h or c follows ``code`` best (largest |r|), each unit once, best first."""
        f = self.codes.index(code)
        r = self.r[..., f]  # [quantity, layer, direction, unit]
        strongest = np.abs(r).argmax(axis=0)  # per unit: h or c
        per_unit = np.take_along_axis(r, strongest[None], axis=0)[0]  # [layer, direction, unit]
        flat = np.argsort(-np.abs(per_unit), axis=None, kind="stable")[:k]
        out = []
        for i in flat:
            layer, d, u = np.unravel_index(i, per_unit.shape)
            out.append(Best(self.quantities[strongest[layer, d, u]], int(layer), int(d), int(u),
                            float(per_unit[layer, d, u])))
        return out

    def tracked(self, code: str, threshold: float = TRACKS) -> bool:
        """Whether some unit follows ``code`` with |r| ≥ ``threshold`` and above chance."""
        return abs(self.best(code)[0].r) >= self._level(threshold)[self.codes.index(code)]

    def unit_best(self, layer: int, direction: int, threshold: float = TRACKS) -> tuple[np.ndarray, np.ndarray]:
        """(feature index, r) per unit of one layer and direction ``[unit]``: the feature it follows best over h and
        c among those it tracks (|r| at or above the threshold and chance); r = 0 where it tracks none."""
        r = self.r[:, layer, direction]  # [quantity, unit, feature]
        r = np.where(np.abs(r) >= self._level(threshold)[None, None], r, 0.0)
        strength = np.abs(r).max(axis=0)  # [unit, feature]
        feature = strength.argmax(axis=1)
        units = np.arange(r.shape[1])
        q = np.abs(r[:, units, feature]).argmax(axis=0)
        return feature, r[q, units, feature]

    def labels(self, layer: int = 0, direction: int = 0, threshold: float = TRACKS, lang: str = "en") -> list[str]:
        """A short label per unit ("indentation, r = 0.81"), or "" when it tracks no feature (see ``unit_best``)."""
        feature, r = self.unit_best(layer, direction, threshold)
        return [tr(lang, "{feature}, r = {r}", feature=feature_name(self.codes[f], lang), r=f"{v:.2f}")
                if v else "" for f, v in zip(feature, r, strict=True)]

    def unit_order(self, layer: int = 0, direction: int = 0, threshold: float = TRACKS) -> np.ndarray:
        """Units grouped by the feature they track (in ``codes`` order), strongest first in each group; units that
        track nothing come last, in index order."""
        feature, r = self.unit_best(layer, direction, threshold)
        strength = np.abs(r)
        group = np.where(strength > 0, feature, len(self.codes))
        return np.lexsort((-strength, group))

    def summary(self, threshold: float = TRACKS, lang: str = "en") -> list[dict]:
        """One row per feature: its name, the best unit and its r, and a sentence when nothing tracks it."""
        rows = []
        for f, code in enumerate(self.codes):
            best = self.best(code)[0]
            row = dict(code=code, feature=feature_name(code, lang), best=best, tracked=False, note="")
            r = f"{abs(best.r):.2f}"
            if not self.varies[f]:
                row["note"] = tr(lang, "Does not vary in this text.")
            elif abs(best.r) < threshold:
                row["note"] = tr(lang, "Nothing tracks {feature}: the best |r| is {r}.", feature=row["feature"], r=r)
            elif abs(best.r) < self.chance[f]:
                row["note"] = tr(lang, "Nothing tracks {feature} beyond chance: the best |r| is {r}, and {chance} with "
                                 "the feature slid along the text.", feature=row["feature"], r=r,
                                 chance=f"{self.chance[f]:.2f}")
            else:
                row["tracked"] = True
            rows.append(row)
        return rows


def chance_level(units: np.ndarray, values: np.ndarray, shifts: int = SHIFTS) -> np.ndarray:
    """Per feature ``[feature]``, the best |r| of any unit (``units`` ``[time, unit]``) with the feature circularly
    shifted by k·T/(shifts + 1) steps, k = 1..shifts: what a unit reaches by chance on this text. 1 below 8 steps."""
    T, F = values.shape
    if T < 8:
        return np.ones(F)
    slid = np.concatenate([np.roll(values, T * k // (shifts + 1), axis=0) for k in range(1, shifts + 1)], axis=1)
    r = correlate(units, slid)  # [unit, shift·feature]
    return np.abs(r).max(axis=0).reshape(shifts, F).max(axis=0)


def probe(trace: Trace, text: str | None = None) -> Probes:
    """Correlate every unit's h_t (and c_t for an LSTM), every layer and direction, with every feature of the
    trace's text (``text`` defaults to its tokens joined). Arrays: ``[quantity, layer, direction, unit, feature]``."""
    codes, values = token_features(trace.tokens, text)
    quantities = tuple(q for q in QUANTITIES if q in trace.keys())
    L, D, T, H = trace.shape
    stacked = np.stack([trace[q] for q in quantities])  # [quantity, layer, direction, time, unit]
    units = np.moveaxis(stacked, 3, 0).reshape(T, -1)  # [time, quantity·layer·direction·unit]
    r = correlate(units, values).reshape(len(quantities), L, D, H, len(codes))
    available = np.isfinite(values)
    varies = np.array([available[:, f].sum() >= 3 and np.nanstd(values[:, f]) > 0 if available[:, f].any() else False
                       for f in range(len(codes))], dtype=bool)
    return Probes(codes, quantities, r, values, varies, chance_level(units, values))
