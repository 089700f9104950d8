"""python -m rnnviz.bench at tiny sizes: it completes and prints every cell. Its ratios are not checked here (a
shared CI machine is too noisy); --check's exit status is tested on given ratios."""

import json

import pytest

from rnnviz import bench
from rnnviz.model import CELLS

TINY = ["--steps", "12", "--hidden", "8", "--rounds", "1", "--no-trainer"]


def test_bench_prints_every_cell(capsys):
    assert bench.main(TINY) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[2:] if line.split() and line.split()[0] in CELLS]
    assert rows == list(CELLS)
    assert "load average" in out


def test_bench_json_has_every_cell_and_ratio(capsys):
    assert bench.main(TINY + ["--json", "--cells", "lstm,esn"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["cell"] for r in data["cells"]] == ["lstm", "esn"]
    for r in data["cells"]:
        assert r["ratio"] > 0 and r["norms_before_ms"] > 0 and r["norms_after_ms"] > 0
        assert r["norms_ratio"] == pytest.approx(r["norms_after_ms"] / r["fused_ms"])


@pytest.mark.parametrize("ratio,status", [(1.4, 0), (bench.CHECK_LIMIT + 0.1, 1)])
def test_check_fails_past_the_limit(monkeypatch, capsys, ratio, status):
    def fake(cell, *args, **kwargs):
        return {"cell": cell, "ratio": ratio if cell == "gru" else 1.0, "fused_ms": 1.0, "ours_ms": ratio,
                "norms_before_ms": 2.0, "norms_after_ms": 1.0, "norms_speedup": 2.0, "norms_ratio": 1.0}

    monkeypatch.setattr(bench, "measure_cell", fake)
    assert bench.main(TINY + ["--check"]) == status
    assert bench.main(TINY) == 0  # without --check the ratio is only printed
    if status:
        assert "gru" in capsys.readouterr().err


def test_leaky_cells_are_timed_against_a_fused_rnn():
    import torch

    from rnnviz import Model, ModelConfig

    model = Model(ModelConfig(cell="leaky", hidden_size=4, encoder="float", input_size=3, head="none"))
    ref = bench.reference(model)
    assert isinstance(ref, torch.nn.RNN) and (ref.input_size, ref.hidden_size) == (3, 4)
    lstm = Model(ModelConfig(cell="lstm", hidden_size=4, encoder="float", input_size=3, head="none"))
    assert bench.reference(lstm) is lstm.rnn
