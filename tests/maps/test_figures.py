"""Static figures: matrix heat map, sensitivity curves, overlap map; PNG and SVG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.maps.figures import (
    figure_data_uri,
    figure_svg,
    matrix_figure,
    overlap_figure,
    save_figure,
    sensitivity_figure,
)


@pytest.fixture
def matrix() -> pd.DataFrame:
    keys = ["mrc", "rls", "css"]
    values = np.array([[np.nan, 0.31, 0.52], [0.28, np.nan, 0.44], [0.6, 0.4, np.nan]])
    return pd.DataFrame(values, index=keys, columns=keys)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_matrix_annotates_every_finite_cell(matrix):
    fig = matrix_figure(matrix, title="Incohérence", label="VI")
    texts = _texts(fig)
    assert len(texts) == 6  # the NaN diagonal stays blank
    assert "0,31" in texts
    assert "0.31" in _texts(matrix_figure(matrix, lang="en"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mrc", "rls", "css"]


def test_matrix_errors():
    with pytest.raises(InvalidParameterError, match="empty"):
        matrix_figure(pd.DataFrame())
    with pytest.raises(InvalidParameterError, match="must hold numbers"):
        matrix_figure(pd.DataFrame({"a": ["x"]}))


def test_sensitivity_curves_one_line_per_column():
    curves = pd.DataFrame(
        {"mrc→rls": [0.01, 0.27, 0.61, 0.71], "mrc→css": [0.0, 0.2, 0.5, 0.6]},
        index=[0.0, 0.001, 0.01, 0.05],
    )
    fig = sensitivity_figure(curves, ylabel="Part intacte")
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert ax.get_xscale() == "symlog"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["0 %", "0,1 %", "1 %", "5 %"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curves["mrc→rls"])
    with pytest.raises(InvalidParameterError, match="numeric thresholds"):
        sensitivity_figure(pd.DataFrame({"a": [1]}, index=["x"]))


def test_overlap_figure_draws_each_layer_and_notes_sources(toy_layers):
    fig = overlap_figure(toy_layers, split={"mrc": ["B"]}, highlight={"mrc": ["B"]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "mrc",
        "css",
        "regions",
    ]
    assert "MRC Bêta" in _texts(fig)
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "Source MRC (test), CC BY 4.0" in notes
    assert "EPSG:32198" in notes


@pytest.mark.parametrize(
    ("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")]
)
def test_save_figure_png_and_svg(matrix, tmp_path, suffix, magic):
    fig = matrix_figure(matrix)
    out = save_figure(fig, tmp_path / f"matrice{suffix}")
    assert out.read_bytes().startswith(magic)
    with pytest.raises(OutputExistsError):
        save_figure(fig, out)
    save_figure(fig, out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"matrice{suffix}"]


def test_svg_output_is_reproducible(matrix, tmp_path):
    a = save_figure(matrix_figure(matrix), tmp_path / "a.svg").read_bytes()
    b = save_figure(matrix_figure(matrix), tmp_path / "b.svg").read_bytes()
    assert a == b


def test_bad_figure_format(matrix, tmp_path):
    with pytest.raises(InvalidParameterError, match=r"\.png or \.svg"):
        save_figure(matrix_figure(matrix), tmp_path / "m.pdf")


def test_inline_forms(matrix):
    fig = matrix_figure(matrix)
    assert figure_svg(fig).startswith("<svg")
    assert figure_data_uri(fig).startswith("data:image/png;base64,")
    assert figure_data_uri(fig, fmt="svg").startswith("data:image/svg+xml;base64,")
