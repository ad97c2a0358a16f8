"""Read a user's own territory layer into the canonical schema.

Planners bring sectors from many tools: a GeoPackage from QGIS, a zipped
Shapefile from an e-mail, a GeoJSON from a web map. :func:`read_territory`
reads any of them defensively: every failure is a named exception whose message
says what is wrong, where, and how to fix it; nothing is guessed (no CRS is
assumed, no code is zero-padded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geodecoupage.crs import WORK_CRS
from geodecoupage.errors import (
    InvalidParameterError,
    LayerQualityWarning,
    LayerReadError,
    LayerUnavailableError,
    LayerValidationError,
    MissingCRSError,
)
from geodecoupage.layers._text import repair_names
from geodecoupage.layers.validate import (
    Issue,
    repair_layer,
    unrepairable,
    validate_layer,
)

logger = logging.getLogger(__name__)

__all__ = ["MAX_ZIP_BYTES", "SUPPORTED_SUFFIXES", "read_territory"]

#: File suffix -> format name (a ``.zip`` holds one of the others).
SUPPORTED_SUFFIXES: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".zip": "zipped Shapefile (or other format)",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".fgb": "FlatGeobuf",
}
#: A zip whose members would unpack to more than this is refused (zip bomb).
MAX_ZIP_BYTES = 4 * 1024**3

_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
_CRS_HINT = (
    "Québec data is usually EPSG:32198 (Québec Lambert, metres), EPSG:4326 "
    "(longitude/latitude) or EPSG:3347 (Statistics Canada Lambert); check the "
    "source's metadata rather than guessing"
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".zip" if name.endswith(".zip") else path.suffix.lower()


def _check_path(path: Path) -> None:
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        hint = (
            f"the folder {str(parent)!r} exists; check the file name"
            if parent.is_dir()
            else f"the folder {str(parent)!r} does not exist either"
        )
        msg = (
            f"Territory file {str(path)!r} not found ({hint}; relative paths start "
            f"from {os.getcwd()!r}). Give the full path to the file."
        )
        raise LayerUnavailableError(msg)
    if path.is_dir():
        msg = (
            f"{str(path)!r} is a folder, not a file. Give the layer file itself, "
            f"e.g. {str(path / 'secteurs.shp')!r} or a .gpkg/.geojson/.zip file."
        )
        raise LayerReadError(msg)
    if path.stat().st_size == 0:
        msg = (
            f"Territory file {str(path)!r} is empty (0 bytes): the export or the "
            f"download did not finish. Export or download it again."
        )
        raise LayerReadError(msg)
    if _suffix(path) not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(f"{v} ({k})" for k, v in SUPPORTED_SUFFIXES.items())
        msg = (
            f"Territory file {str(path)!r}: unsupported format "
            f"{path.suffix or '(no extension)'!r}. Supported: {kinds}. Convert it, "
            f"e.g. `ogr2ogr territoire.gpkg {path.name}` or QGIS Export > Save As."
        )
        raise LayerReadError(msg)


# ---------------------------------------------------------------------------
# zip archives


def _unsafe_member(name: str) -> bool:
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    return (
        not posix.strip()
        or posix.startswith("/")
        or (len(posix) > 1 and posix[1] == ":")  # C:...
        or ".." in parts
        or "\x00" in name
    )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _pick_member(path: Path, infos: list[zipfile.ZipInfo], layer: str | None) -> str:
    names = [
        i.filename
        for i in infos
        if not i.is_dir()
        and "__MACOSX" not in i.filename
        and not PurePosixPath(i.filename).name.startswith("._")
    ]
    inner = [n for n in names if _suffix(Path(n)) in SUPPORTED_SUFFIXES]
    inner = [n for n in inner if _suffix(Path(n)) != ".zip"]
    if layer is not None:
        chosen = [
            n
            for n in inner
            if PurePosixPath(n).stem == layer or PurePosixPath(n).name == layer
        ]
        if len(chosen) == 1:
            return chosen[0]
        if len(inner) == 1 and _suffix(Path(inner[0])) == ".gpkg":
            return inner[0]  # layer names a table inside the one GeoPackage
    elif len(inner) == 1:
        return inner[0]
    if not inner:
        listing = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        msg = (
            f"Zip file {str(path)!r} holds no layer file (.shp, .gpkg, .geojson, "
            f".fgb, .parquet); it contains: {listing or 'nothing'}. Check that it is "
            f"the right archive."
        )
        raise LayerReadError(msg)
    stems = ", ".join(repr(PurePosixPath(n).stem) for n in inner)
    msg = (
        f"Zip file {str(path)!r} holds {len(inner)} layers ({stems})"
        + (f" and none is named {layer!r}" if layer is not None else "")
        + ". Choose one with layer=... (CLI: --layer-name)."
    )
    raise LayerReadError(msg)


def _corrupt_zip(path: Path, err: BaseException) -> LayerReadError:
    return LayerReadError(
        f"Zip file {str(path)!r} cannot be read ({type(err).__name__}: {err}): it "
        f"is truncated or corrupt. Download or compress it again."
    )


def _safe_members(path: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    bad = [i.filename for i in infos if _unsafe_member(i.filename) or _is_symlink(i)]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        msg = (
            f"Zip file {str(path)!r} has {len(bad)} unsafe member name(s) "
            f"({shown}): empty or absolute paths, '..' or symbolic links could write "
            f"outside the extraction folder. Refused; re-create the archive from "
            f"the layer files only."
        )
        raise LayerReadError(msg)
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_BYTES:
        msg = (
            f"Zip file {str(path)!r} would unpack to {total / 1024**3:.1f} GiB, "
            f"more than the {MAX_ZIP_BYTES / 1024**3:.0f} GiB limit. Unpack it "
            f"yourself and give the layer file."
        )
        raise LayerReadError(msg)
    return infos


def _extract(path: Path, zf: zipfile.ZipFile, layer: str | None, dest: Path) -> Path:
    infos = _safe_members(path, zf)
    chosen = _pick_member(path, infos, layer)
    chosen_path = PurePosixPath(chosen.replace("\\", "/"))
    wanted = [chosen]
    if _suffix(Path(chosen)) == ".shp":
        stem = chosen_path.with_suffix("").as_posix().lower()
        wanted += [
            i.filename
            for i in infos
            if i.filename != chosen
            and PurePosixPath(i.filename.replace("\\", "/"))
            .with_suffix("")
            .as_posix()
            .lower()
            == stem
        ]
    for member in wanted:
        target = dest / PurePosixPath(member.replace("\\", "/")).name
        with zf.open(member) as src, target.open("wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
    return dest / chosen_path.name


@contextmanager
def _unzipped(path: Path, layer: str | None) -> Iterator[Path]:
    """Extract the chosen layer of a zip (and its sidecars) to a temporary folder.

    Members are written under their base name only, into a fresh folder, so no
    member name can reach outside it; archives with empty, absolute, ``..`` or
    symlink members are refused anyway, as are archives unpacking to more than
    :data:`MAX_ZIP_BYTES`. Whatever a corrupt archive makes :mod:`zipfile` raise
    (BadZipFile, zlib.error, NotImplementedError for unknown versions or
    methods, IndexError, struct.error...) becomes a :class:`LayerReadError`.
    """
    with tempfile.TemporaryDirectory(prefix="geodecoupage-") as tmp:
        try:
            with zipfile.ZipFile(path) as zf:
                inner = _extract(path, zf, layer, Path(tmp))
        except LayerReadError:
            raise
        except Exception as err:  # zipfile raises many types on corrupt input
            raise _corrupt_zip(path, err) from err
        yield inner  # outside the try: errors reading *inner* pass unchanged


# ---------------------------------------------------------------------------
# reading one file


def _sibling(path: Path, ext: str) -> Path | None:
    for cand in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if cand.exists():
            return cand
    return None


def _check_shapefile(path: Path, shown: str) -> bool:
    """Check a shapefile's sidecars; return whether it has a .prj."""
    for ext, role in ((".shx", "index"), (".dbf", "attribute table")):
        if _sibling(path, ext) is None:
            extra = (
                " (or rebuild it: `ogr2ogr -oo SHAPE_RESTORE_SHX=YES ...`)"
                if ext == ".shx"
                else ""
            )
            msg = (
                f"Shapefile {shown!r} is incomplete: its {ext} file ({role}) is "
                f"missing. A shapefile is several files with the same name; copy "
                f"{path.stem}{ext} next to it{extra}, or send the layer as a "
                f"GeoPackage or a zip of all its files."
            )
            raise LayerReadError(msg)
    return _sibling(path, ".prj") is not None


