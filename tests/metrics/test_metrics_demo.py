"""The generated demo territory: its documented splits are found exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from geodecoupage.datasets.demo import DEMO_EXPECTED, demo_layers, demo_population
from geodecoupage.metrics import audit, concertation_risk, incoherence_scores

LAYERS = ("mrc", "municipalites", "rls", "css")


@pytest.fixture(scope="module")
def demo_atlas(make_atlas: Callable[..., Any]) -> Any:
    layers = demo_layers()
    return make_atlas({k: layers[k] for k in LAYERS}, demo_population())


@pytest.mark.parametrize("layer", ["rls", "css"])
def test_mrc_splits_and_nesting_match_the_construction(
    demo_atlas: Any, layer: str
) -> None:
    inc = incoherence_scores(demo_atlas, "mrc", layer, threshold=0.01)
    split = DEMO_EXPECTED.mrc_splits[layer]
    nested = DEMO_EXPECTED.mrc_nested[layer]
    assert set(inc.index[~inc["nested"].astype(bool)]) == set(split)
    for mrc, unit in nested.items():
        assert inc.loc[mrc, "dominant"] == unit
        assert inc.loc[mrc, "n_touched"] == 1
    for mrc, shares in split.items():
        best = max(shares, key=shares.__getitem__)
        assert inc.loc[mrc, "dominant"] == best
        assert inc.loc[mrc, "dominant_share_area"] == pytest.approx(
            shares[best], abs=6e-5
        )
        assert inc.loc[mrc, "n_touched"] == len(shares)
        pop = DEMO_EXPECTED.mrc_population_splits[layer][mrc]
        assert inc.loc[mrc, "dominant_share_pop"] == pytest.approx(
            max(pop.values()), abs=6e-5
        )


def test_municipality_splits_and_the_sliver(demo_atlas: Any) -> None:
    for layer, splits in DEMO_EXPECTED.municipality_splits.items():
        at0 = incoherence_scores(demo_atlas, "municipalites", layer, threshold=0.0)
        assert set(at0.index[at0["n_touched"] > 1]) == set(splits)
        for code, shares in splits.items():
            assert at0.loc[code, "dominant_share_area"] == pytest.approx(
                max(shares.values()), abs=6e-5
            )
    css = incoherence_scores(demo_atlas, "municipalites", "css", threshold=0.01)
    assert css.loc["99027", "n_touched"] == 1  # the 0.19 % sliver is dropped at 1 %
    assert css.loc["99027", "nested"]
    assert css.loc["99029", "n_touched"] == 2


def test_units_touching_several_mrc_are_the_documented_ones(demo_atlas: Any) -> None:
    risk = concertation_risk(
        demo_atlas, tables="mrc", institutions=["rls", "css"], threshold=0.01
    )
    inst = risk.institutions
    for layer, units in DEMO_EXPECTED.straddling.items():
        several = {c for (k, c), n in inst["n_tables"].items() if k == layer and n > 1}
        assert several == set(units), layer
    assert risk.basis == "population"
    total = risk.links.groupby("sector")["population"].sum()
    assert total.to_numpy() == pytest.approx(DEMO_EXPECTED.total_population, rel=1e-6)


def test_demo_audit_runs_and_names_a_heaviest_mrc(demo_atlas: Any) -> None:
    res = audit(demo_atlas, layers=["mrc", "rls", "css"], tables="mrc")
    top = res.heaviest_table()
    assert top in {"993", "994", "996"}  # the MRC split in both sectors
    assert res.summary().count("\n") > 5
