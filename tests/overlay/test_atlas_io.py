"""Saving an atlas and reading it back (geodecoupage.overlay.io).

The reference is the atlas itself: what :func:`read_atlas` returns must equal
what :func:`save_atlas` was given (atoms, dtypes, geometry, layer order,
parameters, slivers), and so must every table computed on it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import geopandas as gpd
import shapely
from geopandas.testing import assert_geodataframe_equal

from geodecoupage.datasets import demo_layers, demo_population
from geodecoupage.errors import (
    AtlasReadError,
    InvalidParameterError,
    LayerReadError,
    OutputExistsError,
)
from geodecoupage.metrics import audit
from geodecoupage.overlay import Atlas, build_atlas, read_atlas, save_atlas
from geodecoupage.overlay import io as atlas_io

CRS = "EPSG:32198"
X0, Y0 = -250_000.0, 300_000.0
KM = 1000.0
SUFFIXES = ("gpkg", "parquet")


def kbox(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(X0 + x1 * KM, Y0 + y1 * KM, X0 + x2 * KM, Y0 + y2 * KM)


def layer(geoms: dict[str, shapely.Geometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"nom": [f"unité {c}" for c in geoms]},
        geometry=list(geoms.values()),
        index=pd.Index(list(geoms), name="code"),
        crs=CRS,
    )


@pytest.fixture(scope="module")
def toy_atlas() -> Atlas:
    """Slivers (a 5 m shift), gaps (b stops at 2.5 km), a MultiPolygon unit,
    population, zero-padded codes."""
    a = layer(
        {
            "001": kbox(0, 0, 1, 2),
            "002": kbox(1, 0, 2, 2),
            "010": shapely.union(kbox(2, 0, 3, 1), kbox(2, 1.5, 3, 2)),
        }
    )
    shift = 0.005  # 5 m: a 5 m x 2 km strip (1 ha) is a sliver
    b = layer(
        {
            "0A": kbox(0, 0, 1 + shift, 2),
            "0B": kbox(1 + shift, 0, 2.5, 2),
        }
    )
    pop = gpd.GeoDataFrame(
        {"population": [1000.0, 250.0, 40.0]},
        geometry=[kbox(0, 0, 1.5, 2), kbox(1.5, 0, 3, 1), kbox(1.5, 1, 3, 2)],
        crs=CRS,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coverage warnings: the gaps are wanted
        atlas = build_atlas(
            {"a": a, "b": b}, population=pop, min_area_m2=20_000.0, snap_m=1.0
        )
    assert len(atlas.slivers) > 0
    assert atlas.atoms["b"].isna().any()
    assert (atlas.atoms.geom_type == "MultiPolygon").any()
    assert (atlas.atoms.geom_type == "Polygon").any()
    return atlas


@pytest.fixture(scope="module")
def demo_atlas() -> Atlas:
    layers = demo_layers()
    data = {
        "mrc": layers["mrc"],
        "rls": layers["rls"],
        "css": layers["css"].iloc[:2],  # a partial layer: gaps
        "municipalites": layers["municipalites"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_atlas(data, population=demo_population())


def same_value(x: Any, y: Any) -> bool:
    """Equal values and types, NaN equal to NaN, numpy scalars as Python ones."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return isinstance(y, float) and math.isnan(y)
    if isinstance(x, dict):
        return (
            isinstance(y, dict)
            and list(x) == list(y)
            and all(same_value(x[k], y[k]) for k in x)
        )
    if isinstance(x, tuple | list):
        return (
            type(x) is type(y)
            and len(x) == len(y)
            and all(same_value(i, j) for i, j in zip(x, y, strict=True))
        )
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
    return type(x) is type(y) and x == y


def assert_same_atlas(a: Atlas, b: Atlas) -> None:
    assert b.layers == a.layers
    assert_geodataframe_equal(b.atoms, a.atoms, check_dtype=True, check_index_type=True)
    assert b.atoms.crs == a.atoms.crs
    assert (b.atoms.geometry.to_wkb() == a.atoms.geometry.to_wkb()).all()
    assert dict(b.atoms.dtypes) == dict(a.atoms.dtypes)
    for key in a.layers:  # gaps stay missing, codes stay strings
        assert b.atoms[key].isna().equals(a.atoms[key].isna())
        assert all(isinstance(v, str) for v in b.atoms[key].dropna())
    assert_frame_equal(b.slivers, a.slivers, check_dtype=True, check_index_type=True)
    assert same_value(dict(a.params), b.params)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_toy_atlas_round_trip_is_equal(
    toy_atlas: Atlas, tmp_path: Path, suffix: str
) -> None:
    path = save_atlas(toy_atlas, tmp_path / f"atlas.{suffix}")
    back = read_atlas(path)
    assert_same_atlas(toy_atlas, back)
    assert list(back.atoms["a"].dropna().unique()) == ["001", "002", "010"]
    for weight in ("area", "population"):
        assert_frame_equal(
            back.crosswalk("a", "b", weight=weight, include_gaps=True),  # type: ignore[arg-type]
            toy_atlas.crosswalk("a", "b", weight=weight, include_gaps=True),  # type: ignore[arg-type]
        )
    assert_frame_equal(back.coverage(), toy_atlas.coverage())