def _layer_names(path: Path, shown: str) -> list[str]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            listed = pyogrio.list_layers(path)
    except Exception as err:  # pyogrio raises DataSourceError and friends
        msg = (
            f"Territory file {shown!r} cannot be opened ({err}). It is damaged, "
            f"truncated or not in the format its extension says; export it again."
        )
        raise LayerReadError(msg) from err
    for w in caught:  # GDAL's own warnings (e.g. "GPKG: bad application_id")
        warnings.warn(
            f"Territory file {shown!r}: GDAL warns while opening it: {w.message}. "
            f"It was read anyway; if the result looks wrong, export the file again.",
            LayerQualityWarning,
            stacklevel=4,
        )
    return [str(name) for name, geom_type in listed if geom_type is not None]


@dataclass(frozen=True)
class _Raw:
    """A file as read: the frame, and what had to be done to read it."""

    frame: gpd.GeoDataFrame
    encoding: str | None = None  # fallback text encoding used, if any
    fixed_wkb: np.ndarray | None = None  # rows whose WKB was fixed while reading
    no_prj: bool = False  # a shapefile without .prj


def _pyogrio_read(path: Path, **kwargs: Any) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        # shapely warns when it decodes NaN/inf coordinates and GDAL when it meets
        # unclosed rings; validation and repair report both, with the codes.
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        # GeoJSON columns mixing text and numbers are kept as text: what we want.
        warnings.filterwarnings(
            "ignore", message="Could not parse column", category=UserWarning
        )
        return pyogrio.read_dataframe(path, **kwargs)


