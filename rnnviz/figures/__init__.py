"""Plotly figure builders: arrays (or a Trace / GradFlow) in, ``go.Figure`` out; no streamlit here."""

from .common import ShapeError, empty_figure, token_axis
from .states import state_heatmaps

__all__ = ["ShapeError", "empty_figure", "state_heatmaps", "token_axis"]
