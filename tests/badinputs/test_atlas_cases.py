"""Hostile inputs at the atlas level: what ``read_territory`` cannot catch.

These are the atlas cases listed as TODO in :mod:`make_corpus`: layers in
different CRS, a layer without CRS, a territory that misses every other layer,
units all below ``min_area_m2``, empty layers, one layer, duplicate keys,
thirteen layers and non-polygon geometries. Layers are built in code (EPSG:32198
squares in southern Québec, or the generated demo territory).

The rule checked everywhere: :func:`build_atlas` either raises a *named*
:class:`~geodecoupage.errors.GeodecoupageError` that names the layer, or builds
an atlas that keeps every unit, or warns naming the units it could not keep; a
unit never disappears silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2
from geodecoupage.datasets import demo_layers
from geodecoupage.errors import (
    CoverageWarning,
    GeodecoupageError,
    InvalidParameterError,
    LayerValidationError,
    MissingCRSError,
    SliverWarning,
)
from geodecoupage.metrics import audit
from geodecoupage.overlay import Atlas, build_atlas

pytestmark = pytest.mark.badinputs

X0, Y0 = -250_000.0, 300_000.0
CRS = "EPSG:32198"


def layer(geoms: Mapping[str, Any], crs: str | None = CRS) -> gpd.GeoDataFrame:
    codes = list(geoms)
    return gpd.GeoDataFrame(
        {"nom": [f"Unité {c}" for c in codes]},
        geometry=list(geoms.values()),
        index=pd.Index(codes, name="code", dtype=object),
        crs=crs,
    )


def row(n: int = 3, *, size: float = 1000.0, prefix: str = "a") -> gpd.GeoDataFrame:
    """*n* adjacent squares of *size* metres in a row."""
    return layer(
        {
            f"{prefix}{i}": shapely.box(
                X0 + i * size, Y0, X0 + (i + 1) * size, Y0 + size
            )
            for i in range(n)
        }
    )


def kept_units(atlas: Atlas, key: str) -> set[str]:
    return {str(c) for c in atlas.atoms[key].dropna()}


def build_keeping_track(
    layers: Mapping[str, gpd.GeoDataFrame], **kwargs: Any
) -> tuple[Atlas | None, BaseException | None, list[warnings.WarningMessage]]:
    """Build, recording the exception (if any) and every warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return build_atlas(layers, **kwargs), None, list(caught)
        except Exception as err:  # the test decides what was acceptable
            return None, err, list(caught)


def assert_no_silent_loss(
    layers: Mapping[str, gpd.GeoDataFrame], key: str, **kwargs: Any
) -> None:
    """A named error naming *key*, or every unit kept, or a warning naming the lost."""
    atlas, err, caught = build_keeping_track(layers, **kwargs)
    if err is not None:
        assert isinstance(err, GeodecoupageError), f"raw {type(err).__name__}: {err}"
        assert repr(key) in str(err) or key in str(err), str(err)
        return
    assert atlas is not None
    lost = sorted(set(map(str, layers[key].index)) - kept_units(atlas, key))
    if not lost:
        return
    ours = [
        str(w.message) for w in caught if w.category.__module__ == "geodecoupage.errors"
    ]
    assert any(lost[0] in m for m in ours), (
        f"units {lost[:5]} of {key!r} vanished from the atlas without an error or "
        f"a warning naming them (warnings: {ours})"
    )


# -- CRS ---------------------------------------------------------------------------


def test_layers_in_three_crs_give_the_atlas_of_the_same_layers_in_one_crs() -> None:
    demo = demo_layers()
    same = {k: demo[k] for k in ("mrc", "rls", "css")}
    mixed = {
        "mrc": demo["mrc"].to_crs("EPSG:4326"),
        "rls": demo["rls"],
        "css": demo["css"].to_crs("EPSG:3347"),  # Statistics Canada Lambert
    }
    ref = build_atlas(same)
    got = build_atlas(mixed)
    assert got.atoms.crs == CRS
    assert len(got.atoms) == len(ref.atoms)
    for a, b in (("mrc", "rls"), ("rls", "css"), ("css", "mrc")):
        x, y = ref.crosswalk(a, b), got.crosswalk(a, b)
        assert list(x.index) == list(y.index)
        np.testing.assert_allclose(
            x["share_of_source"], y["share_of_source"], atol=1e-6
        )  # a reprojection round trip moves vertices by under a millimetre


