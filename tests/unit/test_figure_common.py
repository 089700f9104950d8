"""rnnviz.figures.common's image and revision helpers: PNG bytes a real decoder reads back, the colour scale
plotly.js draws, and a datarevision that changes exactly when the figure does."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest
from PIL import Image

from rnnviz.figures.common import ShapeError, color_image, colormap, png, with_revision


def test_png_is_read_back_pixel_for_pixel_by_pillow():
    rgba = np.random.default_rng(0).integers(0, 256, size=(7, 13, 4), dtype=np.uint8)
    rgba[2, 3, 3] = 0  # a transparent pixel keeps its alpha
    back = np.asarray(Image.open(io.BytesIO(png(rgba))))
    assert back.shape == (7, 13, 4)
    np.testing.assert_array_equal(back, rgba)


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 3), (0, 4, 4), (3, 0, 4)])
def test_png_refuses_what_is_not_an_rgba_image(shape):
    with pytest.raises(ShapeError):
        png(np.zeros(shape, dtype=np.uint8))


def test_colormap_is_plotlys_scale_at_every_level():
    lut = colormap("Viridis")
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    expected = [plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale("Viridis", np.arange(256) / 255)]
    np.testing.assert_array_equal(lut, np.rint(np.array(expected)).astype(np.uint8))
    stops = plotly.colors.get_colorscale("RdBu_r")  # a scale given as rgb(...) strings, not hex
    assert tuple(colormap("RdBu_r")[0]) == tuple(int(v) for v in plotly.colors.unlabel_rgb(stops[0][1]))


def test_color_image_clamps_to_the_scale_and_leaves_nan_transparent():
    z = np.array([[-5.0, 0.0, 0.5], [1.0, 9.0, np.nan]])
    url = color_image(z, 0.0, 1.0, "Viridis")
    assert url.startswith("data:image/png;base64,")
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    lut = colormap("Viridis")
    np.testing.assert_array_equal(rgba[0, 0, :3], lut[0])  # below the scale: its bottom colour
    np.testing.assert_array_equal(rgba[1, 1, :3], lut[-1])  # above: its top colour
    np.testing.assert_array_equal(rgba[0, 2, :3], lut[128])  # halfway (0.5 · 255 rounds to 128)
    assert rgba[1, 2, 3] == 0 and (rgba[:, :2, 3] == 255).all()


def test_datarevision_follows_the_content():
    def fig(y, title="a"):
        return go.Figure(go.Scatter(y=np.asarray(y, dtype=np.float32)), layout=dict(title=title))

    a = with_revision(fig([1, 2, 3])).layout.datarevision
    assert a and a == with_revision(fig([1, 2, 3])).layout.datarevision  # the same figure, the same revision
    assert with_revision(with_revision(fig([1, 2, 3]))).layout.datarevision == a  # its own value is not hashed
    assert with_revision(fig([1, 2, 4])).layout.datarevision != a  # one value in an array
    assert with_revision(fig([1, 2, 3], "b")).layout.datarevision != a  # or the layout