AUDIT_KWARGS: dict[str, Any] = {"layers": ["mrc", "rls", "css"], "tables": "mrc"}


@pytest.fixture(scope="module")
def demo_audit_dir(demo_atlas: Atlas, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Audit files of the atlas as built (the reference)."""
    out = tmp_path_factory.mktemp("audit") / "built"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit(demo_atlas, **AUDIT_KWARGS).write(out)
    return out


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_demo_atlas_round_trip_gives_the_same_audit(
    demo_atlas: Atlas, demo_audit_dir: Path, tmp_path: Path, suffix: str
) -> None:
    back = read_atlas(save_atlas(demo_atlas, tmp_path / f"demo.{suffix}"))
    assert_same_atlas(demo_atlas, back)
    out = tmp_path / "read"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit(back, **AUDIT_KWARGS).write(out)
    files = sorted(f.name for f in demo_audit_dir.iterdir())
    assert files == sorted(f.name for f in out.iterdir())
    for name in files:
        assert (out / name).read_bytes() == (demo_audit_dir / name).read_bytes(), name


def test_params_keep_tuples_nan_numpy_and_odd_keys(
    toy_atlas: Atlas, tmp_path: Path
) -> None:
    params = {
        **toy_atlas.params,
        "t": ("rls", ("x", 1)),
        "nan": float("nan"),
        "inf": -math.inf,
        "np": np.float64(0.25),
        "npi": np.int64(7),
        "arr": np.array([1.5, 2.0]),
        "keys": {1: "un", ("a", "b"): "deux", "$x": 3},
        "empty": (),
    }
    atlas = Atlas(toy_atlas.atoms, toy_atlas.layers, params, toy_atlas.slivers)
    for suffix in SUFFIXES:
        back = read_atlas(save_atlas(atlas, tmp_path / f"p.{suffix}"))
        assert same_value(params, back.params), suffix
        assert isinstance(back.params["t"], tuple)
        assert type(back.params["npi"]) is int


def test_params_without_json_form_are_refused(toy_atlas: Atlas, tmp_path: Path) -> None:
    atlas = Atlas(
        toy_atlas.atoms,
        toy_atlas.layers,
        {**toy_atlas.params, "kernel": {"path": Path("x")}},
        toy_atlas.slivers,
    )
    with pytest.raises(InvalidParameterError, match=r"params\['kernel'\]\['path'\]"):
        save_atlas(atlas, tmp_path / "p.gpkg")
    assert not (tmp_path / "p.gpkg").exists()


def test_hand_made_atlas_without_slivers_table_round_trips(
    toy_atlas: Atlas, tmp_path: Path
) -> None:
    atlas = Atlas(toy_atlas.atoms, toy_atlas.layers)
    for suffix in SUFFIXES:
        back = read_atlas(save_atlas(atlas, tmp_path / f"h.{suffix}"))
        assert back.slivers.empty
        assert dict(back.params) == {}
        assert_geodataframe_equal(back.atoms, atlas.atoms)


def test_save_refuses_to_overwrite(toy_atlas: Atlas, tmp_path: Path) -> None:
    path = tmp_path / "atlas.gpkg"
    path.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match=r"already exists.*overwrite=True"):
        save_atlas(toy_atlas, path)
    assert path.read_bytes() == b"old"
    save_atlas(toy_atlas, path, overwrite=True)
    assert_same_atlas(toy_atlas, read_atlas(path))


def test_unknown_suffix_is_refused(toy_atlas: Atlas, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"\.gpkg.*\.parquet"):
        save_atlas(toy_atlas, tmp_path / "atlas.shp")
    with pytest.raises(InvalidParameterError, match="atlas format"):
        read_atlas(tmp_path / "atlas.geojson")


def test_gpkg_keeps_the_columns_qgis_users_see(
    toy_atlas: Atlas, tmp_path: Path
) -> None:
    import pyogrio

    path = save_atlas(toy_atlas, tmp_path / "atlas.gpkg")
    info = pyogrio.read_info(path, layer="atoms")
    assert list(info["fields"]) == [
        "atom",
        "a",
        "b",
        "area_m2",
        "population",
        "n_parts",
    ]
    assert set(pyogrio.list_layers(path)[:, 0]) == {
        "atoms",
        "slivers",
        "atlas_metadata",
    }


# -- files that are not atlases ------------------------------------------------------


def test_missing_file_is_an_atlas_read_error(tmp_path: Path) -> None:
    with pytest.raises(AtlasReadError, match=r"no such file.*Check the path"):
        read_atlas(tmp_path / "absent.gpkg")


def test_atoms_only_gpkg_says_to_rebuild(toy_atlas: Atlas, tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    toy_atlas.atoms.to_file(path, driver="GPKG", layer="atoms")  # the old writer
    with pytest.raises(LayerReadError, match=r"no 'atlas_metadata' table.*atlas build"):
        read_atlas(path)


def test_plain_geoparquet_says_to_rebuild(toy_atlas: Atlas, tmp_path: Path) -> None:
    path = tmp_path / "old.parquet"
    toy_atlas.atoms.to_parquet(path)
    with pytest.raises(AtlasReadError, match=r"no 'geodecoupage_atlas' key.*Rebuild"):
        read_atlas(path)


def test_garbage_file_is_an_atlas_read_error(tmp_path: Path) -> None:
    for suffix in SUFFIXES:
        path = tmp_path / f"junk.{suffix}"
        path.write_bytes(b"not a database at all" * 10)
        with pytest.raises(AtlasReadError, match="is not a readable atlas"):
            read_atlas(path)


def _edit_gpkg_meta(path: Path, key: str, value: Any) -> None:
    with sqlite3.connect(path) as con:
        con.execute(
            "UPDATE atlas_metadata SET value = ? WHERE key = ?",
            (json.dumps(value), key),
        )
    con.close()


def _edit_parquet_meta(path: Path, key: str, value: Any) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    kv = dict(table.schema.metadata)
    meta = json.loads(kv[b"geodecoupage_atlas"])
    meta[key] = value
    kv[b"geodecoupage_atlas"] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(kv), path)


EDIT = {"gpkg": _edit_gpkg_meta, "parquet": _edit_parquet_meta}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_newer_format_version_asks_to_upgrade(
    toy_atlas: Atlas, tmp_path: Path, suffix: str
) -> None:
    path = save_atlas(toy_atlas, tmp_path / f"atlas.{suffix}")
    EDIT[suffix](path, "format_version", atlas_io.FORMAT_VERSION + 1)
    with pytest.raises(AtlasReadError, match=r"format version 2.*Upgrade geodecoupage"):
        read_atlas(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_layer_without_code_column_is_refused(
    toy_atlas: Atlas, tmp_path: Path, suffix: str
) -> None:
    path = save_atlas(toy_atlas, tmp_path / f"atlas.{suffix}")
    EDIT[suffix](path, "layers", ["a", "b", "rls"])
    with pytest.raises(AtlasReadError, match=r"atoms lack the column.*rls"):
        read_atlas(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_other_format_name_is_refused(
    toy_atlas: Atlas, tmp_path: Path, suffix: str
) -> None:
    path = save_atlas(toy_atlas, tmp_path / f"atlas.{suffix}")
    EDIT[suffix](path, "format", "something-else")
    with pytest.raises(AtlasReadError, match="names the format 'something-else'"):
        read_atlas(path)


def test_dropped_code_column_is_refused(toy_atlas: Atlas, tmp_path: Path) -> None:
    path = save_atlas(toy_atlas, tmp_path / "atlas.gpkg")
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE atoms DROP COLUMN b")
    con.close()
    with pytest.raises(AtlasReadError, match=r"atoms lack the column\(s\) b"):
        read_atlas(path)


def test_reprojected_atoms_are_refused(toy_atlas: Atlas, tmp_path: Path) -> None:
    moved = toy_atlas.atoms.to_crs("EPSG:4326")
    meta = atlas_io._metadata(toy_atlas)
    meta["slivers"] = atlas_io._slivers_json(toy_atlas.slivers)
    path = tmp_path / "moved.parquet"
    atlas_io._write_parquet(
        path, atlas_io._flat(moved, atlas_io._Schema.of(moved)), meta
    )
    with pytest.raises(AtlasReadError, match=r"EPSG:4326.*not EPSG:32198"):
        read_atlas(path)


def test_save_refuses_an_atlas_in_another_crs(toy_atlas: Atlas, tmp_path: Path) -> None:
    atlas = Atlas(toy_atlas.atoms.to_crs("EPSG:4326"), toy_atlas.layers)
    with pytest.raises(InvalidParameterError, match="not EPSG:32198"):
        save_atlas(atlas, tmp_path / "x.gpkg")
