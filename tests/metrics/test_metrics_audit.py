"""Atlas-level scores on toy partitions with known answers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.metrics.audit import (
    OUTPUT_FILES,
    agreement_matrix,
    audit,
    concertation_risk,
    incoherence_scores,
    pair_scores,
    sensitivity,
    sensitivity_curves,
)

Factory = Callable[..., Any]


@pytest.fixture
def shifted(make_atlas: Factory, toy_grid: Factory, toy_layer: Factory) -> Any:
    """A: three 1 km cells in a row; B: borders shifted to x = 1.25 and 2.25 km."""
    a = toy_grid("a", 3, 1)
    b = toy_layer(
        "b",
        {"B1": [(0, 0, 1.25, 1)], "B2": [(1.25, 0, 2.25, 1)], "B3": [(2.25, 0, 3, 1)]},
    )
    one = toy_layer("one", {"U": [(0, 0, 3, 1)]}, {"U": "Tout"})
    return make_atlas({"a": a, "b": b, "one": one})


def test_a_layer_against_its_copy_is_nested_with_vi_zero(
    make_atlas: Factory, toy_grid: Factory
) -> None:
    atlas = make_atlas({"a": toy_grid("a", 3, 3), "b": toy_grid("b", 3, 3)})
    row = pair_scores(atlas, "a", "b")
    assert row["nesting_index_count"] == 1.0
    assert row["nesting_index_area"] == 1.0
    assert row["vi_area"] == pytest.approx(0.0, abs=1e-9)
    assert row["nmi_area"] == pytest.approx(1.0)
    assert row["boundary_coincidence"] == pytest.approx(1.0)
    assert row["internal_boundary_km"] == pytest.approx(12.0, rel=1e-6)
    inc = incoherence_scores(atlas, "a", "b")
    assert len(inc) == 9
    assert inc["nested"].all()
    assert (inc["n_touched"] == 1).all()
    assert (inc["n_fragments"] == 1).all()
    assert (inc["dominant"] == inc.index).all()
    assert inc["coverage"].to_numpy() == pytest.approx(1.0)


def test_strict_refinement_is_nested_one_way_only(
    make_atlas: Factory, toy_grid: Factory
) -> None:
    atlas = make_atlas(
        {"fine": toy_grid("fine", 4, 4), "coarse": toy_grid("coarse", 2, 2, size=2)}
    )
    down = pair_scores(atlas, "fine", "coarse", tolerance_m=0.0)
    up = pair_scores(atlas, "coarse", "fine", tolerance_m=0.0)
    assert down["nesting_index_count"] == 1.0
    assert down["h_b_given_a_area"] == pytest.approx(0.0, abs=1e-9)
    assert up["nesting_index_count"] == 0.0
    assert up["h_b_given_a_area"] == pytest.approx(math.log(4), rel=1e-3)
    assert up["n_split"] == 4
    assert up["n_pieces"] == 16
    # 24 km of fine borders, of which 8 km are coarse borders.
    assert down["internal_boundary_km"] == pytest.approx(24.0, rel=1e-6)
    assert down["boundary_coincidence"] == pytest.approx(1 / 3, rel=1e-6)
    assert up["boundary_coincidence"] == pytest.approx(1.0)
    inc = incoherence_scores(atlas, "coarse", "fine")
    assert inc["n_eff_area"].to_numpy() == pytest.approx(4.0, rel=1e-3)
    assert inc["n_fragments"].tolist() == [4, 4, 4, 4]


def test_shifted_grid_gives_the_known_splits(shifted: Any) -> None:
    inc = incoherence_scores(shifted, "a", "b")
    assert inc.index.tolist() == ["00", "10", "20"]
    assert inc["n_touched"].tolist() == [1, 2, 2]
    assert inc["dominant"].tolist() == ["B1", "B2", "B3"]
    assert inc["dominant_share_area"].to_numpy() == pytest.approx(
        [1, 0.75, 0.75], rel=1e-3
    )
    assert inc["nested"].tolist() == [True, False, False]
    assert inc["n_fragments"].tolist() == [1, 2, 2]
    assert inc["n_fragments_dominant"].tolist() == [1, 1, 1]
    back = incoherence_scores(shifted, "b", "a")
    assert back["dominant_share_area"].to_numpy() == pytest.approx(
        [0.8, 0.75, 1], rel=1e-3
    )
    row = pair_scores(shifted, "a", "b", tolerance_m=100.0)
    assert row["n_split"] == 2
    assert row["boundary_coincidence"] == 0.0
    assert (
        pair_scores(shifted, "a", "b", tolerance_m=300.0)["boundary_coincidence"] == 1.0
    )
    assert pair_scores(shifted, "a", "one")["nesting_index_count"] == 1.0


def test_sensitivity_recounts_splits_per_threshold(shifted: Any) -> None:
    sens = sensitivity(shifted, layers=["a", "b"], thresholds=(0.0, 0.3))
    curves = sensitivity_curves(sens, "n_split")
    assert curves.loc[0.0, "a->b"] == 2
    assert curves.loc[0.3, "a->b"] == 0  # the quarter pieces no longer count
    assert curves.loc[0.3, "b->a"] == 0
    assert curves.loc[0.0, "b->a"] == 2
    with pytest.raises(InvalidParameterError, match="Unknown sensitivity measure"):
        sensitivity_curves(sens, "nope")
    with pytest.raises(InvalidParameterError, match=r"\[0, 0.5\)"):
        sensitivity(shifted, layers=["a", "b"], thresholds=(0.7,))


def test_concertation_on_the_atlas(shifted: Any) -> None:
    risk = concertation_risk(
        shifted,
        tables="a",
        institutions=["b", "one"],
        basis="area",
        names={"a": {"10": "Milieu"}},
    )
    t = risk.tables
    assert t.loc["00", "n_b"] == 1
    assert t.loc["10", "n_b"] == 2
    assert t.loc["10", "n_one"] == 1
    assert t.loc["00", "score"] == 0.0
    assert risk.explain_table("10").startswith("Le territoire a Milieu (10)")
    inst = risk.institutions
    assert inst.loc[("one", "U"), "n_tables"] == 3
    with pytest.raises(InvalidParameterError, match="other than the table layer"):
        concertation_risk(shifted, tables="a", institutions=["a"])


def test_within_restricts_rows_but_not_the_scores(shifted: Any) -> None:
    inc = incoherence_scores(shifted, "b", "a", within={"a": ["00"]})
    assert inc.index.tolist() == ["B1"]  # only B1 has atoms in cell 00
    assert inc.loc["B1", "dominant_share_area"] == pytest.approx(0.8, rel=1e-3)
    risk = concertation_risk(
        shifted, tables="a", institutions=["b"], within={"a": ["10"]}
    )
    assert risk.tables.index.tolist() == ["10"]
    assert set(risk.institutions.index) == {("b", "B1"), ("b", "B2")}
    with pytest.raises(InvalidParameterError, match="No atom of the atlas"):
        incoherence_scores(shifted, "b", "a", within={"a": ["zz"]})


def test_audit_result_tables_summary_and_files(shifted: Any, tmp_path: Path) -> None:
    res = audit(shifted, layers=["a", "b", "one"], tables="a", threshold=0.01)
    assert len(res.pairs) == 6
    assert set(res.incoherence["layer"]) == {"a", "b", "one"}
    m = res.matrix("nesting_index_area")
    assert m.loc["a", "one"] == 1.0
    assert math.isnan(m.loc["a", "a"])
    assert res.heaviest_table() in {"10", "20"}
    assert res.most_summoned() == ("one", "U")
    fr, en = res.summary(), res.summary(lang="en")
    assert fr.startswith("Audit geodecoupage — couches : a, b, one")
    assert "Table la plus chargée" in fr
    assert "Heaviest table" in en
    data = json.loads(res.to_json())
    assert data["heaviest_table"]["code"] == res.heaviest_table()
    assert data["params"]["threshold"] == 0.01
    assert set(data["pairs"]) == {
        f"{x}->{y}" for x in ["a", "b", "one"] for y in ["a", "b", "one"] if x != y
    }
    out1, out2 = tmp_path / "one", tmp_path / "two"
    written = res.write(out1)
    assert [p.name for p in written] == list(OUTPUT_FILES)
    audit(shifted, layers=["a", "b", "one"], tables="a").write(out2)
    for name in OUTPUT_FILES:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name
    with pytest.raises(OutputExistsError, match="already exists"):
        res.write(out1)
    res.write(out1, overwrite=True)
    assert "explanation" in (out1 / "risk_tables.csv").read_text().splitlines()[0]


def test_agreement_matrix_refuses_unknown_measures(shifted: Any) -> None:
    res = audit(shifted, layers=["a", "b"], fragments=False)
    assert res.risk is None
    assert "heaviest_table" not in res.summary_dict()
    with pytest.raises(InvalidParameterError, match="Unknown measure 'nope'"):
        agreement_matrix(res.pairs, "nope")
    with pytest.raises(InvalidParameterError, match="at least two layers"):
        audit(shifted, layers=["a"])
    with pytest.raises(InvalidParameterError, match="not in the atlas"):
        audit(shifted, layers=["a", "zz"])
