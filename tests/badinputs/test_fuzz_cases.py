"""Bad inputs found by ``fuzz/fuzz_readers.py``, rebuilt in code.

Each case is the smallest file reproducing one finding of the fuzzer (an
exception that is not a :class:`~geodecoupage.errors.GeodecoupageError`, or a
warning that is not one of geodecoupage's). The rule is the corpus rule
(:mod:`make_corpus`): the library ends in a named exception or loads with its
own warnings only, and the CLI (``layers check --file``) exits with 1 and a
one-paragraph message, or 0.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.errors import GeodecoupageError
from geodecoupage.layers import read_layer
from geodecoupage.layers.territory import read_territory

pytestmark = pytest.mark.badinputs

LON0, LAT0, STEP = -72.6, 46.1, 0.05


def square(i: int, j: int = 0) -> list[list[float]]:
    x, y = LON0 + i * STEP, LAT0 + j * STEP
    return [[x, y], [x + STEP, y], [x + STEP, y + STEP], [x, y + STEP], [x, y]]


def bowtie(i: int) -> list[list[float]]:
    x, y = LON0 + i * STEP, LAT0
    return [[x, y], [x + STEP, y + STEP], [x + STEP, y], [x, y + STEP], [x, y]]


def feature(code: str, ring: list[list[float]] | None) -> dict[str, Any]:
    coords = [] if ring is None else [ring]
    return {
        "type": "Feature",
        "properties": {"code": code, "nom": f"Secteur {code}"},
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


def geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}),
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class FuzzCase:
    name: str
    build: Callable[[Path], Path]
    kwargs: dict[str, Any] = field(default_factory=dict)
    cli_flags: tuple[str, ...] = ()
    kind: str = "territory"  # or "loader": read_layer("cs_anglo") of a data dir
    must_raise: bool = False  # loading (even with warnings) would hide the defect


def _empty_and_unclosed(d: Path) -> Path:
    # fuzz target geojson: an empty polygon plus a ring that is not closed made
    # the repair path call GeoSeries.notna() on empty geometries, and geopandas
    # warned (UserWarning) from read_territory (territory.py, _read).
    return geojson(
        d / "vide_et_ouvert.geojson",
        [
            feature("01", None),
            feature("02", square(0)[:-1]),
            feature("03", square(1)),
        ],
    )


def _dissolve_invalid(d: Path) -> Path:
    # fuzz target geojson with dissolve=True: parts of one code, one of them
    # self-intersecting, made GeoDataFrame.dissolve raise a raw shapely
    # GEOSException (TopologyException) before any validation or repair.
    return geojson(
        d / "doublon_invalide.geojson",
        [
            feature("01", bowtie(0)),
            feature("01", square(0, 1)),
            feature("03", square(1)),
        ],
    )


def _gpkg_bad_application_id(d: Path) -> Path:
    # fuzz target gpkg: a GeoPackage whose SQLite header application_id (bytes
    # 68-71, b"GPKG") is damaged still loads, but GDAL's warning "GPKG: bad
    # application_id" escapes read_territory as a pyogrio RuntimeWarning (from
    # pyogrio.list_layers), an error under the test suite's warning filter.
    import geopandas as gpd
    import shapely

    path = d / "entete.gpkg"
    gpd.GeoDataFrame(
        {"code": ["01", "02"], "nom": ["Secteur 01", "Secteur 02"]},
        geometry=[shapely.Polygon(square(0)), shapely.Polygon(square(1))],
        crs="EPSG:4326",
    ).to_file(path, driver="GPKG")
    data = bytearray(path.read_bytes())
    assert data[68:72] == b"GPKG"
    data[68:72] = (0x4750).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def _dissolve_infinite(d: Path) -> Path:
    # found while reducing the loader findings below: with dissolve=True the
    # parts are unioned before the non-finite check, the unit with an infinite
    # coordinate comes out empty and is dropped (the NaN/inf error is never
    # raised) and numpy's RuntimeWarning leaks from shapely.union_all.
    bad = square(2)
    bad[2] = [float("inf"), LAT0 + STEP]
    return geojson(
        d / "doublon_infini.geojson",
        [feature("01", square(0)), feature("03", square(2, 1)), feature("03", bad)],
    )


def _huge_coordinate(d: Path) -> Path:
    # fuzz target geojson with repair=False: a coordinate of -1e308 makes
    # shapely.is_valid_reason overflow; validation names the problem
    # (invalid-geometry, not-degrees) but numpy's RuntimeWarnings "overflow /
    # invalid value encountered in is_valid_reason" leak with it.
    bad = square(2)
    bad[1] = [-1e308, LAT0]
    return geojson(
        d / "immense.geojson",
        [feature("01", square(0)), feature("02", square(1)), feature("03", bad)],
    )


# -- the catalogue loader (read_layer) -------------------------------------------
# A downloaded official file has no catalogue checksum (source
# ``**/cs_ang_sda.geojson``), so whatever the producer publishes is parsed.


def loader_file(d: Path, features: list[dict[str, Any]]) -> Path:
    path = d / "data" / "downloads" / "cs_anglo" / "cs_ang_sda.geojson"
    path.parent.mkdir(parents=True)
    for f in features:
        props = f["properties"]
        props["CD_CS_ANG"] = props.pop("code")
        props["NOM_OFFCL_CS_ANG"] = props.pop("nom")
    text = json.dumps({"type": "FeatureCollection", "features": features})
    path.write_text(text, encoding="utf-8")  # json writes NaN/Infinity literals
    return d / "data"


def _loader_duplicate_infinite(d: Path) -> Path:
    bad = square(2)
    bad[2] = [float("inf"), LAT0 + STEP]
    return loader_file(
        d, [feature("01", square(0)), feature("03", square(2, 1)), feature("03", bad)]
    )


def _loader_nan(d: Path) -> Path:
    bad = square(2)
    bad[2] = [LON0, float("nan")]
    return loader_file(d, [feature("01", square(0)), feature("03", bad)])


def _loader_one_dimensional_position(d: Path) -> Path:
    bad = square(2)
    bad[3] = [LAT0]
    return loader_file(d, [feature("01", square(0)), feature("03", bad)])


def _loader_geometry_without_type(d: Path) -> Path:
    untyped = feature("03", square(2))
    del untyped["geometry"]["type"]
    return loader_file(d, [feature("01", square(0)), untyped])


def _loader_list_code(d: Path) -> Path:
    listed = feature("03", square(2))
    listed["properties"]["code"] = [1, 2]
    return loader_file(d, [feature("01", square(0)), listed])


def _loader_huge_coordinate(d: Path) -> Path:
    bad = square(1)
    bad[2] = [-1e308, LAT0 + STEP]
    return loader_file(d, [feature("01", square(0)), feature("02", bad)])


CASES = [
    FuzzCase("empty-polygon-and-unclosed-ring", _empty_and_unclosed),
    FuzzCase(
        "dissolve-with-a-self-intersecting-part",
        _dissolve_invalid,
        kwargs={"dissolve": True},
        cli_flags=("--dissolve",),
    ),
    FuzzCase(
        "dissolve-with-a-self-intersecting-part-no-repair",
        _dissolve_invalid,
        kwargs={"dissolve": True, "repair": False},
        cli_flags=("--dissolve", "--no-repair"),
        must_raise=True,
    ),
    FuzzCase(
        "gpkg-with-a-damaged-application-id",
        _gpkg_bad_application_id,
    ),
    FuzzCase(
        "dissolve-with-an-infinite-coordinate",
        _dissolve_infinite,
        kwargs={"dissolve": True},
        cli_flags=("--dissolve",),
        must_raise=True,
    ),
    FuzzCase(
        "huge-coordinate-without-repair",
        _huge_coordinate,
        kwargs={"repair": False},
        cli_flags=("--no-repair",),
        must_raise=True,
    ),
    FuzzCase(
        "loader-duplicate-code-with-an-infinite-coordinate",
        _loader_duplicate_infinite,
        kind="loader",
        must_raise=True,
    ),
    FuzzCase(
        "loader-huge-coordinate-in-degrees",
        _loader_huge_coordinate,
        kind="loader",
        must_raise=True,
    ),
    FuzzCase(
        "loader-nan-coordinate",
        _loader_nan,
        kind="loader",
        must_raise=True,
    ),
    FuzzCase(
        "loader-one-dimensional-position",
        _loader_one_dimensional_position,
        kind="loader",
    ),
    FuzzCase(
        "loader-geometry-without-type",
        _loader_geometry_without_type,
        kind="loader",
    ),
    FuzzCase(
        "loader-code-as-a-json-list",
        _loader_list_code,
        kind="loader",
    ),
]


PARAMS = [pytest.param(c, id=c.name) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_library_ends_in_a_named_error_or_loads_with_its_own_warnings(
    case: FuzzCase, tmp_path: Path
) -> None:
    path = case.build(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if case.kind == "loader":
                gdf = read_layer("cs_anglo", data_dir=path)
            else:
                gdf = read_territory(
                    path, code_col="code", name_col="nom", **case.kwargs
                )
        except GeodecoupageError:
            gdf = None
    foreign = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if w.category.__module__ != "geodecoupage.errors"
    ]
    assert foreign == []
    assert gdf is None or not case.must_raise, "the defect was hidden by loading"
    if gdf is not None:
        assert gdf.index.is_unique
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
        assert gdf.geometry.is_valid.all()


@pytest.mark.parametrize("case", PARAMS)
def test_cli_exits_cleanly(case: FuzzCase, tmp_path: Path) -> None:
    from geodecoupage.cli.main import cli

    path = case.build(tmp_path)
    if case.kind == "loader":
        args = ["layers", "check", "cs_anglo", "--data-dir", str(path)]
    else:
        args = ["layers", "check", "--file", str(path), "--code-col", "code",
                "--name-col", "nom", *case.cli_flags]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library test checks the warnings
        res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1), res.output
    assert res.exit_code == 1 or not case.must_raise, res.output
    assert "Traceback" not in res.output
    if res.exit_code == 1:
        assert isinstance(res.exception, SystemExit), repr(res.exception)
        assert "\n\n" not in res.output.strip()