def _read_vector(path: Path, shown: str, layer: str | None, *, repair: bool) -> _Raw:
    """Read with pyogrio, falling back to Windows-1252/Latin-1 for non-UTF-8 text."""
    kwargs: dict[str, Any] = {}
    if _suffix(path) == ".gpkg":
        names = _layer_names(path, shown)
        if not names:
            msg = (
                f"GeoPackage {shown!r} has no layer with geometry. Check that you "
                f"exported the territory layer, not only its attribute table."
            )
            raise LayerReadError(msg)
        if layer is None and len(names) > 1:
            msg = (
                f"GeoPackage {shown!r} holds {len(names)} layers: "
                f"{', '.join(map(repr, names))}. Choose one with layer=... "
                f"(CLI: --layer-name)."
            )
            raise LayerReadError(msg)
        if layer is not None and layer not in names:
            msg = (
                f"GeoPackage {shown!r} has no layer {layer!r}; its layers are: "
                f"{', '.join(map(repr, names))}."
            )
            raise LayerReadError(msg)
        kwargs["layer"] = layer or names[0]
    for encoding in (None, "cp1252", "latin-1"):
        if encoding is not None:
            kwargs["encoding"] = encoding
        try:
            return _Raw(_pyogrio_read(path, **kwargs), encoding)
        except UnicodeDecodeError:
            continue
        except shapely.errors.GEOSException as err:
            # Geometry that GEOS cannot even build: unclosed rings, rings of
            # fewer than 4 points. shapely's on_invalid="fix" closes them.
            if not repair:
                msg = (
                    f"Territory file {shown!r} holds geometries that cannot be built "
                    f"({err}): unclosed rings or rings with too few points. Read it "
                    f"with repair=True (rings are closed) or fix it in QGIS (Fix "
                    f"geometries)."
                )
                raise LayerReadError(msg) from err
            try:
                fixed = _pyogrio_read(path, on_invalid="fix", **kwargs)
                lost = _pyogrio_read(path, on_invalid="ignore", **kwargs)
            except Exception as err2:
                msg = f"Territory file {shown!r} cannot be read ({err2})."
                raise LayerReadError(msg) from err2
            missing = shapely.is_missing  # GeoSeries.notna() warns on empty geoms
            mask = missing(lost.geometry.array) & ~missing(fixed.geometry.array)
            return _Raw(fixed, encoding, mask)
        except Exception as err:  # DataSourceError, DataLayerError, ...
            msg = (
                f"Territory file {shown!r} cannot be read ({err}). It is damaged, "
                f"truncated or not in the format its extension says; export it "
                f"again (QGIS: Export > Save Features As)."
            )
            raise LayerReadError(msg) from err
    msg = f"Territory file {shown!r}: its text is in no known encoding."  # unreachable
    raise LayerReadError(msg)


