"""Province-wide audit of mrc, rls and css on the real data mirror."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from geodecoupage.metrics import audit

pytestmark = pytest.mark.realdata

LAYERS = ("mrc", "rls", "css")


@pytest.fixture(scope="module")
def province() -> Any:
    from geodecoupage.layers import read_layer
    from geodecoupage.overlay import atlas as atlas_mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are reported by the layers tests
        layers = {k: read_layer(k) for k in LAYERS}
        atlas = atlas_mod.build_atlas(layers)
    names = {
        k: {str(c): str(n) for c, n in g["nom"].items()} for k, g in layers.items()
    }
    return audit(atlas, layers=list(LAYERS), tables="mrc", names=names)


def test_province_audit_covers_every_unit(province: Any) -> None:
    inc = province.incoherence
    counts = inc.groupby(["layer", "reference"])["code"].nunique()
    assert counts[("mrc", "rls")] == 104
    assert counts[("rls", "mrc")] == 96
    assert counts[("css", "mrc")] == 60
    assert len(province.pairs) == 6


def test_province_scores_stay_in_bounds(province: Any) -> None:
    p = province.pairs.set_index(["layer_a", "layer_b"])
    for col in (
        "nesting_index_count",
        "nesting_index_area",
        "nmi_area",
        "boundary_coincidence",
        "rn_area",
        "rn_alt_area",
    ):
        values = p[col].dropna()
        assert ((values >= 0) & (values <= 1 + 1e-9)).all(), col
    assert (p["vi_area"] >= 0).all()
    # VI and NMI are symmetric; conditional entropies swap.
    for a, b in [("mrc", "rls"), ("mrc", "css"), ("rls", "css")]:
        assert p.loc[(a, b), "vi_area"] == pytest.approx(p.loc[(b, a), "vi_area"])
        assert p.loc[(a, b), "nmi_area"] == pytest.approx(p.loc[(b, a), "nmi_area"])
        assert p.loc[(a, b), "h_b_given_a_area"] == pytest.approx(
            p.loc[(b, a), "h_a_given_b_area"]
        )


def test_province_risk_names_a_heaviest_mrc(province: Any) -> None:
    top = province.heaviest_table()
    assert top is not None
    row = province.risk.tables.loc[top]
    assert row["rank"] == 1
    assert row["n_institutions"] >= 3
    text = province.risk.explain_table(top)
    assert text.startswith("La MRC ")
    assert "doit se coordonner avec" in text
    layer, code = province.most_summoned()
    assert layer in {"rls", "css"}
    assert province.risk.institutions.loc[(layer, code), "n_tables"] >= 3
    assert not math.isnan(float(row["score"]))
