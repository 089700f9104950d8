"""rnnviz.probe_means: the mean best |r| per feature over several texts, and the script that prints it."""

import io

import numpy as np
import torch

from rnnviz import Model, ModelConfig, Vocab, trace
from rnnviz import probe_means as PM
from rnnviz import probes as P
from rnnviz.checkpoint import save

TEXTS = ["def f(a, b):\n    return (a + [b, (a)])\n\n\nclass C:\n    x = {'k': (1, 2)}\n" * 3,
         "if x:\n    for i in range(3):\n        y = f(i, [i])\n# done\n" * 3]


def model() -> Model:
    return Model(ModelConfig(hidden_size=6, encoder="embedding", embed_dim=4), Vocab.from_text("".join(TEXTS)),
                 generator=torch.Generator().manual_seed(1))


def test_best_means_are_the_mean_over_texts_of_the_largest_pearson_r_of_any_h_or_c():
    m = model().eval()
    means = PM.best_means(m, TEXTS)
    for code in ("brackets", "indent", "column"):  # features that vary in both texts
        best = []
        for text in TEXTS:
            tr = trace(m, text)
            feature = P.probe(tr, text)
            x = feature.values[:, feature.codes.index(code)]
            series = np.concatenate([tr["h"][0, 0], tr["c"][0, 0]], axis=1)  # [T, 2H]
            best.append(max(abs(np.corrcoef(x, series[:, j])[0, 1]) for j in range(series.shape[1])))
        assert abs(means[code] - np.mean(best)) < 1e-6


def test_the_script_prints_each_checkpoint_with_its_card_scores_and_means(tmp_path, monkeypatch):
    m = model()
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(save(m, card={"metrics": {"bpc": 1.5, "heldout_bpc": 2.25}}))
    monkeypatch.setattr(PM, "held_out_texts", lambda: TEXTS)
    out = io.StringIO()
    assert PM.main([str(path)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"Mean best |r| over 2 held-out numpy files ({PM.CHARS} characters each):"
    assert lines[1] == f"{path}: lstm, 6 units; card: bpc 1.500 heldout_bpc 2.250"
    means = PM.best_means(m.eval(), TEXTS)
    assert lines[2] == "  " + " ".join(f"{c} {means[c]:.3f}" for c in PM.SHOWN if c in means)
    monkeypatch.setattr(PM, "held_out_texts", lambda: [])
    assert PM.main([str(path)], out=io.StringIO()) == 1
