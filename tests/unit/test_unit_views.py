"""The pieces behind /cell's "What the units learned": a span where the unit finder finds a unit, one unit's gates
as lines, and heatmaps with unit names, feature groups and a window of steps."""

import numpy as np
import pytest

from rnnviz import Trace
from rnnviz import units as U
from rnnviz.figures import cell_heatmaps, horizon_figure, unit_gates_figure
from rnnviz.figures.common import ShapeError


def lstm_trace(T: int = 30, H: int = 5, seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    arrays = {k: rng.uniform(0, 1, (1, 1, T, H)).astype(np.float32) for k in "ifgoch"}
    tokens = [chr(97 + t % 26) for t in range(T)]
    return Trace("lstm", arrays, tokens, [False] * T, np.zeros((T, 1), np.float32))


def test_default_span_is_one_where_the_finder_finds_a_unit():
    rng = np.random.default_rng(1)
    values = rng.uniform(-0.2, 0.2, (200, 16))
    values[50:56, 3] = 0.9  # unit 3 is on for six steps and nowhere else
    values[120:150, 7] = 0.9  # unit 7 is on for thirty steps
    assert U.default_span(values, 0.3, 0.0) == (120, 149)  # the longest run; a part would leave steps on outside
    assert 7 in U.find_units(values, 120, 149, 0.3).units
    span = U.default_span(values, 0.3, 0.1)
    assert span == (120, 131)  # cut to a readable 12 steps where that still qualifies
    assert 7 in U.find_units(values, *span, 0.3, max_outside=0.1).units
    assert U.default_span(values, 0.3, 0.0, prefer=[3]) == (50, 55)
    assert 3 in U.find_units(values, 50, 55, 0.3).units
    assert U.default_span(values, 0.95, 0.0) is None  # nothing is ever on


def test_default_span_respects_the_share_allowed_outside():
    values = np.zeros((100, 1))
    values[10:14, 0] = 1.0
    values[60:70, 0] = 1.0  # a second, longer run: on 14 steps in all
    assert U.default_span(values, 0.5, 0.0) is None  # any span leaves other steps on
    start, stop = U.default_span(values, 0.5, 0.1)
    assert len(U.find_units(values, start, stop, 0.5, max_outside=0.1))


def test_unit_gates_figure_draws_each_quantity_of_one_unit_and_the_feature():
    tr = lstm_trace()
    feature = np.arange(30, dtype=float) % 4
    feature[:3] = np.nan
    fig = unit_gates_figure(tr, 0, 0, 2, feature, "bracket depth")
    lines = [t for t in fig.data if t.name]
    assert [t.name for t in lines] == ["input gate i_t", "forget gate f_t", "candidate g_t", "output gate o_t",
                                       "cell state c_t", "hidden state h_t", "bracket depth (scaled to 0–1)"]
    for trace_, key in zip(lines, "ifgoch", strict=False):
        np.testing.assert_allclose(trace_.y, tr[key][0, 0, :, 2])
    np.testing.assert_allclose(lines[-1].y[3:], feature[3:] / 3)
    assert np.isnan(lines[-1].y[:3]).all()
    with pytest.raises(ShapeError):
        unit_gates_figure(tr, 0, 0, 5)
    with pytest.raises(ShapeError):
        unit_gates_figure(tr, 0, 0, 1, np.zeros(4))


def test_heatmaps_name_units_group_them_and_show_a_window_of_steps():
    tr = lstm_trace(T=200, H=40)
    units = np.arange(40)[::-1]
    groups = ["indentation"] * 20 + ["tracks nothing named"] * 20
    fig = cell_heatmaps(tr, units=units, unit_names={39: "indentation, r = 0.90"}, steps=(50, 80), groups=groups)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert heat[0].y[0] == "#39 · indentation, r = 0.90" and heat[0].y[1] == "#38"
    np.testing.assert_allclose(heat[-1].z, tr["h"][0, 0, 50:80][:, units].T)
    assert list(heat[0].x) == list(range(50, 80))
    assert list(fig.layout.xaxis.tickvals) == list(range(50, 80))
    assert list(fig.layout.xaxis.ticktext) == tr.labels[50:80]
    assert list(fig.layout.yaxis.ticktext) == ["indentation", "tracks nothing named"]  # each group named once
    rules = [s for s in fig.layout.shapes if s.yref == "y"]
    assert [s.y0 for s in rules] == [19.5]  # a line between the groups
    assert not [t for t in fig.data if t.type == "bar"]  # no squares unless asked
    with pytest.raises(IndexError):
        cell_heatmaps(tr, units=units, groups=groups[:3])
    with pytest.raises(IndexError):
        cell_heatmaps(tr, steps=(10, 10))


def test_heatmap_squares_carry_each_row_s_unit_and_the_selected_row_is_outlined():
    tr = lstm_trace(T=60, H=40)
    units = np.array([7, 3, 39, 0])
    fig = cell_heatmaps(tr, units=units, unit_names={3: "brackets, r = 0.80"}, handles=True, selected=39)
    heat = [t for t in fig.data if t.type == "heatmap"]
    squares = [t for t in fig.data if t.type == "bar"]
    assert len(squares) == len(heat) == 6  # one strip per panel
    for row, (h, sq) in enumerate(zip(heat, squares, strict=True), start=1):
        assert list(sq.customdata) == [7, 3, 39, 0] and list(sq.y) == list(h.y)  # the same rows, the same order
        assert sq.yaxis == h.yaxis and sq.xaxis != h.xaxis  # beside the panel, on its unit axis
        assert list(sq.marker.color).index("#111827") == 2  # the selected unit's square is dark
        strip, panel = fig.layout[f"xaxis{40 + row}"].domain, fig.layout[sq.yaxis.replace("y", "xaxis")].domain
        assert strip[1] <= panel[0]  # the strip is left of the heatmap
    outlines = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(outlines) == 6 and {(s.y0, s.y1) for s in outlines} == {(1.5, 2.5)}  # row 2 of every panel
    assert fig.layout.clickmode == "event+select"
    plain = cell_heatmaps(tr, units=units, selected=5)  # 5 is not shown: nothing outlined
    assert not [s for s in (plain.layout.shapes or ()) if s.type == "rect"]


def test_horizon_bars_carry_units_and_mark_the_selected_one():
    fig = horizon_figure(np.array([1.0, 2.0, 40.0, 3.0]), units=[2, 0, 3], selected=0)
    bar = fig.data[0]
    assert list(bar.customdata) == [2, 0, 3] and list(bar.x) == ["#2", "#0", "#3"]
    assert [c == "#111827" for c in bar.marker.color] == [False, True, False]


def test_group_names_get_room_for_wide_characters():
    tr = lstm_trace(T=20, H=40)
    groups = ["跟踪有名字的特征"] * 20 + ["abc"] * 20  # 8 wide characters: 16 cells
    english = cell_heatmaps(tr, groups=["x" * 8] * 20 + ["abc"] * 20)
    chinese = cell_heatmaps(tr, groups=groups)
    assert chinese.layout.margin.l >= 20 + 6 * 16 > english.layout.margin.l
