"""rnnviz.probes: features with known answers, correlations against numpy, traces whose answer is built in."""

import numpy as np
import pytest
import torch

from rnnviz import Model, ModelConfig, Trace, Vocab, trace
from rnnviz import probes as P


def feature(text: str, code: str) -> np.ndarray:
    codes, values = P.features(text)
    return values[:, codes.index(code)]


def built(pieces: list[tuple[str, int]]) -> tuple[str, np.ndarray]:
    """Text from (piece, label) pairs and the per-character labels they give."""
    text = "".join(p for p, _ in pieces)
    return text, np.concatenate([np.full(len(p), v, float) for p, v in pieces])


def test_bracket_depth_of_a_call():
    np.testing.assert_array_equal(feature("f((a)[b])", "brackets"), [0, 1, 2, 2, 1, 2, 2, 1, 0])


def test_brackets_in_strings_and_comments_do_not_count():
    text, depth = built([("x = ", 0), ("(", 1), ("'(['", 1), (")", 0), ("  # ((\n", 0), ("y = ", 0),
                         ("{1", 1), ("}", 0)])
    np.testing.assert_array_equal(feature(text, "brackets"), depth)


def test_strings_and_comments_come_from_tokenize():
    text, string = built([("a = ", 0), ("'x # y'", 1), (" + ", 0), ('"""q\n(r"""', 1), ("  # 'not a string'\n", 0),
                          ("b = ", 0), ("f'{a}'", 1), ("\n", 0)])
    _, comment = built([("a = 'x # y' + \"\"\"q\n(r\"\"\"  ", 0), ("# 'not a string'", 1), ("\nb = f'{a}'\n", 0)])
    np.testing.assert_array_equal(feature(text, "string"), string)
    np.testing.assert_array_equal(feature(text, "comment"), comment)


def test_docstrings_are_strings_that_stand_alone():
    text, doc = built([('"""Module."""', 1), ("\ndef f():\n    ", 0), ("'''Doc.'''", 1), ("\n    x = ", 0),
                       ("'not doc'", 0), ("\n    return x\n", 0)])
    np.testing.assert_array_equal(feature(text, "docstring"), doc)
    assert feature(text, "string").sum() == len('"""Module."""') + len("'''Doc.'''") + len("'not doc'")


def test_indentation_level_and_keywords():
    lines = [("def f(a):\n", 0), ("    for x in a:\n", 1), ("\n", 1), ("        # note\n", 1),
             ("        y = (x,\n", 2), ("  1)\n", 2), ("    return y\n", 1), ("z = 1\n", 0)]
    text, level = built(lines)
    np.testing.assert_array_equal(feature(text, "indent"), level)
    starts = [i for i in range(len(text)) if text.startswith(("def ", "for ", "in ", "return "), i)
              and (i == 0 or not text[i - 1].isalnum())]
    np.testing.assert_array_equal(np.flatnonzero(feature(text, "keyword")), starts)


def test_column_and_characters_left():
    text = "ab\n\ncdef\ng"
    column, left = [], []
    for line in text.split("\n"):
        column += list(range(len(line) + 1))
        left += [len(line) - 1 - c for c in range(len(line))] + [0]
    np.testing.assert_array_equal(feature(text, "column"), column[:len(text)])
    np.testing.assert_array_equal(feature(text, "line_left"), np.maximum(left[:len(text)], 0))


def test_text_features_and_cjk():
    text = "他说：“RNN 记得2个字”，《论语》。好Ab！"
    np.testing.assert_array_equal(feature(text, "cjk"), [c in "他说记得个字论语好" for c in text])
    np.testing.assert_array_equal(feature(text, "punct"), [c in "：“”，《》。！" for c in text])
    np.testing.assert_array_equal(feature(text, "digit"), [c == "2" for c in text])
    np.testing.assert_array_equal(feature(text, "upper"), [c in "RNNA" for c in text])
    np.testing.assert_array_equal(feature(text, "space"), [c == " " for c in text])
    inside = [text.index("“") <= i <= text.index("”") or text.index("《") <= i <= text.index("》")
              for i in range(len(text))]
    np.testing.assert_array_equal(feature(text, "quoted"), inside)
    end = text.index("。")
    np.testing.assert_array_equal(feature(text, "sentence_pos")[:end + 3], [*range(1, end + 1), 0, 1, 2])
    assert feature(text, "word_pos")[text.index("R"):text.index("R") + 4].tolist() == [1, 2, 3, 0]
    assert np.isnan(feature(text, "brackets")).all()  # not Python: the tokenizer stops on "："


