"""Per-unit incoherence on hand-made contingency tables (no geometry)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from geodecoupage.metrics.incoherence import UNIT_COLUMNS, unit_incoherence


def table(rows: dict[tuple[str, str], float]) -> pd.Series:
    return pd.Series(rows, dtype="float64").rename_axis(["source_code", "target_code"])


AREA = table(
    {
        ("1", "x"): 3.0,
        ("1", "y"): 1.0,
        ("2", "y"): 4.0,
        ("3", "x"): 98.5,
        ("3", "y"): 0.5,
        ("3", "z"): 1.0,
    }
)


def test_columns_and_index() -> None:
    u = unit_incoherence(AREA)
    assert tuple(u.columns) == UNIT_COLUMNS
    assert u.index.name == "code"
    assert u.index.tolist() == ["1", "2", "3"]


def test_counts_shares_and_flags() -> None:
    u = unit_incoherence(AREA, threshold=0.01)
    assert u.loc["1", "n_touched"] == 2
    assert u.loc["1", "dominant"] == "x"
    assert u.loc["1", "dominant_share_area"] == 0.75
    assert u.loc["1", "n_eff_area"] == pytest.approx(1.6)
    assert not u.loc["1", "nested"]
    assert u.loc["2", "nested"]
    assert u.loc["2", "n_eff_area"] == 1.0
    # unit 3: 0.5 % in y (not significant), 1 % in z (not > 1 %): one touched,
    # but 1.5 % lies outside x, more than the 1 % threshold: not nested.
    assert u.loc["3", "n_touched"] == 1
    assert not u.loc["3", "nested"]
    assert u.loc["3", "outside_share_area"] == pytest.approx(0.015)
    assert unit_incoherence(AREA, threshold=0.02).loc["3", "nested"]


def test_threshold_zero_counts_every_overlap() -> None:
    u = unit_incoherence(AREA, threshold=0.0)
    assert u["n_touched"].tolist() == [2, 1, 3]
    assert u["nested"].tolist() == [False, True, False]


def test_min_piece_area_ignores_small_pieces() -> None:
    u = unit_incoherence(AREA, threshold=0.0, min_piece_m2=2.0)
    assert u["n_touched"].tolist() == [1, 1, 1]
    # Unit 1's 1 m² piece is now ignored: nested.
    assert u["nested"].tolist() == [True, True, True]


def test_ties_pick_the_smallest_code() -> None:
    u = unit_incoherence(table({("a", "q"): 1.0, ("a", "p"): 1.0}))
    assert u.loc["a", "dominant"] == "p"
    assert u.loc["a", "dominant_share_area"] == 0.5


def test_population_columns() -> None:
    pop = table({("1", "x"): 10.0, ("1", "y"): 30.0, ("2", "y"): 0.0})
    u = unit_incoherence(AREA, population=pop)
    assert u.loc["1", "dominant_pop"] == "y"  # most people live in the smaller part
    assert u.loc["1", "dominant_share_pop"] == 0.75
    assert u.loc["1", "pop_outside_dominant"] == pytest.approx(10.0)
    assert u.loc["2", "population"] == 0.0
    assert math.isnan(u.loc["2", "dominant_share_pop"])
    assert u.loc["3", "population"] == 0.0
    no_pop = unit_incoherence(AREA)
    assert no_pop["population"].isna().all()