def _read_parquet(path: Path, shown: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ImportError as err:
        msg = (
            f"Reading the GeoParquet file {shown!r} needs pyarrow: "
            f"`pip install pyarrow`."
        )
        raise LayerReadError(msg) from err
    except Exception as err:  # ArrowInvalid, ValueError (no geo metadata), ...
        msg = (
            f"GeoParquet file {shown!r} cannot be read ({err}). It is damaged or is "
            f"a plain Parquet table without geometry metadata; write it with "
            f"GeoDataFrame.to_parquet or `ogr2ogr -f Parquet`."
        )
        raise LayerReadError(msg) from err


def _read_any(path: Path, shown: str, layer: str | None, *, repair: bool) -> _Raw:
    suffix = _suffix(path)
    if suffix in {".parquet", ".geoparquet"}:
        return _Raw(_read_parquet(path, shown))
    no_prj = False
    if suffix == ".shp":
        no_prj = not _check_shapefile(path, shown)
    raw = _read_vector(path, shown, layer, repair=repair)
    return _Raw(raw.frame, raw.encoding, raw.fixed_wkb, no_prj)


# ---------------------------------------------------------------------------
# canonical schema


def _find_column(raw: pd.DataFrame, col: str, role: str, shown: str) -> str:
    if col in raw.columns:
        return col
    present = [str(c) for c in raw.columns if c != raw.geometry.name]
    close = [c for c in present if c.lower() == col.lower()]
    hint = f" Did you mean {close[0]!r}?" if close else ""
    msg = (
        f"Territory file {shown!r} has no column {col!r} for the {role}.{hint} "
        f"Columns present: {', '.join(present) or 'none'}."
    )
    raise LayerReadError(msg)


def _codes(values: pd.Series, col: str, shown: str) -> pd.Series:
    """Return codes as text; warn when the file stores them as numbers."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        text = values.astype("string").str.strip()
        return text.mask(text == "")
    numbers = pd.to_numeric(values, errors="coerce")
    finite = numbers.dropna()
    if (
        len(finite)
        and np.all(np.isfinite(finite))
        and np.all(finite == np.round(finite))
    ):
        text = numbers.astype("Int64").astype("string")
    else:
        text = numbers.astype("string")
    shown_codes = ", ".join(repr(c) for c in text.dropna().head(3))
    warnings.warn(
        f"Territory file {shown!r}: column {col!r} stores codes as numbers "
        f"({values.dtype}), so any leading zero was lost in the file (e.g. '01' "
        f"became 1). They were converted to text as stored ({shown_codes}, ...). "
        f"Store the codes as text in the source, or zero-pad them yourself "
        f"(gdf.index = gdf.index.str.zfill(N)) before comparing with official codes.",
        LayerQualityWarning,
        stacklevel=3,
    )
    return text


def _set_crs(
    gdf: gpd.GeoDataFrame, crs: Any, *, shown: str, no_prj: bool
) -> gpd.GeoDataFrame:
    if crs is not None:
        try:
            wanted = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as err:
            msg = f"crs={crs!r} is not a CRS that pyproj knows ({err})."
            raise InvalidParameterError(msg) from err
        if gdf.crs is not None and not pyproj.CRS.from_user_input(gdf.crs).equals(
            wanted
        ):
            logger.warning(
                "%s declares %s; replaced by crs=%s as asked", shown, gdf.crs, crs
            )
            warnings.warn(
                f"Territory file {shown!r} declares the CRS {gdf.crs.to_string()}; it "
                f"was replaced by {wanted.to_string()} as asked (crs=...). The "
                f"coordinates were not transformed.",
                LayerQualityWarning,
                stacklevel=3,
            )
        return gdf.set_crs(wanted, allow_override=True)
    if gdf.crs is None:
        what = (
            f"Shapefile {shown!r} has no .prj file"
            if no_prj
            else f"Territory file {shown!r} declares no coordinate reference system"
        )
        fix = (
            "put the .prj that came with the data next to it (same name), or "
            if no_prj
            else "re-export it with its CRS (QGIS: Export > Save Features As, CRS "
            "field), or "
        )
        msg = (
            f"{what}, so its coordinates cannot be placed. Fix: {fix}declare it with "
            f"crs='EPSG:....' (CLI: --crs) if you know it. {_CRS_HINT}."
        )
        raise MissingCRSError(msg)
    return gdf


def read_territory(
    path: str | os.PathLike[str],
    *,
    code_col: str,
    name_col: str | None = None,
    layer: str | None = None,
    key: str = "territoire",
    repair: bool = True,
    crs: Any = None,
    dissolve: bool = False,
    tiles: bool = True,
) -> gpd.GeoDataFrame:
    """Read a user's territory layer into the canonical schema.

    Parameters
    ----------
    path
        A GeoPackage (``.gpkg``), GeoJSON (``.geojson``/``.json``), Shapefile
        (``.shp`` with its ``.shx``, ``.dbf`` and ``.prj``), zipped Shapefile or
        other format (``.zip``), GeoParquet (``.parquet``) or FlatGeobuf
        (``.fgb``) file.
    code_col
        Column holding each unit's code; read as text, never zero-padded.
    name_col
        Column holding each unit's name; default: the code.
    layer
        Layer to read when the file (GeoPackage) or zip holds several.
    key
        Layer key for the ``layer`` column and messages.
    repair
        Fix what can be fixed (invalid rings, GeometryCollections, empty or
        non-polygonal features dropped) and report it as a
        :class:`LayerQualityWarning`. With ``False``, such defects are errors.
    crs
        The file's CRS when it declares none (or declares a wrong one: the
        declared CRS is then replaced, with a warning; coordinates are never
        transformed by this). Any input ``pyproj.CRS`` accepts, e.g.
        ``"EPSG:32198"``.
    dissolve
        Merge features that share a code into one (multi-part) unit instead of
        reporting duplicate codes.
    tiles
        The units are meant to tile the territory: report overlaps and gaps as
        warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``code`` (pandas ``string``), columns ``nom``, ``layer``
        (= *key*) and polygon geometry in EPSG:32198; ``attrs`` hold ``layer``,
        ``title_fr``, ``title_en``, ``vintage``, ``attribution``, ``licence``,
        ``source_path``, ``sha256``, ``crs`` and ``repairs`` (what was changed).

    Raises
    ------
    LayerUnavailableError
        If *path* does not exist.
    LayerReadError
        If the file is empty, a folder, in an unsupported format, damaged or
        truncated, a zip with unsafe member names, an incomplete shapefile
        (no ``.shx``/``.dbf``), ambiguous (several layers and no *layer*), or
        lacks *code_col* / *name_col* (the message lists the columns).
    MissingCRSError
        If the file declares no CRS (e.g. a shapefile without ``.prj``) and
        *crs* is not given.
    InvalidParameterError
        If *crs* is not a CRS.
    LayerValidationError
        If blocking problems remain: null or duplicate codes, non-polygon
        layer, NaN/infinite coordinates, coordinates outside Québec (including
        latitude/longitude swapped and metres labelled as degrees), invalid
        geometry when ``repair=False``. All are listed at once.

    Warns
    -----
    LayerQualityWarning
        For codes stored as numbers, a replaced CRS, text that was not UTF-8,
        repairs made, overlaps and gaps (when *tiles*), features partly outside
        Québec.

    Notes
    -----
    Order of work: read; check columns; codes as text; names repaired
    (:func:`geodecoupage.layers._text.repair_names`); CRS; validation in the
    source CRS (so that swapped axes or metres labelled as degrees are
    recognised before any reprojection); reprojection to EPSG:32198; repair;
    final validation (:func:`geodecoupage.layers.validate.validate_layer`).
    """
    source = Path(path)
    shown = str(source)
    _check_path(source)
    sha = _sha256(source)
    if _suffix(source) == ".zip":
        with _unzipped(source, layer) as inner:
            shown = f"{source}!{inner.name}"
            inner_layer = layer if _suffix(inner) == ".gpkg" else None
            read = _read_any(inner, shown, inner_layer, repair=repair)
    else:
        read = _read_any(source, shown, layer, repair=repair)
    raw, encoding = read.frame, read.encoding
    label = f"{key} ({source.name})"
    if encoding is not None:
        warnings.warn(
            f"Territory file {shown!r}: its text is not valid UTF-8; it was read as "
            f"{'Windows-1252' if encoding == 'cp1252' else 'Latin-1'}. Check the "
            f"accents of the names; save the file as UTF-8 to avoid this.",
            LayerQualityWarning,
            stacklevel=2,
        )
    if len(raw) == 0:
        empty = Issue(
            "error",
            "empty-layer",
            f"Territory file {shown!r} holds no feature. Check that the export "
            f"included the features (not only the layer definition), or the layer "
            f"chosen.",
        )
        raise LayerValidationError(label, [empty])
    code_col = _find_column(raw, code_col, "unit codes (code_col)", shown)
    codes = _codes(raw[code_col], code_col, shown)
    if name_col is not None:
        name_col = _find_column(raw, name_col, "unit names (name_col)", shown)
        names = repair_names(raw[name_col].astype(object)).astype("string")
    else:
        names = codes.copy()
    index = pd.Index(codes.array, dtype="string", name="code")
    gdf = gpd.GeoDataFrame(
        {"nom": names.array, "layer": pd.array([key] * len(raw), dtype="string")},
        geometry=shapely.force_2d(raw.geometry.array),  # Z and M are not used
        crs=raw.crs,
        index=index,
    )
    if read.fixed_wkb is not None and read.fixed_wkb.any():
        fixed = [str(c) for c in codes[read.fixed_wkb].fillna("<null>")]
        shown_codes = ", ".join(map(repr, fixed[:5]))
        more = f" and {len(fixed) - 5} more" if len(fixed) > 5 else ""
        warnings.warn(
            f"Territory file {shown!r}: {len(fixed)} geometr"
            f"{'y' if len(fixed) == 1 else 'ies'} had unclosed rings or rings of "
            f"too few points ({shown_codes}{more}); they were closed while reading "
            f"(shapely on_invalid='fix'). Check their shapes.",
            LayerQualityWarning,
            stacklevel=2,
        )
    gdf = _set_crs(gdf, crs, shown=shown, no_prj=read.no_prj)
    part_changes: tuple[str, ...] = ()
    if dissolve and gdf.index.has_duplicates and gdf.index.notna().all():
        # The parts are checked (non-finite coordinates, non-polygons...) and, when
        # repairing, made valid *before* the union: GEOS cannot union them otherwise.
        pre = validate_layer(gdf, name=label, tiles=False, _validity=not repair)
        fatal = [
            i for i in unrepairable(pre, repair=repair) if i.code != "duplicate-code"
        ]
        if fatal:
            raise LayerValidationError(label, fatal)
        if repair:
            repaired = repair_layer(gdf, name=label)
            gdf, part_changes = repaired.gdf, repaired.changes
        n = len(gdf)
        geom = gdf.geometry.name
        parts = gdf.reset_index()
        out = parts[["code", geom]].dissolve(by="code", sort=False)
        out = out.join(parts.groupby("code", sort=False)[["nom", "layer"]].first())
        gdf = gpd.GeoDataFrame(out[["nom", "layer", geom]], geometry=geom, crs=gdf.crs)
        gdf.index = pd.Index(gdf.index, dtype="string", name="code")
        logger.info("%s: dissolved %d features into %d units", label, n, len(gdf))

    # Validity is tested after repair, in the work CRS; skip it here when repairing.
    pre = validate_layer(gdf, name=label, tiles=False, _validity=not repair)
    fatal = unrepairable(pre, repair=repair)
    if fatal:
        raise LayerValidationError(label, fatal)
    try:
        gdf = gdf.to_crs(WORK_CRS)
    except Exception as err:  # pyproj errors on exotic CRS definitions
        msg = (
            f"{label}: cannot reproject from {gdf.crs} to {WORK_CRS} ({err}). Check "
            f"the declared CRS."
        )
        raise LayerReadError(msg) from err
    changes: tuple[str, ...] = part_changes
    if repair:
        result = repair_layer(gdf, name=label)
        gdf, changes = result.gdf, changes + result.changes
        if changes:
            warnings.warn(
                "Repaired: " + "; ".join(changes) + ".",
                LayerQualityWarning,
                stacklevel=2,
            )
    issues = validate_layer(gdf, name=label, tiles=tiles)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        if any(i.code == "empty-layer" for i in errors):
            # Repair left nothing: the original problems explain why.
            errors = [i for i in pre if i.severity == "error"] or errors
        raise LayerValidationError(label, errors)
    for issue in issues:
        warnings.warn(issue.message, LayerQualityWarning, stacklevel=2)
    gdf.attrs = {
        "layer": key,
        "title_fr": key,
        "title_en": key,
        "vintage": "",
        "attribution": "",
        "licence": "",
        "source_path": str(source),
        "sha256": sha,
        "crs": WORK_CRS,
        "repairs": changes,
    }
    return gdf
