"""unit_splits and split_ranking on the toy atlas (splits known by construction)."""

from __future__ import annotations

import pytest

from geodecoupage.errors import InvalidParameterError
from geodecoupage.maps import split_ranking, unit_splits


def test_parts_and_dominant_share(toy_atlas):
    us = unit_splits(toy_atlas, "mrc", "css")
    assert us.parts.to_dict() == {"A": 1, "B": 2}
    assert us.dominant_share.to_dict() == pytest.approx({"A": 1.0, "B": 0.6})


def test_ranking_puts_the_split_unit_first(toy_atlas):
    names = {"css": {"X": "CSS Xénon", "Y": "CSS Yttrium"}, "mrc": {"B": "MRC Bêta"}}
    r = split_ranking(toy_atlas, "mrc", names=names)
    assert r.index.tolist() == ["B", "A"]
    assert r["rank"].tolist() == [1, 2]
    b = r.loc["B"]
    assert b["nom"] == "MRC Bêta"
    assert b["n_layers"] == 1  # css cuts B; the region contains it
    assert b["n_parts"] == 2
    assert b["min_dominant_share"] == pytest.approx(0.6)
    assert b["split_by"] == "css (2)"
    assert "60\u202f% dans CSS Yttrium" in b["crosswalk"]
    a = r.loc["A"]
    assert (a["n_layers"], a["n_parts"], a["split_by"]) == (0, 0, "")


def test_ranking_of_a_containing_layer_has_no_split(toy_atlas):
    r = split_ranking(toy_atlas, "regions")
    assert r["n_layers"].tolist() == [0]


def test_ranking_rejects_unknown_layers(toy_atlas):
    with pytest.raises(InvalidParameterError, match=r"'rls'.*atlas layers: mrc, css"):
        split_ranking(toy_atlas, "mrc", others=["rls"])


def test_zero_threshold_keeps_whole_pieces_whole(toy_atlas):
    # at tau = 0 every piece counts, but a piece that is a whole unit is no split
    assert unit_splits(toy_atlas, "mrc", "css", threshold=0.0).split.to_dict() == {
        "A": False,
        "B": True,
    }
    assert not unit_splits(toy_atlas, "regions", "mrc", threshold=0.0).split["R"]


@pytest.mark.parametrize(("n_targets", "tail"), [(5, "+ 1 autre"), (7, "+ 3 autres")])
def test_long_crosswalks_are_cut_after_four_targets(toy_atlas, n_targets, tail):
    import pandas as pd

    # A is spread over n targets that all reach into B as well
    atoms = pd.DataFrame(
        {
            "mrc": ["A"] * n_targets + ["B"] * n_targets,
            "css": [f"T{i}" for i in range(n_targets)] * 2,
            "area_m2": [float(n_targets - i) for i in range(n_targets)]
            + [1.0] * n_targets,
            "population": 1.0,
        }
    )
    atlas = type(toy_atlas)(atoms=atoms, layers=("mrc", "css"))
    text = unit_splits(atlas, "mrc", "css").text["A"]
    assert text.count(" dans ") == 4
    assert text.endswith(tail)
