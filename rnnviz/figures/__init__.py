"""Plotly figure builders: arrays (or a Trace / GradFlow) in, ``go.Figure`` out; no streamlit here."""

from .cell import (
    cell_heatmaps,
    finder_figure,
    horizon_figure,
    memory_figure,
    predictions_figure,
    saturation_figure,
    unit_gates_figure,
)
from .common import ShapeError, empty_figure, token_axis, with_revision
from .gradients import flow_figure, jacobian_figure, saliency_html, unit_heatmaps
from .memory import capacity_figure, capacity_scan_figure, lag_sweep_figure
from .states import color_range, stacked_time_layout, state_heatmaps
from .text import generation_html, matrix_html, probability_legend, sequence_html
from .train import accuracy_figure, grad_norm_figure, loss_figure, train_flow_figure

__all__ = [
    "ShapeError", "empty_figure", "state_heatmaps", "token_axis", "with_revision", "color_range", "stacked_time_layout",
    "cell_heatmaps", "finder_figure", "horizon_figure", "memory_figure", "predictions_figure", "saturation_figure",
    "unit_gates_figure",
    "flow_figure", "jacobian_figure", "saliency_html", "unit_heatmaps",
    "capacity_figure", "capacity_scan_figure", "lag_sweep_figure",
    "accuracy_figure", "grad_norm_figure", "loss_figure", "train_flow_figure",
    "generation_html", "matrix_html", "probability_legend", "sequence_html",
]