def test_chinese_features_are_not_measured_on_code():
    for code in P.CHINESE:
        assert np.isnan(feature("x = 1  # no Chinese here.\n", code)).all()


def test_broken_code_keeps_the_lines_around_the_error():
    text = "a = (1,\n  2)\nb = 'open\nc = [3]\n'''never closed\nd = 4\n"
    string, depth = feature(text, "string"), feature(text, "brackets")
    lines = text.splitlines(keepends=True)
    at = np.cumsum([0] + [len(s) for s in lines])
    assert np.isfinite(depth[:at[2]]).all() and np.isnan(depth[at[2]:at[3]]).all()
    np.testing.assert_array_equal(depth[at[3]:at[4]], [0, 0, 0, 0, 1, 1, 0, 0])
    assert np.isnan(string[at[4]:at[5]]).all()
    np.testing.assert_array_equal(string[at[5]:], 0)


@pytest.mark.parametrize("text", ["", "\n", "'''", "def f(:\n\tpass\n  x", "\x00\x1b]",
                                  "if x:\n  a\n b\n", "😀 e\u0301"])
def test_any_text_gives_features_of_its_length(text):
    codes, values = P.features(text)
    assert values.shape == (len(text), len(P.FEATURES))


def test_every_prefix_of_code_runs():
    code = 'def f(x):\n    """Doc (x)."""\n    return {"a": [x, (1, 2)]}  # ok\n'
    for n in range(len(code) + 1):
        assert P.features(code[:n])[1].shape[0] == n


def test_word_tokens_take_the_features_of_their_last_character():
    text = "x = f(a)"
    tokens = ["x", "=", "f", "(", "a", ")"]
    codes, values = P.token_features(tokens, text)
    _, chars = P.features(text)
    np.testing.assert_array_equal(values, chars[[0, 2, 4, 5, 6, 7]])


def test_correlate_matches_numpy_corrcoef_with_gaps_and_constants():
    rng = np.random.default_rng(0)
    T = 200
    units = rng.standard_normal((T, 6)).astype(np.float32)
    units[:, 4] = 0.7  # a constant unit
    feats = rng.standard_normal((T, 4))
    feats[:, 1] = units[:, 2] * 3 + 1
    feats[:50, 2] = np.nan  # unavailable on the first 50 steps
    feats[:, 3] = 2.0  # a constant feature
    r = P.correlate(units, feats)
    assert np.isfinite(r).all()
    for u in range(6):
        for f in range(4):
            ok = np.isfinite(feats[:, f])
            x, y = units[ok, u].astype(np.float64), feats[ok, f]
            expected = 0.0 if x.std() == 0 or y.std() == 0 else np.corrcoef(x, y)[0, 1]
            assert r[u, f] == pytest.approx(expected, abs=1e-9), (u, f)
    assert r[2, 1] == pytest.approx(1.0)


def constructed_trace(text: str, seed: int = 0) -> Trace:
    """A 2-layer bidirectional LSTM trace on ``text`` whose layer 1, backward unit 3 has c = indentation and whose
    layer 0 unit 5 has h = −bracket depth / 4; every other value is noise."""
    rng = np.random.default_rng(seed)
    T, H = len(text), 8
    arrays = {k: rng.uniform(-0.2, 0.2, (2, 2, T, H)).astype(np.float32) for k in ("h", "c", "i", "f", "g", "o")}
    codes, values = P.features(text)
    arrays["c"][1, 1, :, 3] = values[:, codes.index("indent")]
    arrays["h"][0, 0, :, 5] = -values[:, codes.index("brackets")] / 4
    return Trace("lstm", arrays, list(text), [False] * T, np.zeros((T, 1), np.float32))


CODE = "def f(a, b):\n    if a:\n        return g(a, [b])\n    return (b)\n" * 4


