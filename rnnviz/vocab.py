"""Vocabularies: characters (any Unicode code point) or words, with an explicit unknown token.

Character level works on code points, so Chinese, emoji, accents and control characters are all tokens.
Index 0 is the unknown token ``UNK``; anything not in the vocabulary encodes to it and is reported. A closed
vocabulary (``unk=False``, e.g. the five letters of the textbook example) has no such slot and refuses strangers.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

import torch

from .errors import InputError, shown

UNK = "<unk>"
MAX_VOCAB = 5000  # keeps one-hot layers and softmax heads small enough to run live
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")  # Han, kana, hangul


def is_cjk(ch: str) -> bool:
    """True for a CJK letter (Han, kana, hangul), not CJK punctuation."""
    return unicodedata.category(ch)[0] == "L" and bool(CJK.match(ch))


def mostly_chinese(text: str) -> bool:
    """True when CJK letters are more than half of the text's letters (a model for Chinese should read it)."""
    letters = [c for c in text if unicodedata.category(c)[0] == "L"]
    return bool(letters) and 2 * sum(map(is_cjk, letters)) > len(letters)


@dataclass(frozen=True)
class Vocab:
    """An ordered token list; ``level`` is "char" or "word". Frozen and hashable, so it can key caches."""

    tokens: tuple[str, ...]
    level: str = "char"
    unk: bool = True  # False: a closed vocabulary without UNK, where an unknown token is an error
    _index: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        tokens = tuple(str(t) for t in self.tokens)
        if self.unk and (not tokens or tokens[0] != UNK):
            tokens = (UNK, *[t for t in tokens if t != UNK])
        if not tokens:
            raise InputError("A vocabulary needs at least one token.")
        if len(set(tokens)) != len(tokens):
            raise InputError("The vocabulary lists a token twice.")
        if len(tokens) > MAX_VOCAB:
            raise InputError("The vocabulary has {n:,} tokens; the limit is {limit:,}.", n=len(tokens), limit=MAX_VOCAB)
        if self.level not in ("char", "word"):
            raise InputError("Unknown vocabulary level {level}: use 'char' or 'word'.", level=shown(self.level))
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_text(cls, text: str, level: str = "char") -> Vocab:
        """Every distinct token of ``text`` in order of first appearance, after ``UNK``."""
        pieces = split(text, level)
        if not pieces:
            raise InputError("The text is empty: type at least one character.")
        return cls(tuple(dict.fromkeys(pieces)), level)

    def split(self, text: str) -> list[str]:
        return split(text, self.level)

    def encode(self, text: str) -> torch.Tensor:
        """Token ids, int64 ``[time]``; unknown tokens become 0 (``UNK``), or an error in a closed vocabulary."""
        pieces = self.split(text)
        if not self.unk:
            strangers = [t for t in dict.fromkeys(pieces) if t not in self._index]
            if strangers:
                raise InputError("{tokens} not in this model's vocabulary: use only {known}.",
                                 tokens=", ".join(map(shown, strangers[:5])), known=" ".join(self.tokens[:40]))
        return torch.tensor([self._index.get(t, 0) for t in pieces], dtype=torch.long)

    def decode(self, ids) -> str:
        sep = "" if self.level == "char" else " "
        return sep.join(self.tokens[int(i)] for i in ids)

    def unknown(self, text: str) -> list[bool]:
        """True where a token of ``text`` is not in the vocabulary."""
        return [t not in self._index for t in self.split(text)]

    def index(self, token: str) -> int:
        if token not in self._index and not self.unk:
            raise InputError("{token} is not in this model's vocabulary.", token=shown(token))
        return self._index.get(token, 0)


CharVocab = Vocab  # the default level is "char"; Vocab.from_text(text, "word") for words


def split(text: str, level: str = "char") -> list[str]:
    if not isinstance(text, str):
        raise InputError("The sequence must be text.")
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text)
    raise InputError("Unknown vocabulary level {level}: use 'char' or 'word'.", level=shown(level))


_NAMES = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍", "\u200d": "ZWJ", "\ufe0f": "VS16", "\x00": "NUL"}


def token_label(token: str) -> str:
    """A visible label for a token on a chart axis: spaces, newlines, controls and marks get names."""
    if token in _NAMES:
        return _NAMES[token]
    if len(token) == 1:
        cat = unicodedata.category(token)
        if cat[0] in "CZ":
            return f"U+{ord(token):04X}"
        if cat[0] == "M":
            return "◌" + token  # a combining mark shown on a dotted circle
    return token


TOKEN_FORMS = ("lines", "json", "chars")  # read_tokens: one token per line, a JSON list, a text's characters


def read_tokens(text: str, form: str) -> list[str]:
    """The tokens of a vocabulary someone gives, for ids 0, 1, …: ``form`` "lines" (one per line; an empty line
    leaves its id unnamed), "json" (a list of tokens, or a {token: id} mapping as Keras' Tokenizer writes it), or
    "chars" (the distinct characters of ``text`` in first-seen order, as in the textbook's letter example)."""
    if form == "chars":
        return list(dict.fromkeys(text))
    if form == "lines":
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line.rstrip("\r") for line in lines]
    if form != "json":
        raise InputError("Unknown vocabulary form {form}: use lines, json or chars.", form=shown(form))
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise InputError("The vocabulary is not valid JSON: give a list of tokens, such as [\"a\", \"b\"].") from None
    if isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_VOCAB
                                       for v in value.values()):
        tokens = [""] * (max(value.values(), default=-1) + 1)
        for token, i in value.items():
            tokens[i] = str(token)
        return tokens
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InputError("The JSON vocabulary must be a list of tokens (strings) or a {token: id} mapping.")
    return value


def ids_vocab(tokens, size: int) -> Vocab:
    """A closed vocabulary of exactly ``size`` ids for an imported model: ``tokens`` (a Vocab, a list, or None)
    names ids 0, 1, …; an id without a name (past the list, or an empty token) is named by its number. Single
    characters make a character vocabulary, anything else a word vocabulary (so ids are typed "3 1 4")."""
    given = list(tokens.tokens if isinstance(tokens, Vocab) else tokens or [])
    if len(given) > size:
        raise InputError("The vocabulary has {n:,} tokens, but the model reads {size:,} ids.", n=len(given),
                         size=size)
    names = [str(t) for t in given] + [""] * (size - len(given))
    taken = set(names)
    for i, name in enumerate(names):
        if name == "":
            names[i] = str(i) if str(i) not in taken else f"#{i}"
            taken.add(names[i])
    level = "char" if given and all(len(t) == 1 for t in names) else "word"
    return Vocab(tuple(names), level, unk=False)
