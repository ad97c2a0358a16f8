"""Heat map and sensitivity figures of the scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics import audit, plot_matrix, plot_sensitivity

pytest.importorskip("matplotlib")


def test_matrix_and_sensitivity_figures(
    make_atlas: Callable[..., Any], toy_grid: Callable[..., Any]
) -> None:
    atlas = make_atlas(
        {"fine": toy_grid("fine", 2, 2), "coarse": toy_grid("coarse", 1, 1, size=2)}
    )
    res = audit(atlas, thresholds=(0.0, 0.01, 0.1))
    fig = plot_matrix(res, measure="nesting_index_area")
    ax = fig.axes[0]
    assert ax.get_title() == "Part de la superficie de A emboîtée dans B"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fine", "coarse"]
    texts = {t.get_text() for t in ax.texts}
    assert "1,00" in texts  # fine in coarse
    assert "0,00" in texts  # coarse in fine
    fig_en = plot_sensitivity(res, measure="n_split", lang="en")
    assert fig_en.axes[0].get_title() == "Units of A split by B"
    labels = {line.get_label() for line in fig_en.axes[0].get_lines()}
    assert labels == {"fine->coarse", "coarse->fine"}
    with pytest.raises(InvalidParameterError, match="Unknown measure"):
        plot_matrix(res.pairs, measure="nope")
