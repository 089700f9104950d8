import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnviz import UNK, InputError, Vocab
from rnnviz.vocab import token_label


@given(st.text(min_size=1, max_size=200))
def test_char_round_trip_any_unicode(text):
    vocab = Vocab.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.tokens[0] == UNK
    assert not any(vocab.unknown(text))


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_unknown_characters_map_to_unk(known, other):
    vocab = Vocab.from_text(known)
    ids = vocab.encode(other).tolist()
    unknown = vocab.unknown(other)
    assert [i == 0 for i in ids] == unknown
    assert unknown == [c not in known for c in other]


def test_worked_examples():
    text = "学习 LSTM 👍🏽 é"
    vocab = Vocab.from_text(text)
    assert "学" in vocab.tokens and "👍" in vocab.tokens and "\U0001f3fd" in vocab.tokens  # skin tone: own code point
    assert vocab.decode(vocab.encode("学X")) == "学" + UNK


def test_word_level():
    vocab = Vocab.from_text("the cat sat. The cat!", level="word")
    assert vocab.split("the cat.") == ["the", "cat", "."]
    assert vocab.decode(vocab.encode("the dog")) == f"the {UNK}"


def test_errors():
    with pytest.raises(InputError, match="empty"):
        Vocab.from_text("")
    with pytest.raises(InputError, match="limit"):
        Vocab(tuple(chr(0x4E00 + i) for i in range(6000)))
    with pytest.raises(InputError):
        Vocab.from_text("abc", level="sentence")


def test_token_labels_are_visible():
    assert token_label(" ") == "␣" and token_label("\n") == "⏎" and token_label("\x00") == "NUL"
    assert token_label("\u202e") == "U+202E"  # right-to-left override must not flip the axis
    assert token_label("\u0301").endswith("\u0301") and token_label("\u0301") != "\u0301"
    assert token_label("世") == "世"