def test_probe_finds_the_units_built_to_match():
    probes = P.probe(constructed_trace(CODE))
    assert probes.r.shape == (2, 2, 2, 8, len(P.FEATURES))
    (best,) = probes.best("indent")
    assert (best.quantity, best.layer, best.direction, best.unit) == ("c", 1, 1, 3)
    assert best.r == pytest.approx(1.0)
    best = probes.best("brackets", k=3)
    assert (best[0].quantity, best[0].layer, best[0].unit, best[0].r) == ("h", 0, 5, pytest.approx(-1.0))
    assert len({(b.layer, b.direction, b.unit) for b in best}) == 3
    assert probes.labels(1, 1)[3] == "indentation, r = 1.00"
    assert probes.labels(0, 0)[5] == "bracket depth, r = -1.00"
    assert probes.unit_order(1, 1)[0] == 3 and sorted(probes.unit_order(1, 1)) == list(range(8))


def test_summary_says_when_nothing_tracks_a_feature():
    probes = P.probe(constructed_trace(CODE))
    rows = {row["code"]: row for row in probes.summary(threshold=0.5)}
    assert rows["indent"]["tracked"] and rows["brackets"]["tracked"]
    assert rows["cjk"]["note"] == "Does not vary in this text." and not rows["cjk"]["tracked"]
    assert rows["comment"]["note"] == "Does not vary in this text."  # the code has no comment
    noise = rows["keyword"]
    assert not noise["tracked"] and noise["note"].startswith("Nothing tracks start of a keyword: the best |r| is 0.")
    assert not probes.tracked("keyword", 0.5) and probes.tracked("indent")


def test_probe_of_a_real_model_on_typed_text_has_no_nan():
    for text in ["x", "好", "aaaa", "他说：“你好”。"]:
        model = Model(ModelConfig(cell="gru", hidden_size=4), Vocab.from_text(text),
                      generator=torch.Generator().manual_seed(0))
        probes = P.probe(trace(model, text))
        assert probes.quantities == ("h",) and np.isfinite(probes.r).all()
        assert len(probes.summary()) == len(P.FEATURES)


def test_chance_level_is_the_best_r_with_the_feature_slid_along_the_text():
    rng = np.random.default_rng(3)
    T = 48
    units = np.cumsum(rng.standard_normal((T, 5)), axis=0)  # slow drifts, like cell states
    feats = np.repeat(rng.integers(0, 3, (T // 8, 2)), 8, axis=0).astype(float)  # runs, like indentation
    expected = [max(abs(np.corrcoef(units[:, u], np.roll(feats[:, f], T * k // 8))[0, 1])
                    for u in range(5) for k in range(1, 8)) for f in range(2)]
    np.testing.assert_allclose(P.chance_level(units, feats), expected, atol=1e-12)


def test_a_short_text_with_drifting_units_is_not_called_tracked():
    text = "def f(a):\n    if a:\n        return a\n    return 0\n"
    rng = np.random.default_rng(0)
    T, H = len(text), 64
    drift = np.cumsum(rng.standard_normal((1, 1, T, H)), axis=2) / 4
    arrays = {k: np.tanh(drift).astype(np.float32) for k in ("h", "c")}
    codes, values = P.features(text)
    arrays["c"][0, 0, :, 7] = values[:, codes.index("indent")]  # one unit really is the indentation
    probes = P.probe(Trace("lstm", arrays, list(text), [False] * T, np.zeros((T, 1), np.float32)))
    rows = {row["code"]: row for row in probes.summary()}
    assert rows["indent"]["tracked"] and rows["indent"]["best"].unit == 7
    spurious = [row for row in rows.values() if "beyond chance" in row["note"]]
    assert spurious, "precondition: some drift passes |r| ≥ 0.3 on 48 steps"
    for row in spurious:
        f = codes.index(row["code"])
        assert P.TRACKS <= abs(row["best"].r) < probes.chance[f]
        assert f"{probes.chance[f]:.2f}" in row["note"]
    assert probes.labels()[7] == "indentation, r = 1.00"
    assert all(label == "" or label.split(",")[0] in [rows[c]["feature"] for c in rows if rows[c]["tracked"]]
               for label in probes.labels())
