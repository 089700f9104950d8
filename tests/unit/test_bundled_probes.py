"""The bundled character LSTM, re-measured (not read from its card) by ``rnnviz.probe_means``: how well its best unit
follows each named feature on held-out Python source that nothing here trains on (numpy's own files,
``rnnviz.corpus.heldout_files``).

One file's best |r| moves by 0.1-0.3 between two models of the same quality (the 72-minute char_lstm and the one that
went on from it scored string 0.42 and 0.22 on ``numpy/_core/_methods.py``, but 0.50 and 0.51 on average over these
files), so the figure is the mean over the first FILES held-out files of at least CHARS characters (their first
CHARS characters each). FLOORS are those means (`python -m rnnviz.probe_means` prints them), measured on the
current char_lstm, minus a margin of 0.05. When better models land, raise them to what those measure (the issue's
targets: brackets 0.8, indentation 0.8, column 0.85, comment 0.7, string 0.6).
"""

import pytest

from rnnviz.assets import list_pretrained, load_pretrained
from rnnviz.probe_means import CHARS, FILES, best_means, held_out_texts

FLOORS = {  # measured 2026-12-05 on the 512-unit char_lstm (65 min on CPU, 2 threads, 10,360 steps):
    # string 0.580, comment 0.424, docstring 0.587, brackets 0.579, indent 0.635, keyword 0.207, column 0.718,
    # line_left 0.380, word_pos 0.612, space 0.683, digit 0.187, upper 0.280, punct 0.371
    "string": 0.53, "comment": 0.37, "docstring": 0.53, "brackets": 0.52, "indent": 0.58, "keyword": 0.15,
    "column": 0.66, "line_left": 0.33, "word_pos": 0.56, "space": 0.63, "digit": 0.13, "upper": 0.23, "punct": 0.32,
}


@pytest.mark.skipif("char_lstm" not in [c["name"] for c in list_pretrained("char")], reason="no bundled char_lstm")
def test_bundled_char_lstm_units_follow_named_features():
    texts = held_out_texts()
    if len(texts) < FILES:
        pytest.skip(f"fewer than {FILES} held-out files of {CHARS} characters are installed")
    measured = best_means(load_pretrained("char_lstm")[0], texts)
    low = {code: round(measured[code], 3) for code, floor in FLOORS.items() if measured[code] < floor}
    assert not low, f"best |r| under the floor: {low} (floors {FLOORS})"