def test_layer_without_crs_is_refused_naming_the_layer_and_the_fix() -> None:
    bare = row().set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError) as info:
        build_atlas({"a": row(prefix="b"), "territoire": bare})
    text = str(info.value)
    assert "territoire" in text
    assert "set_crs" in text


# -- coverage -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outside() -> dict[str, gpd.GeoDataFrame]:
    """The demo MRC and RLS, and a territory in Québec 300 km away from them."""
    demo = demo_layers()
    far = layer(
        {
            "T1": shapely.box(-50_000, 500_000, -40_000, 510_000),
            "T2": shapely.box(-40_000, 500_000, -30_000, 510_000),
        }
    )
    return {"mrc": demo["mrc"], "rls": demo["rls"], "territoire": far}


def test_territory_missing_every_other_layer_gives_empty_crosswalks_and_gaps(
    outside: dict[str, gpd.GeoDataFrame],
) -> None:
    with pytest.warns(CoverageWarning, match="'territoire' shares no territory"):
        atlas = build_atlas(outside)
    xw = atlas.crosswalk("territoire", "mrc")
    assert xw.empty
    assert list(xw.columns) == ["area_m2", "share_of_source", "share_of_target"]
    assert list(xw.index.names) == ["source_code", "target_code"]
    cov = atlas.coverage()
    assert cov.loc["*", "covered_share"] == 0.0
    assert kept_units(atlas, "territoire") == {"T1", "T2"}
    total = float(area_m2(outside["territoire"].geometry).sum())
    assert atlas.unit_totals("territoire")["area_m2"].sum() == pytest.approx(
        total, rel=1e-6
    )
    result = audit(atlas, layers=["territoire", "mrc"], tables="territoire")
    pairs = result.pairs.set_index(["layer_a", "layer_b"])
    assert pairs.loc[("territoire", "mrc"), "coverage_a"] == 0.0
    assert np.isnan(pairs.loc[("territoire", "mrc"), "nmi_area"])
    assert result.risk is not None
    assert (result.risk.tables["score"] == 0).all()


# -- slivers --------------------------------------------------------------------------


def tiny_grid() -> gpd.GeoDataFrame:
    """100 squares of 50 m (0.25 ha each, under the 1 ha default sliver area)."""
    return layer(
        {
            f"s{i}{j}": shapely.box(
                X0 + i * 50, Y0 + j * 50, X0 + (i + 1) * 50, Y0 + (j + 1) * 50
            )
            for i in range(10)
            for j in range(10)
        }
    )


def test_units_under_min_area_are_kept_whole_with_their_area():
    layers = {
        "tiny": tiny_grid(),
        "big": layer({"B": shapely.box(X0, Y0, X0 + 500, Y0 + 500)}),
    }
    kept = build_atlas(layers)
    exact = build_atlas(layers, min_area_m2=0.0, sliver_width_m=0.0)
    assert kept_units(kept, "tiny") == set(layers["tiny"].index)
    assert kept.params["n_units_kept_whole"] == 100
    np.testing.assert_allclose(
        kept.unit_totals("tiny")["area_m2"].sort_index(),
        exact.unit_totals("tiny")["area_m2"].sort_index(),
        rtol=1e-9,
    )


def test_a_unit_split_into_slivers_keeps_its_largest_piece_and_its_area() -> None:
    # unit s (0.6 ha) is cut by a border of layer b into pieces of 0.4 and 0.2 ha,
    # both slivers: the 0.4 ha piece stays, the 0.2 ha piece joins it or a
    # neighbour; the unit is still in the atlas and area is conserved
    a = layer(
        {
            "s": shapely.box(X0, Y0, X0 + 60, Y0 + 100),
            "big": shapely.box(X0 + 60, Y0, X0 + 1000, Y0 + 1000).union(
                shapely.box(X0, Y0 + 100, X0 + 60, Y0 + 1000)
            ),
        }
    )
    b = layer(
        {
            "w": shapely.box(X0, Y0, X0 + 40, Y0 + 1000),
            "e": shapely.box(X0 + 40, Y0, X0 + 1000, Y0 + 1000),
        }
    )
    atlas = build_atlas({"a": a, "b": b})
    assert "s" in kept_units(atlas, "a")
    assert atlas.params["n_units_kept_whole"] == 1
    assert atlas.atoms["area_m2"].sum() == pytest.approx(
        float(area_m2([shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])[0]), rel=1e-6
    )


