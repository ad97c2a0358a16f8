"""Coherent envelopes on generated territories with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.grouping import GroupingProposal, coherent_envelopes
from geodecoupage.grouping._pieces import pieces_from_atoms, score_pieces
from geodecoupage.grouping.envelopes import envelope_sensitivity, envelopes_from_pieces


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    """Partitions equal up to relabelling (same index)."""
    a = a.sort_index()
    b = b.reindex(a.index)
    pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}).drop_duplicates()
    return bool(pairs["a"].is_unique and pairs["b"].is_unique and b.notna().all())


def cols(nx: int, ny: int, groups: list[list[int]], prefix: str) -> list[str]:
    """Label each cell by the column group holding its column."""
    of = {c: f"{prefix}{k}" for k, g in enumerate(groups) for c in g}
    return [of[i] for _ in range(ny) for i in range(nx)]


def test_envelopes_of_a_layer_with_itself_are_the_layer(territory) -> None:
    lab = cols(6, 2, [[0, 1], [2, 3, 4], [5]], "m")
    atlas = territory(6, 2, {"mrc": lab})
    env = coherent_envelopes(atlas, base="mrc", layers=["mrc"], geometry=False)
    assert env.n_groups == 3
    assert same_partition(
        env.labels, pd.Series(sorted(set(lab)), index=sorted(set(lab)))
    )
    # the same layer seen from a finer base: envelopes are its units
    env2 = coherent_envelopes(atlas, base="muni", layers=["mrc"], geometry=False)
    truth = atlas.atoms.groupby("muni")["mrc"].first()
    assert same_partition(env2.labels, truth)


def test_envelopes_are_the_finest_common_coarsening(territory) -> None:
    l1 = cols(6, 2, [[0, 1], [2, 3], [4, 5]], "a")
    l2 = cols(6, 2, [[0, 1], [2, 3, 4, 5]], "c")
    atlas = territory(6, 2, {"rls": l1, "css": l2})
    env = coherent_envelopes(atlas, base="muni", layers=["rls", "css"])
    truth = pd.Series(
        ["W" if int(c[1:3]) < 2 else "E" for c in env.labels.index],
        index=env.labels.index,
    )
    assert same_partition(env.labels, truth)
    g = env.groups
    assert g["n_units"].tolist() == [8, 4]  # E001 = the most populated
    assert g["population"].sum() == pytest.approx(1200.0)
    assert g["n_rls"].tolist() == [2, 1]
    assert g["n_css"].tolist() == [1, 1]
    assert (g[["leak_rls", "leak_css"]] == 0).all().all()
    # groups are dissolved: their areas add up to the territory
    assert g.geometry.area.sum() == pytest.approx(12 * 1e6)


def test_a_minority_piece_below_the_threshold_does_not_chain(territory) -> None:
    west_east = cols(6, 2, [[0, 1, 2], [3, 4, 5]], "u")
    atlas = territory(
        6,
        2,
        {"mrc": west_east, "css": west_east},
        cuts={"css": {"b02_00": ("u1", 0.05)}},  # 5 % of one cell lies in the east CSS
    )
    env = coherent_envelopes(atlas, base="muni", layers=["mrc", "css"], threshold=0.01)
    assert env.n_groups == 2
    assert env.groups["leak_css"].max() <= 0.01
    finer = coherent_envelopes(
        atlas, base="muni", layers=["mrc", "css"], threshold=0.001
    )
    assert finer.n_groups == 1
    links = finer.tables["links"]
    best = links[links["cut"] == 1]
    assert len(best) == 1  # a bridge: one overlap chains the two halves
    row = best.iloc[0]
    assert (row["base"], row["layer"], row["unit"]) == ("b02_00", "css", "u1")
    assert row["piece_population"] == pytest.approx(5.0)
    assert row["split_off_population"] == pytest.approx(600.0)
    assert row["moved_population"] == pytest.approx(5.0)


def test_every_layer_unit_lies_in_one_envelope_up_to_the_threshold(territory) -> None:
    rng = np.random.default_rng(3)
    lab1 = [f"a{x}" for x in rng.integers(0, 4, 24)]
    lab2 = cols(6, 4, [[0, 1, 2], [3, 4, 5]], "c")
    pop = rng.integers(0, 500, 24)
    atlas = territory(6, 4, {"rls": lab1, "css": lab2}, pop)
    for tau in (0.0, 0.05, 0.2):
        env = coherent_envelopes(
            atlas, base="muni", layers=["rls", "css"], threshold=tau
        )
        units = env.tables["units"]
        assert (units["share_inside"] >= 1 - tau * 4 - 1e-9).all()
        assert env.labels.index.is_unique
        assert set(env.labels) == set(env.groups.index)


def test_envelopes_from_pieces_matches_hand_made_table() -> None:
    pieces = pd.DataFrame(
        {
            "base": ["m1", "m2", "m2", "m3", "m4"],
            "layer": ["css"] * 5,
            "unit": ["A", "A", "B", "B", "C"],
            "area_m2": [1.0, 1.0, 1.0, 1.0, 1.0],
            "population": [10.0, 5.0, 5.0, 10.0, 10.0],
        }
    )
    env = envelopes_from_pieces(pieces, threshold=0.01)
    assert env.labels.to_dict() == {
        "m1": "E001",
        "m2": "E001",
        "m3": "E001",
        "m4": "E002",
    }
    assert env.groups.loc["E001", "population"] == pytest.approx(30.0)


def test_sensitivity_is_monotone_in_the_threshold(territory) -> None:
    rng = np.random.default_rng(0)
    atlas = territory(
        5,
        4,
        {
            "rls": [f"r{x}" for x in rng.integers(0, 3, 20)],
            "css": [f"c{x}" for x in rng.integers(0, 3, 20)],
        },
        rng.integers(1, 100, 20),
    )
    pieces = pieces_from_atoms(atlas.atoms, base="muni", layers=["rls", "css"])
    sens = envelope_sensitivity(pieces, thresholds=(0.0, 0.01, 0.1, 0.3))
    assert sens["n_envelopes"].is_monotonic_increasing


def test_score_pieces_flags() -> None:
    pieces = pd.DataFrame(
        {
            "base": ["m1", "m1", "m2"],
            "layer": ["rls"] * 3,
            "unit": ["A", "B", "B"],
            "area_m2": [99.0, 1.0, 100.0],
            "population": [0.0, 0.0, 50.0],  # m1 is unpopulated: shares by area
        }
    )
    s = score_pieces(pieces, threshold=0.05).set_index(["base", "unit"])
    assert s.loc[("m1", "A"), "share_of_base"] == pytest.approx(0.99)
    assert bool(s.loc[("m1", "A"), "dominant_for_base"])
    assert not bool(s.loc[("m1", "B"), "touches"])
    assert not bool(s.loc[("m1", "B"), "link"])  # holds 0 % of B's population


def test_bad_parameters_are_refused(territory) -> None:
    atlas = territory(2, 1, {"css": ["c0", "c0"]})
    with pytest.raises(InvalidParameterError, match="threshold must be a share"):
        coherent_envelopes(atlas, base="muni", layers=["css"], threshold=0.7)
    with pytest.raises(InvalidParameterError, match="weight must be"):
        coherent_envelopes(atlas, base="muni", layers=["css"], weight="people")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="not in the atlas"):
        coherent_envelopes(atlas, base="muni", layers=["rls"])
    with pytest.raises(InvalidParameterError, match="Base layer 'mrc'"):
        coherent_envelopes(atlas, base="mrc", layers=["css"])


def test_proposal_exports_and_summaries(territory, tmp_path) -> None:
    atlas = territory(4, 1, {"css": ["c0", "c0", "c1", "c1"]})
    env = coherent_envelopes(atlas, base="muni", layers=["css"])
    assert isinstance(env, GroupingProposal)
    frame = env.to_frame()
    assert frame.index.equals(env.labels.index)
    assert {"group", "group_population", "group_n_units"} <= set(frame.columns)
    assert "Enveloppes cohérentes" in env.summary()
    assert "Coherent envelopes" in env.summary("en")
    gpkg = env.to_file(tmp_path / "env.gpkg")
    back = gpd.read_file(gpkg, layer="groups")
    assert len(back) == 2
    labels = gpd.read_file(gpkg, layer="labels")
    assert len(labels) == 4
    pq = env.to_file(tmp_path / "env.parquet")
    assert len(gpd.read_parquet(pq)) == 2
    with pytest.raises(OutputExistsError, match="already exists"):
        env.to_file(gpkg)
    env.to_file(gpkg, overwrite=True)
    with pytest.raises(InvalidParameterError, match=r"\.gpkg"):
        env.to_file(tmp_path / "env.shp")


def test_explore_hook_maps_the_groups(territory) -> None:
    pytest.importorskip("folium")
    atlas = territory(4, 1, {"css": ["c0", "c0", "c1", "c1"]})
    env = coherent_envelopes(atlas, base="muni", layers=["css"])
    html = env.explore().get_root().render()
    assert "regroupement" in html
    assert "E001" in html


def test_atoms_as_base_units(territory) -> None:
    l1 = cols(6, 2, [[0, 1], [2, 3], [4, 5]], "a")
    l2 = cols(6, 2, [[0, 1], [2, 3, 4, 5]], "c")
    atlas = territory(6, 2, {"rls": l1, "css": l2})
    env = coherent_envelopes(atlas, base="atom", layers=["rls", "css"], geometry=False)
    assert env.n_groups == 2
    assert len(env.labels) == len(atlas.atoms)
    west = atlas.atoms["css"] == "c0"
    labels = env.labels.reindex(atlas.atoms.index.astype(str)).to_numpy()
    assert len(set(labels[west.to_numpy()])) == 1
    assert set(labels[west.to_numpy()]).isdisjoint(labels[~west.to_numpy()])


@pytest.mark.parametrize("residue", [0.2, 0.6])
def test_an_empty_base_unit_never_chains_two_envelopes(residue: float) -> None:
    # m3 has nobody (residue persons of allocation, < 1, counted once per layer:
    # 0.6 in each of two layers is still 0.6 persons): mostly in css B (area),
    # but its MRC is that of m1; with population weights it joins one envelope
    pieces = pd.DataFrame(
        {
            "base": ["m1", "m2", "m3", "m3"],
            "layer": ["css", "css", "css", "mrc"],
            "unit": ["A", "B", "B", "M1"],
            "area_m2": [10.0, 10.0, 5.0, 5.0],
            "population": [100.0, 100.0, residue, residue],
        }
    )
    pieces = pd.concat(
        [
            pieces,
            pd.DataFrame(
                {
                    "base": ["m1", "m2"],
                    "layer": ["mrc", "mrc"],
                    "unit": ["M1", "M2"],
                    "area_m2": [10.0, 10.0],
                    "population": [100.0, 100.0],
                }
            ),
        ],
        ignore_index=True,
    )
    by_pop = envelopes_from_pieces(pieces)
    assert by_pop.groups["n_units"].sort_values().tolist() == [1, 2]
    assert by_pop.labels["m1"] != by_pop.labels["m2"]
    by_area = envelopes_from_pieces(pieces, weight="area")
    assert len(by_area.groups) == 1  # by area, m3 does chain them
