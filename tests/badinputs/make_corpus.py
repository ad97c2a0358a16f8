"""Generate the bad-input corpus: hostile territory files and what must happen.

Every case is written by code into a fresh folder (nothing is committed), read
with :func:`geodecoupage.layers.territory.read_territory`, and must end in its
*named* exception (library) or load with the expected warning; through the CLI
(``geodecoupage layers check --file PATH --code-col C``) an error case must exit
with code 1 and a message without traceback.

Run ``python tests/badinputs/make_corpus.py OUT_DIR`` to write every case into
``OUT_DIR/<case>/`` with an ``index.json`` (to try them by hand or in QGIS).

Decisions recorded here
-----------------------
* A 100 000-feature layer is *valid* (tiny squares that tile): it loads in
  bounded time, with a ``tiling-not-checked`` warning (overlap and gap checks
  are skipped above :data:`geodecoupage.layers.validate.MAX_TILING_UNITS`).
* Codes stored as numbers load, with a warning: the lost zeros cannot be
  restored without guessing the width.
* Repairable defects (self-intersections, unclosed rings, GeometryCollections,
  null geometries among good ones) load with ``repair=True`` (a warning lists
  the changes) and are errors with ``repair=False``.

TODO for the atlas helper (``build_atlas``), not testable through
``read_territory``: layers passed in different CRS (must be reprojected, or
refused without CRS); a territory inside Québec that misses every other layer
(expect a ``CoverageWarning``, not a crash, and empty crosswalks); a layer
whose units all fall below ``min_area_m2`` after intersection.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.errors import (
    InvalidParameterError,
    LayerReadError,
    LayerUnavailableError,
    LayerValidationError,
    MissingCRSError,
)

# A 3 × 2 block of 0.05° squares south of Trois-Rivières (lon/lat).
LON0, LAT0, STEP = -72.6, 46.1, 0.05


@dataclass(frozen=True)
class Case:
    """One hostile input and the outcome it must produce."""

    name: str
    build: Callable[[Path], Path]
    expect: type[BaseException] | None = None
    match: str = ""
    issue_codes: tuple[str, ...] = ()
    warns: str | None = None  # regex a LayerQualityWarning message must match
    code_col: str = "code"
    name_col: str | None = "nom"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[gpd.GeoDataFrame], None] | None = None
    cli_exit: int | None = -1  # -1: 1 for errors, 0 for loads; None: no CLI run

    @property
    def expected_exit(self) -> int | None:
        """Exit code the CLI must give, or None when the case is library-only."""
        if self.cli_exit is None or set(self.kwargs) - {"layer"}:
            return None  # options the CLI does not expose
        if self.cli_exit >= 0:
            return self.cli_exit
        return 1 if self.expect is not None else 0


CASES: list[Case] = []


def case(
    name: str, **spec: Any
) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    """Register the decorated builder as corpus case *name*."""

    def register(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES.append(Case(name=name, build=build, **spec))
        return build

    return register


# ---------------------------------------------------------------------------
# building blocks


def squares(n: int = 6) -> list[shapely.Polygon]:
    """*n* adjacent lon/lat squares (3 per row) that tile a block."""
    out = []
    for k in range(n):
        i, j = k % 3, k // 3
        x, y = LON0 + i * STEP, LAT0 + j * STEP
        out.append(shapely.box(x, y, x + STEP, y + STEP))
    return out


def frame(
    geoms: list[Any] | None = None,
    codes: list[Any] | None = None,
    names: list[Any] | None = None,
    crs: Any = "EPSG:4326",
) -> gpd.GeoDataFrame:
    geoms = squares() if geoms is None else geoms
    codes = [f"{k + 1:02d}" for k in range(len(geoms))] if codes is None else codes
    names = [f"Secteur {c}" for c in codes] if names is None else names
    return gpd.GeoDataFrame({"code": codes, "nom": names}, geometry=geoms, crs=crs)


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "'crs' was not provided" for CRS-less cases
        if path.suffix == ".parquet":
            gdf.to_parquet(path, **kwargs)
        else:
            gdf.to_file(path, **kwargs)
    return path


def ring(poly: shapely.Polygon) -> list[list[float]]:
    return [list(c) for c in poly.exterior.coords]


def feature(geometry: Any, code: Any, nom: Any = "Secteur") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "nom": nom},
        "geometry": geometry,
    }


def polygon_json(poly: shapely.Polygon) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring(poly)]}


def geojson(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    """Write a FeatureCollection by hand (json allows NaN/Infinity literals)."""
    doc = {"type": "FeatureCollection", **extra, "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def good_features(n: int = 6) -> list[dict[str, Any]]:
    return [feature(polygon_json(p), f"{k + 1:02d}") for k, p in enumerate(squares(n))]


def shapefile(folder: Path, gdf: gpd.GeoDataFrame | None = None) -> Path:
    return write(frame() if gdf is None else gdf, folder / "secteurs.shp")


def zip_of(path: Path, members: Mapping[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def shapefile_members(
    folder: Path, prefix: str = "", drop: str = ""
) -> dict[str, bytes]:
    shp = shapefile(folder)
    out = {}
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        part = shp.with_suffix(ext)
        if part.exists() and ext != drop:
            out[f"{prefix}secteurs{ext}"] = part.read_bytes()
    return out


# ---------------------------------------------------------------------------
# a valid reference: must load


def _check_reference(gdf: gpd.GeoDataFrame) -> None:
    assert gdf.index.tolist() == [f"{k:02d}" for k in range(1, 7)]
    assert gdf["nom"].iloc[0] == "Secteur 01"


@case("valid-geojson", check=_check_reference)
def _(d: Path) -> Path:
    return write(frame(), d / "secteurs.geojson")


@case("one-feature-layer", check=lambda g: _assert_len(g, 1))
def _(d: Path) -> Path:
    return write(frame(squares(1)), d / "un.gpkg")


def _assert_len(gdf: gpd.GeoDataFrame, n: int) -> None:
    assert len(gdf) == n, len(gdf)


N_TINY = 100_000


@case(
    "hundred-thousand-tiny-features",
    warns="overlaps and gaps were not checked",
    name_col=None,
    check=lambda g: _assert_len(g, N_TINY),
)
def _(d: Path) -> Path:
    side = 25.0  # metres: a 250 × 400 grid of 25 m squares in Québec Lambert
    ii, jj = np.meshgrid(np.arange(250), np.arange(400))
    x = -270_000.0 + ii.ravel() * side
    y = 280_000.0 + jj.ravel() * side
    geoms = shapely.box(x, y, x + side, y + side)
    gdf = gpd.GeoDataFrame(
        {"code": [f"{k:06d}" for k in range(len(geoms))]},
        geometry=geoms,
        crs="EPSG:32198",
    )
    return write(gdf, d / "minuscules.fgb")


# ---------------------------------------------------------------------------
# files that cannot be read


@case("missing-file", expect=LayerUnavailableError, match="not found")
def _(d: Path) -> Path:
    return d / "absent.gpkg"


@case("zero-byte-geojson", expect=LayerReadError, match=r"empty \(0 bytes\)")
def _(d: Path) -> Path:
    p = d / "vide.geojson"
    p.write_bytes(b"")
    return p


@case("zero-byte-shapefile", expect=LayerReadError, match=r"empty \(0 bytes\)")
def _(d: Path) -> Path:
    shp = shapefile(d)
    shp.write_bytes(b"")
    return shp


@case("folder-instead-of-file", expect=LayerReadError, match="is a folder", cli_exit=2)
def _(d: Path) -> Path:
    sub = d / "dossier.gpkg"
    sub.mkdir()
    return sub


@case("unsupported-extension", expect=LayerReadError, match="unsupported format '.kml'")
def _(d: Path) -> Path:
    p = d / "secteurs.kml"
    p.write_text("<kml></kml>", encoding="utf-8")
    return p


@case("html-error-page-saved-as-geojson", expect=LayerReadError, match="cannot be")
def _(d: Path) -> Path:
    p = d / "secteurs.geojson"
    p.write_text("<html><body>503 Service Unavailable</body></html>", encoding="utf-8")
    return p


@case("truncated-geojson", expect=LayerReadError, match="cannot be")
def _(d: Path) -> Path:
    p = write(frame(), d / "coupe.geojson")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


@case("truncated-geopackage", expect=LayerReadError, match="cannot be")
def _(d: Path) -> Path:
    p = write(frame(), d / "coupe.gpkg")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    return p


@case(
    "empty-geopackage-layer", expect=LayerValidationError, issue_codes=("empty-layer",)
)
def _(d: Path) -> Path:
    return write(frame().iloc[:0], d / "vide.gpkg")


@case(
    "empty-feature-collection",
    expect=LayerValidationError,
    issue_codes=("empty-layer",),
    match="holds no feature",
)
def _(d: Path) -> Path:
    return geojson(d / "vide.geojson", [])


def _check_2d(gdf: gpd.GeoDataFrame) -> None:
    assert not gdf.geometry.has_z.any()
    _assert_len(gdf, 6)


@case("polygons-with-z", check=_check_2d)
def _(d: Path) -> Path:
    return write(frame([shapely.force_3d(p, z=120.0) for p in squares()]), d / "z.gpkg")


def _check_mixed(gdf: gpd.GeoDataFrame) -> None:
    assert gdf.index.tolist() == ["01", "2", "03", "04", "05", "06"], gdf.index.tolist()


@case("codes-mixing-text-and-numbers", check=_check_mixed)
def _(d: Path) -> Path:
    features = good_features()
    features[1]["properties"]["code"] = 2
    return geojson(d / "mixte.geojson", features)


@case(
    "plain-parquet-without-geometry", expect=LayerReadError, match="geometry metadata"
)
def _(d: Path) -> Path:
    p = d / "table.parquet"
    pd.DataFrame({"code": ["01"], "nom": ["A"]}).to_parquet(p)
    return p


# ---------------------------------------------------------------------------
# zip archives


@case("zipped-shapefile-in-subfolder", check=_check_reference)
def _(d: Path) -> Path:
    return zip_of(d / "secteurs.zip", shapefile_members(d, prefix="export/"))


@case("truncated-zip", expect=LayerReadError, match="truncated or corrupt")
def _(d: Path) -> Path:
    p = zip_of(d / "coupe.zip", shapefile_members(d))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


@case("not-a-zip", expect=LayerReadError, match="truncated or corrupt")
def _(d: Path) -> Path:
    p = d / "faux.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    return p


@case("zip-path-traversal", expect=LayerReadError, match="unsafe member name")
def _(d: Path) -> Path:
    members = shapefile_members(d)
    members["../../evil.txt"] = b"owned"
    return zip_of(d / "traversal.zip", members)


@case("zip-absolute-path", expect=LayerReadError, match="unsafe member name")
def _(d: Path) -> Path:
    members = {f"/tmp/{k}": v for k, v in shapefile_members(d).items()}
    return zip_of(d / "absolu.zip", members)


@case("zip-symlink-member", expect=LayerReadError, match="symbolic links")
def _(d: Path) -> Path:
    p = zip_of(d / "lien.zip", shapefile_members(d))
    with zipfile.ZipFile(p, "a") as zf:
        info = zipfile.ZipInfo("encodage.cpg")
        info.external_attr = 0o120777 << 16  # a symlink to /etc/passwd
        zf.writestr(info, "/etc/passwd")
    return p


@case("zip-member-with-empty-name", expect=LayerReadError, match="unsafe member name")
def _(d: Path) -> Path:
    # Found by fuzzing: zipfile.ZipInfo.is_dir() raised IndexError on it.
    p = zip_of(d / "vide.zip", shapefile_members(d))
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"x")
    return p


@case("zip-unsupported-version", expect=LayerReadError, match="zip file version 9.5")
def _(d: Path) -> Path:
    # Found by fuzzing: zipfile raised NotImplementedError when extracting.
    p = d / "version.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in shapefile_members(d).items():
            info = zipfile.ZipInfo(name)
            info.extract_version = 95
            zf.writestr(info, data)
    return p


@case("zip-without-layer-file", expect=LayerReadError, match="holds no layer file")
def _(d: Path) -> Path:
    return zip_of(d / "lisezmoi.zip", {"LISEZMOI.txt": b"voir le courriel"})


@case("zip-with-two-shapefiles", expect=LayerReadError, match="holds 2 layers")
def _(d: Path) -> Path:
    members = shapefile_members(d)
    members.update({k.replace("secteurs", "autres"): v for k, v in members.items()})
    return zip_of(d / "deux.zip", members)


@case("zip-shapefile-without-prj", expect=MissingCRSError, match="no .prj file")
def _(d: Path) -> Path:
    return zip_of(d / "sansprj.zip", shapefile_members(d, drop=".prj"))


# ---------------------------------------------------------------------------
# incomplete shapefiles, missing CRS


@case("shapefile-missing-shx", expect=LayerReadError, match=r"its \.shx file")
def _(d: Path) -> Path:
    shp = shapefile(d)
    shp.with_suffix(".shx").unlink()
    return shp


@case("shapefile-missing-dbf", expect=LayerReadError, match=r"its \.dbf file")
def _(d: Path) -> Path:
    shp = shapefile(d)
    shp.with_suffix(".dbf").unlink()
    return shp


@case("shapefile-missing-prj", expect=MissingCRSError, match="no .prj file.*crs=")
def _(d: Path) -> Path:
    shp = shapefile(d)
    shp.with_suffix(".prj").unlink()
    return shp


@case(
    "shapefile-missing-prj-crs-given",
    kwargs={"crs": "EPSG:4326"},
    check=_check_reference,
)
def _(d: Path) -> Path:
    shp = shapefile(d)
    shp.with_suffix(".prj").unlink()
    return shp


@case("geopackage-without-crs", expect=MissingCRSError, match="declares no coordinate")
def _(d: Path) -> Path:
    return write(frame(crs=None), d / "sanscrs.gpkg")


@case("flatgeobuf-without-crs", expect=MissingCRSError, match="declares no coordinate")
def _(d: Path) -> Path:
    return write(frame(crs=None), d / "sanscrs.fgb")


@case("geoparquet-without-crs", expect=MissingCRSError, match="declares no coordinate")
def _(d: Path) -> Path:
    return write(frame(crs=None), d / "sanscrs.parquet")


@case("bad-crs-parameter", expect=InvalidParameterError, kwargs={"crs": "EPSG:999999"})
def _(d: Path) -> Path:
    return write(frame(), d / "secteurs.gpkg")


# ---------------------------------------------------------------------------
# columns and layers


@case(
    "unknown-code-column",
    expect=LayerReadError,
    match="Did you mean 'code'",
    code_col="CODE",
)
def _(d: Path) -> Path:
    return write(frame(), d / "secteurs.gpkg")


@case(
    "unknown-name-column",
    expect=LayerReadError,
    match="Columns present: code, nom",
    name_col="NOM_SECT",
)
def _(d: Path) -> Path:
    return write(frame(), d / "secteurs.gpkg")


def _two_layer_gpkg(d: Path) -> Path:
    p = write(frame(), d / "deux.gpkg", layer="secteurs")
    return write(frame(squares(2)), p, layer="brouillon", mode="a")


@case("geopackage-two-layers", expect=LayerReadError, match="holds 2 layers")
def _(d: Path) -> Path:
    return _two_layer_gpkg(d)


@case(
    "geopackage-unknown-layer",
    expect=LayerReadError,
    match="has no layer 'zones'",
    kwargs={"layer": "zones"},
)
def _(d: Path) -> Path:
    return _two_layer_gpkg(d)


@case(
    "geopackage-layer-chosen",
    kwargs={"layer": "brouillon"},
    check=lambda g: _assert_len(g, 2),
)
def _(d: Path) -> Path:
    return _two_layer_gpkg(d)


# ---------------------------------------------------------------------------
# wrong CRS, wrong place


@case(
    "latitude-longitude-swapped",
    expect=LayerValidationError,
    issue_codes=("outside-quebec",),
    match="swapped",
)
def _(d: Path) -> Path:
    swapped = [shapely.transform(p, lambda c: c[:, ::-1]) for p in squares()]
    return write(frame(swapped), d / "inverse.geojson")


@case(
    "metres-labelled-as-degrees",
    expect=LayerValidationError,
    issue_codes=("not-degrees",),
    match="metres labelled as degrees",
)
def _(d: Path) -> Path:
    lambert = frame().to_crs("EPSG:32198")
    features = [
        feature(polygon_json(p), c)
        for p, c in zip(lambert.geometry, lambert.code, strict=True)
    ]
    return geojson(d / "metres.geojson", features)  # GeoJSON means lon/lat


@case(
    "degrees-labelled-as-metres",
    expect=LayerValidationError,
    issue_codes=("outside-quebec",),
    match="look like degrees",
)
def _(d: Path) -> Path:
    return write(frame().set_crs("EPSG:32198", allow_override=True), d / "degres.gpkg")


@case(
    "wrong-projected-crs-declared",
    expect=LayerValidationError,
    issue_codes=("outside-quebec",),
    match="declared CRS",
)
def _(d: Path) -> Path:
    lambert = frame().to_crs("EPSG:32198")
    return write(lambert.set_crs("EPSG:25832", allow_override=True), d / "utm.gpkg")


LOCAL_CS = (
    'LOCAL_CS["chantier",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
)


@case(
    "local-engineering-crs",
    expect=LayerValidationError,
    issue_codes=("unplaceable-crs",),
    match="cannot be converted to longitude/latitude",
)
def _(d: Path) -> Path:
    lambert = frame().to_crs("EPSG:32198")
    return write(lambert.set_crs(LOCAL_CS, allow_override=True), d / "local.gpkg")


@case(
    "far-outside-quebec",
    expect=LayerValidationError,
    issue_codes=("outside-quebec",),
    match="around lon 2",
)
def _(d: Path) -> Path:
    paris = [
        shapely.affinity.translate(p, xoff=2.35 - LON0, yoff=48.85 - LAT0)
        for p in squares()
    ]
    return write(frame(paris), d / "paris.geojson")


@case(
    "territory-entirely-outside-other-layers",
    expect=LayerValidationError,
    issue_codes=("outside-quebec",),
    match="all features lie entirely outside",
)
def _(d: Path) -> Path:
    # Toronto sectors: outside every Québec layer.
    toronto = [
        shapely.affinity.translate(p, xoff=-79.38 - LON0, yoff=43.65 - LAT0)
        for p in squares()
    ]
    return write(frame(toronto), d / "toronto.gpkg")


@case(
    "territory-straddling-the-border",
    warns="reach beyond Québec's extent",
    check=lambda g: _assert_len(g, 6),
)
def _(d: Path) -> Path:
    south = [shapely.affinity.translate(p, yoff=44.45 - LAT0) for p in squares()]
    return write(frame(south), d / "frontiere.gpkg")


# ---------------------------------------------------------------------------
# geometry defects


def _bowtie_frame() -> gpd.GeoDataFrame:
    x, y = LON0, LAT0 + 0.2
    bowtie = shapely.Polygon(
        [(x, y), (x + STEP, y + STEP), (x + STEP, y), (x, y + STEP)]
    )
    return frame([*squares(), bowtie])


@case(
    "self-intersecting-ring-no-repair",
    expect=LayerValidationError,
    issue_codes=("invalid-geometry",),
    match="Self-intersection",
    kwargs={"repair": False},
)
def _(d: Path) -> Path:
    return write(_bowtie_frame(), d / "noeud.gpkg")


@case(
    "self-intersecting-ring-repaired",
    warns="made 1 invalid geometry valid",
    check=lambda g: _assert_len(g, 7),
)
def _(d: Path) -> Path:
    return write(_bowtie_frame(), d / "noeud.gpkg")


def _unclosed(d: Path) -> Path:
    features = good_features()
    features[1]["geometry"]["coordinates"][0].pop()  # drop the closing point
    return geojson(d / "ouvert.geojson", features)


@case(
    "unclosed-ring-repaired",
    warns=r"unclosed rings.*'02'",
    check=lambda g: _assert_len(g, 6),
)
def _(d: Path) -> Path:
    return _unclosed(d)


@case(
    "unclosed-ring-no-repair",
    expect=LayerReadError,
    match="unclosed rings",
    kwargs={"repair": False},
)
def _(d: Path) -> Path:
    return _unclosed(d)


@case(
    "empty-geometries-no-repair",
    expect=LayerValidationError,
    issue_codes=("empty-geometry",),
    kwargs={"repair": False},
)
def _(d: Path) -> Path:
    features = good_features()
    features[2]["geometry"] = {"type": "Polygon", "coordinates": []}
    return geojson(d / "vides.geojson", features)


@case(
    "null-geometries-dropped",
    warns=r"dropped 2 features.*'03', '05'",
    check=lambda g: _assert_len(g, 4),
)
def _(d: Path) -> Path:
    features = good_features()
    features[2]["geometry"] = None
    features[4]["geometry"] = None
    return geojson(d / "nulles.geojson", features)


@case(
    "all-geometries-null", expect=LayerValidationError, issue_codes=("empty-geometry",)
)
def _(d: Path) -> Path:
    features = good_features(2)
    for f in features:
        f["geometry"] = None
    return geojson(d / "toutes-nulles.geojson", features)


@case(
    "points-instead-of-polygons",
    expect=LayerValidationError,
    issue_codes=("not-polygon",),
    match="Point ×6",
)
def _(d: Path) -> Path:
    return write(frame([p.centroid for p in squares()]), d / "centroides.gpkg")


@case(
    "lines-instead-of-polygons",
    expect=LayerValidationError,
    issue_codes=("not-polygon",),
    match="LineString ×6",
)
def _(d: Path) -> Path:
    return write(frame([p.exterior for p in squares()]), d / "contours.geojson")


def _collection(d: Path) -> Path:
    features = good_features()
    poly = features[0]["geometry"]
    features[0]["geometry"] = {
        "type": "GeometryCollection",
        "geometries": [
            poly,
            {"type": "LineString", "coordinates": poly["coordinates"][0][:2]},
        ],
    }
    return geojson(d / "collection.geojson", features)


@case(
    "geometry-collection-no-repair",
    expect=LayerValidationError,
    issue_codes=("not-polygon",),
    match="GeometryCollection",
    kwargs={"repair": False},
)
def _(d: Path) -> Path:
    return _collection(d)


@case(
    "geometry-collection-repaired",
    warns="kept only the polygonal parts",
    check=lambda g: _assert_len(g, 6),
)
def _(d: Path) -> Path:
    return _collection(d)


@case(
    "nan-coordinates",
    expect=LayerValidationError,
    issue_codes=("non-finite-coordinates",),
    match="'04'",
)
def _(d: Path) -> Path:
    features = good_features()
    features[3]["geometry"]["coordinates"][0][1][0] = math.nan
    return geojson(d / "nan.geojson", features)


@case(
    "infinite-coordinates",
    expect=LayerValidationError,
    issue_codes=("non-finite-coordinates",),
)
def _(d: Path) -> Path:
    features = good_features()
    features[0]["geometry"]["coordinates"][0][2][1] = math.inf
    return geojson(d / "inf.geojson", features)


@case(
    "layer-overlapping-itself",
    warns="2 pairs of units overlap",
    check=lambda g: _assert_len(g, 7),
)
def _(d: Path) -> Path:
    extra = shapely.affinity.translate(squares(1)[0], xoff=STEP / 2)
    return write(frame([*squares(), extra]), d / "chevauche.gpkg")


@case(
    "layer-with-a-hole", warns="1 hole larger than", check=lambda g: _assert_len(g, 8)
)
def _(d: Path) -> Path:
    cells = [
        shapely.box(
            LON0 + i * STEP,
            LAT0 + j * STEP,
            LON0 + (i + 1) * STEP,
            LAT0 + (j + 1) * STEP,
        )
        for i in range(3)
        for j in range(3)
        if (i, j) != (1, 1)
    ]
    return write(frame(cells), d / "trou.gpkg")


# ---------------------------------------------------------------------------
# codes


@case(
    "duplicate-codes",
    expect=LayerValidationError,
    issue_codes=("duplicate-code",),
    match="'01', '02'",
)
def _(d: Path) -> Path:
    return write(frame(codes=["01", "02", "03", "01", "02", "06"]), d / "doublons.gpkg")


@case(
    "duplicate-codes-dissolved",
    kwargs={"dissolve": True},
    check=lambda g: _assert_len(g, 4),
)
def _(d: Path) -> Path:
    return write(frame(codes=["01", "02", "03", "01", "02", "06"]), d / "doublons.gpkg")


@case(
    "null-codes",
    expect=LayerValidationError,
    issue_codes=("null-code",),
    match="2 features with no code",
)
def _(d: Path) -> Path:
    return write(
        frame(codes=["01", None, "03", None, "05", "06"]), d / "sanscode.geojson"
    )


@case("blank-codes", expect=LayerValidationError, issue_codes=("null-code",))
def _(d: Path) -> Path:
    return write(frame(codes=["01", "  ", "03", "", "05", "06"]), d / "blancs.gpkg")


def _check_numeric(gdf: gpd.GeoDataFrame) -> None:
    assert gdf.index.tolist() == ["1", "2", "3", "10", "11", "12"]


@case(
    "numeric-codes-lost-leading-zeros",
    warns="stores codes as numbers",
    check=_check_numeric,
)
def _(d: Path) -> Path:
    features = [
        feature(polygon_json(p), c)
        for p, c in zip(squares(), [1, 2, 3, 10, 11, 12], strict=True)
    ]
    return geojson(d / "nombres.geojson", features)


@case("numeric-codes-in-dbf", warns="stores codes as numbers", check=_check_numeric)
def _(d: Path) -> Path:
    return shapefile(d, frame(codes=[1, 2, 3, 10, 11, 12]))


def _check_zeros(gdf: gpd.GeoDataFrame) -> None:
    assert gdf.index.tolist() == ["001", "002", "003", "010", "011", "012"]


@case("text-codes-keep-leading-zeros", check=_check_zeros)
def _(d: Path) -> Path:
    return shapefile(d, frame(codes=["001", "002", "003", "010", "011", "012"]))


# ---------------------------------------------------------------------------
# text encodings

ACCENTED = [
    "Québec",
    "Lévis",
    "Gaspé",
    "Rivière-du-Loup",
    "Îles-de-la-Madeleine",
    "Val-d’Or",
]


def _check_accents(gdf: gpd.GeoDataFrame) -> None:
    assert gdf["nom"].tolist() == ACCENTED, gdf["nom"].tolist()


@case("latin1-geojson", warns="not valid UTF-8", check=_check_accents)
def _(d: Path) -> Path:
    features = [
        feature(polygon_json(p), f"{k + 1:02d}", n)
        for k, (p, n) in enumerate(zip(squares(), ACCENTED, strict=True))
    ]
    p = d / "latin1.geojson"
    p.write_bytes(
        json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False
        ).encode("cp1252")
    )
    return p


@case("double-encoded-utf8-names", check=_check_accents)
def _(d: Path) -> Path:
    garbled = [n.encode("utf-8").decode("cp1252") for n in ACCENTED]
    return write(frame(names=garbled), d / "mojibake.gpkg")


@case("latin1-shapefile-without-cpg", check=_check_accents)
def _(d: Path) -> Path:
    shp = write(frame(names=ACCENTED), d / "latin1.shp", encoding="cp1252")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    return shp


# ---------------------------------------------------------------------------


def write_corpus(out: Path) -> list[dict[str, Any]]:
    """Write every case into ``out/<case>/`` and return the index rows."""
    rows = []
    for c in CASES:
        folder = out / c.name
        folder.mkdir(parents=True, exist_ok=True)
        path = c.build(folder)
        rows.append(
            {
                "case": c.name,
                "path": str(path),
                "code_col": c.code_col,
                "name_col": c.name_col,
                "options": dict(c.kwargs),
                "expect": c.expect.__name__ if c.expect else None,
                "warns": c.warns,
                "cli_exit": c.expected_exit,
            }
        )
    return rows


def main(argv: list[str]) -> int:
    """Write the corpus into the folder given on the command line."""
    if len(argv) != 1:
        sys.stderr.write("usage: python tests/badinputs/make_corpus.py OUT_DIR\n")
        return 2
    out = Path(argv[0])
    rows = write_corpus(out)
    (out / "index.json").write_text(
        json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    sys.stdout.write(f"{len(rows)} cases written to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