def test_units_all_under_min_area_do_not_vanish_silently() -> None:
    layers = {
        "tiny": tiny_grid(),
        "big": layer({"B": shapely.box(X0, Y0, X0 + 500, Y0 + 500)}),
    }
    assert_no_silent_loss(layers, "tiny")


def test_degrees_labelled_as_metres_do_not_vanish_silently() -> None:
    demo = demo_layers()
    wrong = demo["rls"].to_crs("EPSG:4326").set_crs(CRS, allow_override=True)
    assert_no_silent_loss({"mrc": demo["mrc"], "rls": wrong}, "rls")


# -- empty, one, duplicate, many layers ---------------------------------------


def test_a_lone_empty_layer_gives_an_empty_atlas() -> None:
    with pytest.warns(CoverageWarning, match="'e' has no unit"):
        atlas = build_atlas({"e": row().iloc[:0]})
    assert len(atlas.atoms) == 0
    assert atlas.crosswalk("e", "e").empty


def test_an_empty_layer_beside_another_covers_nothing_and_is_warned_about() -> None:
    layers = {"a": row(), "vide": row(prefix="v").iloc[:0]}
    with pytest.warns(CoverageWarning, match="'vide' has no unit"):
        atlas = build_atlas(layers)
    assert atlas.atoms["vide"].isna().all()
    assert kept_units(atlas, "a") == {"a0", "a1", "a2"}


def test_one_layer_atlas_is_its_own_crosswalk_and_audit_asks_for_two() -> None:
    atlas = build_atlas({"a": row()})
    xw = atlas.crosswalk("a", "a")
    assert list(xw.index) == [("a0", "a0"), ("a1", "a1"), ("a2", "a2")]
    assert (xw["share_of_source"] == 1.0).all()
    with pytest.raises(InvalidParameterError, match="at least two layers"):
        audit(atlas)


def test_duplicate_layer_keys_are_refused_and_one_layer_twice_is_the_identity() -> None:
    a = row()
    with pytest.raises(InvalidParameterError, match="mapping"):
        build_atlas([("a", a), ("a", a)])  # type: ignore[arg-type]
    atlas = build_atlas({"a": a, "a_bis": a})
    with pytest.raises(InvalidParameterError, match="twice"):
        audit(atlas, layers=["a", "a"])
    pairs = audit(atlas).pairs.set_index(["layer_a", "layer_b"])
    assert pairs.loc[("a", "a_bis"), "vi_area"] == 0.0
    assert pairs.loc[("a", "a_bis"), "nmi_area"] == 1.0


@pytest.mark.parametrize("key", ["area_m2", "population", "geometry", "n_parts", ""])
def test_reserved_or_blank_layer_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidParameterError, match="Invalid layer key"):
        build_atlas({"a": row(), key: row(prefix="b")})


def test_thirteen_layers_conserve_every_unit_and_area() -> None:
    rng = np.random.default_rng(13)
    layers = {}
    for k in range(13):
        dx, dy = rng.integers(0, 900, size=2)
        layers[f"l{k:02d}"] = layer(
            {
                f"u{k}{i}{j}": shapely.box(
                    X0 + dx + i * 1000,
                    Y0 + dy + j * 1000,
                    X0 + dx + (i + 1) * 1000,
                    Y0 + dy + (j + 1) * 1000,
                )
                for i in range(3)
                for j in range(3)
            }
        )
    atlas = build_atlas(layers, min_area_m2=0.0, sliver_width_m=0.0)
    assert atlas.layers == tuple(layers)
    for key, gdf in layers.items():
        assert kept_units(atlas, key) == set(gdf.index)
        np.testing.assert_allclose(
            atlas.unit_totals(key)["area_m2"].sort_index(),
            pd.Series(area_m2(gdf.geometry), index=gdf.index).sort_index(),
            rtol=1e-6,
        )
    union = shapely.union_all(
        np.concatenate([g.geometry.values for g in layers.values()])
    )
    assert atlas.atoms["area_m2"].sum() == pytest.approx(area_m2([union])[0], rel=1e-6)


