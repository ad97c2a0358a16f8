"""Reassignment scenarios: known moves, constraints, and the never-worse property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.grouping import (
    apply_reassignments,
    pair_scores,
    propose_reassignments,
    reassign,
    reassignment_proposals,
)
from geodecoupage.grouping._pieces import pieces_from_atoms, score_pieces


def split_territory(territory, *, regions: list[str] | None = None):
    """4 × 1 cells; CSS c0 = cells 0-1 and 30 % of cell 2, c1 = the rest.

    Cell 2 (``b02_00``) is split 70/30 between c1 and c0; cell 3 has 300 persons.
    """
    labels = {"css": ["c0", "c0", "c1", "c1"], "rls": ["r0", "r0", "r0", "r1"]}
    if regions is not None:
        labels["regions"] = regions
    return territory(
        4,
        1,
        labels,
        [100, 100, 100, 300],
        cuts={"css": {"b02_00": ("c0", 0.3)}, "rls": {"b01_00": ("r1", 0.1)}},
    )


def test_a_split_unit_moves_wholly_to_its_dominant_unit(territory) -> None:
    atlas = split_territory(territory)
    props = propose_reassignments(atlas, base="muni", layers=["css", "rls"])
    assert props["rank"].tolist() == [1, 2]
    first = props.iloc[0]
    # moving 10 persons (RLS) beats moving 30 (CSS): same incoherence removed
    assert (first["base"], first["layer"], first["to_unit"]) == ("b01_00", "rls", "r0")
    assert first["persons_moved"] == pytest.approx(10.0)
    css = props[props["layer"] == "css"].iloc[0]
    assert (css["base"], css["to_unit"], css["from_units"]) == ("b02_00", "c1", "c0")
    assert css["persons_moved"] == pytest.approx(30.0)
    assert css["incoherence_removed"] == 1
    assert css["kept_share"] == pytest.approx(0.7)


def test_apply_and_rescore(territory) -> None:
    atlas = split_territory(territory)
    sc = reassign(atlas, base="muni", layers=["css", "rls"], n=None, region_layer=None)
    assert (sc.proposals["status"] == "applied").all()
    s = sc.scores.set_index(["source", "target", "metric"])
    assert s.loc[("muni", "css", "n_split"), "before"] == 1
    assert s.loc[("muni", "css", "n_split"), "after"] == 0
    assert s.loc[("muni", "css", "pop_outside_dominant"), "after"] == pytest.approx(0.0)
    pops = sc.populations
    assert pops.loc[("css", "c0"), "population_before"] == pytest.approx(230.0)
    assert pops.loc[("css", "c0"), "population_after"] == pytest.approx(200.0)
    assert pops.loc[("css", "c1"), "change"] == pytest.approx(30.0)
    # population and area are conserved by a reassignment
    assert pops["change"].groupby(level="layer").sum().abs().max() < 1e-9
    assert sc.atoms_after["area_m2"].sum() == pytest.approx(
        atlas.atoms["area_m2"].sum()
    )
    assert "Réaffectations proposées" in sc.summary()
    assert "Persons moved" in sc.summary("en")


def test_constraints_region_and_population(territory) -> None:
    # cell 2 is in region 01, but its dominant CSS c1 is mostly in region 02
    atlas = split_territory(territory, regions=["01", "01", "01", "02"])
    sc = reassign(atlas, base="muni", layers=["css"], n=None, same_region=True)
    row = sc.proposals.iloc[0]
    assert bool(row["crosses_region"])
    assert row["status"] == "skipped: crosses region"
    free = reassign(atlas, base="muni", layers=["css"], n=None, same_region=False)
    assert free.proposals.iloc[0]["status"] == "applied"
    # c0 would lose 30 of 230 persons (13 %): refused at ±10 %, accepted at ±15 %
    tight = reassign(
        atlas,
        base="muni",
        layers=["css"],
        same_region=False,
        max_population_change=0.10,
    )
    assert tight.proposals.iloc[0]["status"].startswith("skipped: population change")
    assert "c0" in tight.proposals.iloc[0]["status"]
    loose = reassign(
        atlas,
        base="muni",
        layers=["css"],
        same_region=False,
        max_population_change=0.15,
    )
    assert loose.proposals.iloc[0]["status"] == "applied"


def test_select_and_n(territory) -> None:
    atlas = split_territory(territory)
    only2 = reassign(
        atlas, base="muni", layers=["css", "rls"], select=[2], region_layer=None
    )
    assert only2.applied["rank"].tolist() == [2]
    one = reassign(atlas, base="muni", layers=["css", "rls"], n=1, region_layer=None)
    assert one.applied["rank"].tolist() == [1]
    none = reassign(atlas, base="muni", layers=["css", "rls"], n=0, region_layer=None)
    assert none.applied.empty
    with pytest.raises(InvalidParameterError, match="n must be"):
        reassign(atlas, base="muni", layers=["css"], n=-1)


def test_scenario_files(territory, tmp_path) -> None:
    sc = reassign(
        split_territory(territory), base="muni", layers=["css"], region_layer=None
    )
    files = sc.to_files(tmp_path)
    assert [f.name for f in files] == [
        "reassign_proposals.csv",
        "reassign_scores.csv",
        "reassign_populations.csv",
        "reassign_summary.txt",
    ]
    back = pd.read_csv(files[0])
    assert back["status"].tolist() == ["applied"]
    with pytest.raises(OutputExistsError):
        sc.to_files(tmp_path)


# --- property: a reassignment never increases incoherence ---------------------


@st.composite
def atom_tables(draw: st.DrawFn) -> pd.DataFrame:
    n_base = draw(st.integers(2, 8))
    n_atoms = draw(st.integers(n_base, 30))
    rows = []
    for k in range(n_atoms):
        b = k if k < n_base else draw(st.integers(0, n_base - 1))
        rows.append(
            {
                "muni": f"m{b}",
                "css": f"c{draw(st.integers(0, 3))}",
                "rls": f"r{draw(st.integers(0, 2))}",
                "area_m2": draw(st.floats(1.0, 1e6)),
                "population": draw(st.sampled_from([0.0, 1.0, 10.0, 250.0, 4000.0])),
            }
        )
    atoms = pd.DataFrame(rows)
    for c in ("muni", "css", "rls"):
        atoms[c] = atoms[c].astype("string")
    return atoms


def _straddles(atoms: pd.DataFrame, threshold: float) -> pd.Series:
    pieces = pieces_from_atoms(atoms, base="muni", layers=["css", "rls"])
    s = score_pieces(pieces, threshold=threshold)
    return s.groupby(["layer", "base"])["touches"].sum() - 1


@settings(max_examples=15, deadline=None)
@given(
    atom_tables(),
    st.sampled_from([0.0, 0.01, 0.2]),
    st.integers(0, 5),
)
def test_reassignment_never_increases_incoherence(
    atoms: pd.DataFrame, threshold: float, n: int
) -> None:
    pieces = pieces_from_atoms(atoms, base="muni", layers=["css", "rls"])
    props = reassignment_proposals(pieces, threshold=threshold).head(n)
    after_atoms = apply_reassignments(atoms, props, base="muni")
    before = _straddles(atoms, threshold)
    after = _straddles(after_atoms, threshold).reindex(before.index)
    assert (after <= before).all()  # per base unit and layer
    assert int(after.sum()) == int(before.sum()) - int(
        props["incoherence_removed"].sum()
    )
    pairs = [("muni", "css"), ("muni", "rls")]
    sb = pair_scores(atoms, pairs, threshold=threshold)
    sa = pair_scores(after_atoms, pairs, threshold=threshold)
    for metric in (
        "n_split",
        "n_pieces",
        "pop_outside_dominant",
        "h_b_given_a_pop",
    ):
        for pair in pairs:
            b, a = sb.loc[pair, metric], sa.loc[pair, metric]
            if np.isnan(b):  # nobody lives there: undefined before and after
                assert np.isnan(a) or a == 0
                continue
            assert a <= b + 1e-9 * max(1.0, abs(b))
    # conservation: population and area are unchanged
    assert after_atoms["population"].sum() == pytest.approx(atoms["population"].sum())
    assert after_atoms["area_m2"].sum() == pytest.approx(atoms["area_m2"].sum())


def test_reassign_rescored_every_pair(territory) -> None:
    sc = reassign(
        split_territory(territory),
        base="muni",
        layers=["css", "rls"],
        region_layer=None,
    )
    pairs = set(zip(sc.scores["source"], sc.scores["target"], strict=True))
    assert pairs == {
        ("muni", "css"),
        ("muni", "rls"),
        ("css", "rls"),
        ("rls", "css"),
    }


def test_apply_reassignments_keeps_missing_codes() -> None:
    atoms = pd.DataFrame(
        {
            "muni": pd.array(["m1", "m1", "m2"], dtype="string"),
            "css": pd.array(["c1", None, "c2"], dtype="string"),
            "area_m2": [1.0, 1.0, 1.0],
            "population": [1.0, 1.0, 1.0],
        }
    )
    moves = pd.DataFrame({"base": ["m1"], "layer": ["css"], "to_unit": ["c2"]})
    out = apply_reassignments(atoms, moves, base="muni")
    assert out["css"].tolist()[0] == "c2"
    assert pd.isna(out["css"].iloc[1])
    assert atoms["css"].tolist()[0] == "c1"  # input untouched
    with pytest.raises(InvalidParameterError, match="no column 'rls'"):
        apply_reassignments(atoms, moves.assign(layer="rls"), base="muni")


def test_pair_scores_identity_pair_is_perfect() -> None:
    atoms = pd.DataFrame(
        {
            "a": pd.array(["x", "y"], dtype="string"),
            "b": pd.array(["x", "y"], dtype="string"),
            "area_m2": [1.0, 2.0],
            "population": [5.0, 5.0],
        }
    )
    s = pair_scores(atoms, [("a", "b")]).loc[("a", "b")]
    assert s["n_split"] == 0
    assert s["vi_pop"] == pytest.approx(0.0)
    assert np.isclose(s["nmi_pop"], 1.0)


def test_official_unit_and_min_population(territory) -> None:
    atlas = split_territory(territory)
    parents = pd.DataFrame(
        {"css_code": ["c0", "c0", "c0", "c1"]},
        index=["b00_00", "b01_00", "b02_00", "b03_00"],
    )
    props = propose_reassignments(
        atlas, base="muni", layers=["css", "rls"], parents=parents, region_layer=None
    ).set_index(["base", "layer"])
    # officially in c0, but most of its population lives in c1
    assert props.loc[("b02_00", "css"), "official_unit"] == "c0"
    assert props.loc[("b02_00", "css"), "to_unit"] == "c1"
    assert pd.isna(props.loc[("b01_00", "rls"), "official_unit"])  # no rls_code
    # below min_population, a proposal ranks after every other one
    labels = {"css": ["c0", "c0", "c1", "c1"], "rls": ["r0", "r0", "r0", "r1"]}
    cuts = {"css": {"b02_00": ("c0", 0.3)}, "rls": {"b01_00": ("r1", 0.1)}}
    atlas2 = territory(4, 1, labels, [100, 500, 100, 300], cuts=cuts)
    kw = {"base": "muni", "layers": ["css", "rls"], "region_layer": None}
    first = propose_reassignments(atlas2, **kw)
    assert first["base"].tolist() == ["b02_00", "b01_00"]  # 30 before 50 persons
    late = propose_reassignments(atlas2, min_population=200, **kw)
    assert late["base"].tolist() == ["b01_00", "b02_00"]
