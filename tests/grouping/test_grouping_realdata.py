"""Groupings on the real data mirror: one region (Estrie, 05), municipal base."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geodecoupage.grouping import (
    coherent_envelopes,
    contiguity_graph,
    reassign,
    regionalise,
)
from geodecoupage.grouping.regionalise import compare_groupings

pytestmark = pytest.mark.realdata

REGION = "05"
LAYERS = ["mrc", "rls", "css"]


@pytest.fixture(scope="module")
def estrie(quebec_data: Path) -> dict[str, Any]:
    """Atlas of the layers around region 05, with the census population."""
    from geodecoupage.layers import read_layer
    from geodecoupage.metrics.region import select_region
    from geodecoupage.overlay.atlas import build_atlas
    from geodecoupage.overlay.population import population_surface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # known quality warnings of the mirror
        data = {
            k: read_layer(k, data_dir=quebec_data)
            for k in ["municipalites", "regions", *LAYERS]
        }
        sel = select_region(data, region=REGION)
        layers = {k: v for k, v in sel.layers.items() if k in data}
        atlas = build_atlas(layers, population=population_surface(data_dir=quebec_data))
    munis = layers["municipalites"]
    units = sorted(munis.index[munis["regions_code"].astype(str) == REGION])
    return {"atlas": atlas, "units": units, "munis": munis}


def test_envelopes_cover_every_municipality_once(estrie: dict[str, Any]) -> None:
    env = coherent_envelopes(
        estrie["atlas"], base="municipalites", layers=LAYERS, units=estrie["units"]
    )
    assert sorted(env.labels.index) == estrie["units"]
    assert env.groups["n_units"].sum() == len(estrie["units"])
    atoms = estrie["atlas"].atoms
    inside = atoms["municipalites"].astype("string").isin(estrie["units"]).fillna(False)
    assert env.groups["population"].sum() == pytest.approx(
        atoms.loc[inside.to_numpy(), "population"].sum(), rel=1e-9
    )
    # with a zero threshold and area weights, the envelopes can only be coarser
    exact = coherent_envelopes(
        estrie["atlas"],
        base="municipalites",
        layers=LAYERS,
        units=estrie["units"],
        threshold=0.0,
        weight="area",
        geometry=False,
    )
    assert exact.n_groups <= env.n_groups


def test_reassignment_never_increases_municipal_splits(estrie: dict[str, Any]) -> None:
    sc = reassign(
        estrie["atlas"],
        base="municipalites",
        layers=LAYERS,
        units=estrie["units"],
        n=20,
        region_layer="regions",
        max_population_change=0.05,
    )
    ap = sc.applied
    assert 0 < len(ap) <= 20
    assert not ap["crosses_region"].any()
    assert (sc.populations["change_share"].abs() <= 0.05 + 1e-9).all()
    s = sc.scores.set_index(["source", "target", "metric"])
    for layer in LAYERS:
        for metric in ("n_split", "pop_outside_dominant"):
            before = s.loc[("municipalites", layer, metric), "before"]
            after = s.loc[("municipalites", layer, metric), "after"]
            assert after <= before + 1e-6
    # ranking: populated proposals by incoherence removed per person, descending
    populated = sc.proposals[sc.proposals["base_population"] >= 1]
    assert populated["removed_per_person"].is_monotonic_decreasing


def test_regionalisation_is_contiguous_above_the_floor(estrie: dict[str, Any]) -> None:
    floor = 20_000.0
    prop = regionalise(
        estrie["atlas"],
        floor=floor,
        base="municipalites",
        layers=LAYERS,
        units=estrie["units"],
        seed=0,
    )
    assert (prop.groups["population"] >= floor).all()
    assert sorted(prop.labels.index) == estrie["units"]
    edges = prop.tables["contiguity"]
    lab = prop.labels
    for group, members in lab.groupby(lab):
        codes = set(members.index)
        sub = edges[edges["a"].isin(codes) & edges["b"].isin(codes)]
        seen = {next(iter(codes))}
        frontier = list(seen)
        while frontier:
            c = frontier.pop()
            nxt = set(sub.loc[sub["a"] == c, "b"]) | set(sub.loc[sub["b"] == c, "a"])
            for d in nxt - seen:
                seen.add(d)
                frontier.append(d)
        assert seen == codes, f"group {group} is not contiguous"
    cmp = compare_groupings(estrie["atlas"], prop, reference="mrc").set_index(
        ["layer", "metric"]
    )
    # the MRC of Estrie do not all reach 20 000 persons; the proposal does
    assert cmp.loc[("all", "min_population"), "after"] >= floor
    assert cmp.loc[("all", "min_population"), "before"] < floor


def test_contiguity_graph_of_the_region_is_connected(estrie: dict[str, Any]) -> None:
    munis = estrie["munis"]
    geoms = munis.geometry[munis.index.isin(estrie["units"])]
    edges = contiguity_graph(geoms)
    assert set(edges["a"]) | set(edges["b"]) == set(estrie["units"])
    assert (edges["length_m"] > 0).all()
    assert isinstance(edges, pd.DataFrame)