# -- geometry types and coordinates ------------------------------------------


def test_geometry_collection_keeps_its_polygonal_part() -> None:
    poly = shapely.box(X0, Y0, X0 + 1500, Y0 + 1000)
    gc = shapely.GeometryCollection(
        [poly, shapely.LineString([(X0, Y0), (X0 + 3000, Y0 + 1000)])]
    )
    atlas = build_atlas({"a": row(), "g": layer({"g": gc})})
    assert atlas.unit_totals("g")["area_m2"].iloc[0] == pytest.approx(
        area_m2([poly])[0], rel=1e-6
    )


def _with(unit: str, geom: Any) -> gpd.GeoDataFrame:
    out = row(prefix="b")
    out.loc[unit, "geometry"] = geom
    return out


HOSTILE: dict[str, Callable[[], gpd.GeoDataFrame]] = {
    "points": lambda: layer(
        {"p1": shapely.Point(X0 + 500, Y0 + 500), "p2": shapely.Point(X0 + 1500, Y0)}
    ),
    "lines": lambda: layer(
        {"l1": shapely.LineString([(X0, Y0), (X0 + 3000, Y0 + 900)])}
    ),
    "point-among-polygons": lambda: _with("b1", shapely.Point(X0 + 1500, Y0 + 500)),
    "null-geometry": lambda: _with("b1", None),
    "empty-geometry": lambda: _with("b1", shapely.Polygon()),
    "nan-coordinates": lambda: _with(
        "b1", shapely.box(X0 + 1000, Y0, np.nan, Y0 + 1000)
    ),
    "inf-coordinates": lambda: _with(
        "b1", shapely.Polygon([(X0 + 1000, Y0), (np.inf, Y0), (X0 + 1000, Y0 + 900)])
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_non_polygon_or_non_finite_units_never_vanish_silently(case: str) -> None:
    assert_no_silent_loss({"a": row(), "hostile": HOSTILE[case]()}, "hostile")


def test_units_without_area_are_refused_with_what_where_and_how_to_fix() -> None:
    with pytest.raises(LayerValidationError) as info:
        build_atlas({"a": row(), "hostile": HOSTILE["points"]()})
    text = str(info.value)
    assert info.value.name == "hostile"
    assert [i.code for i in info.value.issues] == ["no-area"]
    assert info.value.issues[0].codes == ("p1", "p2")
    assert "Point ×2" in text
    assert "load the polygon layer" in text


def test_non_finite_coordinates_are_refused_naming_the_unit() -> None:
    with pytest.raises(LayerValidationError) as info:
        build_atlas({"a": row(), "hostile": HOSTILE["inf-coordinates"]()})
    assert [i.code for i in info.value.issues] == ["non-finite-coordinates"]
    assert info.value.issues[0].codes == ("b1",)
    assert "export it again" in str(info.value)


def test_a_null_part_of_a_unit_with_other_parts_is_no_loss() -> None:
    base = row(prefix="b")
    extra = layer({"b1": None})
    two_rows = pd.concat([base, extra])
    atlas = build_atlas({"a": row(), "b": two_rows})
    assert kept_units(atlas, "b") == {"b0", "b1", "b2"}


def test_degrees_declared_as_metres_are_named_with_the_crs_hint() -> None:
    demo = demo_layers()
    wrong = demo["rls"].to_crs("EPSG:4326").set_crs(CRS, allow_override=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_atlas({"mrc": demo["mrc"], "rls": wrong})
    texts = [str(w.message) for w in caught if w.category is SliverWarning]
    assert any("degrees declared as metres" in t for t in texts), texts
    assert any(
        "'rls' shares no territory" in str(w.message)
        for w in caught
        if w.category is CoverageWarning
    )


def test_invalid_bowtie_is_repaired_and_keeps_its_area() -> None:
    bowtie = shapely.Polygon(
        [(X0, Y0), (X0 + 1000, Y0 + 1000), (X0 + 1000, Y0), (X0, Y0 + 1000)]
    )
    atlas = build_atlas({"a": row(), "b": layer({"bt": bowtie})})
    repaired = shapely.make_valid(bowtie)
    assert atlas.unit_totals("b")["area_m2"].iloc[0] == pytest.approx(
        area_m2([repaired])[0], rel=1e-6
    )
