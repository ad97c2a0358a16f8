"""Save an atlas to a file and read it back: build once, audit many times.

:func:`save_atlas` writes an :class:`~geodecoupage.overlay.atlas.Atlas` (atoms,
slivers, layer order and parameters) to a GeoPackage or a GeoParquet file;
:func:`read_atlas` gives back an atlas equal to the one saved, so every crosswalk,
score, map and report computed on it is identical to one computed on the atlas just
built (``geodecoupage audit --atlas FILE``).

File formats (format ``geodecoupage-atlas``, version :data:`FORMAT_VERSION`):

GeoPackage (``.gpkg``)
    Layer ``atoms`` (the polygons, with an ``atom`` column: the columns that
    ``geodecoupage atlas build`` has always written, so QGIS users see the same
    table), attribute table ``slivers`` (one row per sliver piece, ``sliver``
    column for its number) and attribute table ``atlas_metadata`` (``key``,
    ``value``: one JSON document per row, readable in QGIS or ``sqlite3``).
GeoParquet (``.parquet``, ``.geoparquet``)
    The atoms as GeoParquet (read by any GeoParquet reader), and one JSON document
    under the key ``geodecoupage_atlas`` of the file's key-value metadata holding
    the metadata *and* the slivers table. One file, no sidecar that could be lost
    or mismatched when a file is copied. The price: the slivers sit in the footer
    (province atlas of mrc, cisss, rls, css, cs_anglo: 70 846 sliver rows, 9.5 MB
    of JSON in a 27 MB file; saved in 2.1 s, read back in 1.2 s). The GeoPackage
    (15.8 MB, read in 0.9 s) keeps them in a table and is the default of the
    documentation.

The metadata holds the format and its version, the version of geodecoupage that
wrote it, the layer keys in order, the atlas parameters and the columns and dtypes
of both tables, which are restored exactly on reading.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import atomic_path
from geodecoupage.crs import WORK_CRS
from geodecoupage.errors import AtlasReadError, InvalidParameterError
from geodecoupage.overlay.atlas import Atlas

logger = logging.getLogger(__name__)

__all__ = ["ATLAS_SUFFIXES", "FORMAT", "FORMAT_VERSION", "read_atlas", "save_atlas"]

#: Name of the file format, stored in every saved atlas.
FORMAT = "geodecoupage-atlas"
#: Version of the file format this library writes and the newest it reads.
FORMAT_VERSION = 1
#: File suffixes and their format.
ATLAS_SUFFIXES: Mapping[str, Literal["gpkg", "parquet"]] = {
    ".gpkg": "gpkg",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}

_META_TABLE = "atlas_metadata"
_PARQUET_KEY = b"geodecoupage_atlas"
_ATOMS = "atoms"
_SLIVERS = "slivers"
_REQUIRED = ("area_m2", "population", "n_parts")
_REBUILD = (
    "Rebuild it with `geodecoupage atlas build --layers ... -o FILE` or "
    "geodecoupage.overlay.save_atlas(build_atlas(...), FILE)."
)


# -- parameters as JSON ----------------------------------------------------------


def _encode(value: Any, where: str) -> Any:
    """JSON-able form of *value*; tuples and non-finite floats are tagged."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else {"$float": repr(f)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return {
            "$array": _encode(value.tolist(), where),
            "dtype": value.dtype.str,
        }
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {
            "$items": [
                [_encode(k, where), _encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }
    msg = (
        f"Cannot save the atlas: {where} is a {type(value).__name__}, which has no "
        f"JSON form. Atlas parameters must be None, bool, int, float, str, lists, "
        f"tuples, numpy arrays or mappings of these; convert it (e.g. to str) "
        f"before saving."
    )
    raise InvalidParameterError(msg)


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"$float"}:
        return float(value["$float"])
    if value.keys() == {"$tuple"}:
        return tuple(_decode(v) for v in value["$tuple"])
    if value.keys() == {"$array", "dtype"}:
        return np.asarray(_decode(value["$array"]), dtype=np.dtype(value["dtype"]))
    if value.keys() == {"$items"}:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["$items"]}
    return {k: _decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


# -- tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """Column order, dtypes and index name of a table, to restore it exactly."""

    columns: list[str]
    dtypes: dict[str, str]
    index: str | None
    range_index: bool

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Schema:
        geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
        return cls(
            columns=[str(c) for c in frame.columns],
            dtypes={str(c): str(t) for c, t in frame.dtypes.items() if str(c) != geom},
            index=None if frame.index.name is None else str(frame.index.name),
            range_index=isinstance(frame.index, pd.RangeIndex)
            and frame.index.start == 0
            and frame.index.step == 1,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "dtypes": self.dtypes,
            "index": self.index,
            "range_index": self.range_index,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> _Schema:
        return cls(
            columns=list(doc["columns"]),
            dtypes=dict(doc["dtypes"]),
            index=doc["index"],
            range_index=bool(doc["range_index"]),
        )


def _index_column(schema: _Schema) -> str:
    return schema.index if schema.index is not None else "__index__"


def _restore_column(values: pd.Series, dtype: str) -> Any:
    if dtype == "object":
        obj = values.astype(object)
        return obj.where(obj.notna(), None)
    return values.astype(dtype)


def _restore(frame: pd.DataFrame, schema: _Schema, *, what: str) -> pd.DataFrame:
    """Reorder columns, restore dtypes and the index recorded in *schema*."""
    key = _index_column(schema)
    if key in frame.columns:
        idx = frame[key].to_numpy()
        frame = frame.drop(columns=[key])
        if schema.range_index and np.array_equal(idx, np.arange(len(idx))):
            index: pd.Index = pd.RangeIndex(len(idx), name=schema.index)
        else:
            index = pd.Index(idx, name=schema.index)
        frame = frame.set_axis(index, axis=0)
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        msg = f"its {what} lack the column(s) {', '.join(missing)}"
        raise ValueError(msg)
    frame = frame[schema.columns]
    data = {
        c: _restore_column(frame[c], schema.dtypes[c])
        for c in schema.columns
        if c in schema.dtypes
    }
    out = frame.copy()
    for c, v in data.items():
        out[c] = v
    return out


def _flat(frame: pd.DataFrame, schema: _Schema) -> pd.DataFrame:
    """*frame* with its index as a column (to write it)."""
    out = frame.copy()
    out.insert(0, _index_column(schema), frame.index.to_numpy())
    return out.reset_index(drop=True)


def _slivers_json(slivers: pd.DataFrame) -> dict[str, Any]:
    schema = _Schema.of(slivers)
    data = {
        c: [_encode(v, f"slivers[{c!r}]") for v in slivers[c].tolist()]
        for c in slivers.columns
    }
    idx = [_encode(v, "slivers.index") for v in slivers.index.tolist()]
    return {"schema": schema.to_json(), "index": idx, "data": data}


def _slivers_from_json(doc: Mapping[str, Any]) -> pd.DataFrame:
    schema = _Schema.from_json(doc["schema"])
    data = {c: [_decode(v) for v in doc["data"][c]] for c in schema.columns}
    frame = pd.DataFrame(data, columns=schema.columns, dtype=object)
    frame.insert(0, _index_column(schema), [_decode(v) for v in doc["index"]])
    return _restore(frame, schema, what="slivers")


# -- writing -------------------------------------------------------------------------


def _format_of(path: Path) -> Literal["gpkg", "parquet"]:
    fmt = ATLAS_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        msg = (
            f"Cannot tell the atlas format of {str(path)!r}: name the file .gpkg "
            f"(GeoPackage) or .parquet (GeoParquet)."
        )
        raise InvalidParameterError(msg)
    return fmt


def _metadata(atlas: Atlas) -> dict[str, Any]:
    from geodecoupage import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "geodecoupage_version": __version__,
        "layers": list(atlas.layers),
        "crs": WORK_CRS,
        "params": _encode(dict(atlas.params), "params"),
        _ATOMS: _Schema.of(atlas.atoms).to_json(),
    }


def _check_saveable(atlas: Atlas) -> None:
    atoms = atlas.atoms
    missing = [c for c in (*atlas.layers, *_REQUIRED) if c not in atoms.columns]
    if missing:
        msg = (
            f"Cannot save the atlas: its atoms lack the column(s) "
            f"{', '.join(missing)}. Save an atlas made by build_atlas."
        )
        raise InvalidParameterError(msg)
    crs = atoms.crs
    if crs is None or crs.to_epsg() != 32198:
        msg = (
            f"Cannot save the atlas: its atoms are in {crs or 'no CRS'}, not "
            f"{WORK_CRS}. Save an atlas made by build_atlas."
        )
        raise InvalidParameterError(msg)


def save_atlas(
    atlas: Atlas, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write *atlas* to a GeoPackage or GeoParquet file that :func:`read_atlas` reads.

    Parameters
    ----------
    atlas
        The atlas (see :func:`geodecoupage.overlay.build_atlas`).
    path
        Destination: ``.gpkg`` (GeoPackage: layers ``atoms``, ``slivers``,
        ``atlas_metadata``) or ``.parquet`` / ``.geoparquet`` (GeoParquet atoms,
        metadata and slivers in the file's key-value metadata); see the module
        documentation.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    InvalidParameterError
        If the suffix of *path* is neither ``.gpkg`` nor ``.parquet``, the atoms
        lack a layer column, ``area_m2``, ``population`` or ``n_parts``, are not
        in EPSG:32198, or a parameter has no JSON form.

    Notes
    -----
    Parameters are stored as JSON with tags that keep what JSON lacks: tuples
    stay tuples, NaN and infinities stay floats, numpy arrays stay arrays,
    mappings with non-string keys keep their keys. Numpy scalars become the
    Python ``bool``, ``int`` or ``float`` of the same value (equal to it). The
    file is written atomically (:func:`geodecoupage._io.atomic_path`).

    Examples
    --------
    >>> from geodecoupage.datasets import demo_layers
    >>> from geodecoupage.overlay import build_atlas, read_atlas, save_atlas
    >>> atlas = build_atlas(demo_layers())
    >>> path = save_atlas(atlas, tmp / "atlas.gpkg")  # doctest: +SKIP
    >>> read_atlas(path).crosswalk("mrc", "rls")  # doctest: +SKIP
    """
    dest = Path(path)
    fmt = _format_of(dest)
    _check_saveable(atlas)
    meta = _metadata(atlas)
    atoms_schema = _Schema.of(atlas.atoms)
    atoms = _flat(atlas.atoms, atoms_schema)
    slivers = atlas.slivers
    with atomic_path(dest, overwrite=overwrite) as tmp:
        if fmt == "gpkg":
            _write_gpkg(tmp, atoms, slivers, meta)
        else:
            meta[_SLIVERS] = _slivers_json(slivers)
            _write_parquet(tmp, atoms, meta)
    logger.info(
        "atlas of %s saved: %d atoms, %d sliver rows -> %s",
        ", ".join(atlas.layers),
        len(atlas.atoms),
        len(slivers),
        dest,
    )
    return dest


def _write_gpkg(
    tmp: Path, atoms: gpd.GeoDataFrame, slivers: pd.DataFrame, meta: dict[str, Any]
) -> None:
    import pyogrio

    # Keep Polygon and MultiPolygon as they are (no promotion to multi): the
    # atlas read back must have the same geometries.
    pyogrio.write_dataframe(
        atoms,
        tmp,
        layer=_ATOMS,
        driver="GPKG",
        promote_to_multi=False,
        geometry_type="Unknown",
    )
    if len(slivers.columns):
        schema = _Schema.of(slivers)
        meta[_SLIVERS] = schema.to_json()
        pyogrio.write_dataframe(
            _flat(slivers, schema), tmp, layer=_SLIVERS, driver="GPKG"
        )
    else:
        meta[_SLIVERS] = None
    rows = pd.DataFrame(
        {
            "key": list(meta),
            "value": [json.dumps(v, ensure_ascii=False) for v in meta.values()],
        }
    )
    pyogrio.write_dataframe(rows, tmp, layer=_META_TABLE, driver="GPKG")


def _write_parquet(tmp: Path, atoms: gpd.GeoDataFrame, meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    atoms.to_parquet(buffer, index=False)
    table = pq.read_table(pa.BufferReader(buffer.getvalue()))
    doc = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _PARQUET_KEY: doc}
    )
    pq.write_table(table, tmp)


# -- reading -------------------------------------------------------------------------


def _fail(path: Path, what: str, fix: str = _REBUILD) -> AtlasReadError:
    return AtlasReadError(f"{str(path)!r} is not a readable atlas: {what}. {fix}")


def read_atlas(path: str | os.PathLike[str]) -> Atlas:
    """Read an atlas written by :func:`save_atlas` (or ``geodecoupage atlas build``).

    Parameters
    ----------
    path
        A ``.gpkg``, ``.parquet`` or ``.geoparquet`` file.

    Returns
    -------
    Atlas
        Equal to the atlas saved: same atoms (codes, dtypes, geometry, index),
        layer order, parameters (see :func:`save_atlas` Notes) and slivers.

    Raises
    ------
    InvalidParameterError
        If the suffix is neither ``.gpkg`` nor ``.parquet``.
    AtlasReadError
        If the file is missing or unreadable, or is not an atlas: no atlas
        metadata (e.g. a GeoPackage of atoms written by geodecoupage 0.x before
        atlases could be saved), a format version newer than this library reads,
        missing code or value columns, a CRS other than EPSG:32198.
    """
    src = Path(path)
    fmt = _format_of(src)
    if not src.is_file():
        raise _fail(src, "no such file", "Check the path, or build the atlas first.")
    try:
        if fmt == "gpkg":
            meta, atoms, slivers_frame = _read_gpkg(src)
        else:
            meta, atoms = _read_parquet(src)
            slivers_frame = None
    except AtlasReadError:
        raise
    except Exception as err:  # the drivers raise many types for a corrupt file
        raise _fail(src, f"{type(err).__name__}: {err}") from err
    _check_meta(src, meta)
    layers = tuple(str(k) for k in meta["layers"])
    try:
        atoms = _restore(atoms, _Schema.from_json(meta[_ATOMS]), what="atoms")
        if fmt == "gpkg":
            sliv_doc = meta.get(_SLIVERS)
            slivers = (
                pd.DataFrame()
                if sliv_doc is None or slivers_frame is None
                else _restore(
                    slivers_frame, _Schema.from_json(sliv_doc), what="slivers"
                )
            )
        else:
            slivers = _slivers_from_json(meta[_SLIVERS])
        params = _decode(meta["params"])
    except ValueError as err:
        raise _fail(src, str(err)) from err
    except (KeyError, TypeError) as err:
        raise _fail(src, f"its metadata is incomplete ({err!r})") from err
    atoms = _check_atoms(src, atoms, layers)
    return Atlas(atoms=atoms, layers=layers, params=params, slivers=slivers)


def _read_gpkg(path: Path) -> tuple[dict[str, Any], Any, pd.DataFrame | None]:
    import pyogrio

    names = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
    if _META_TABLE not in names:
        raise _fail(
            path,
            f"it has no {_META_TABLE!r} table (layers: {', '.join(sorted(names))}); "
            f"it may be a GeoPackage of atoms written before atlases could be read "
            f"back, or another GeoPackage",
        )
    rows = pyogrio.read_dataframe(path, layer=_META_TABLE, read_geometry=False)
    try:
        meta = {
            str(k): json.loads(v)
            for k, v in zip(rows["key"], rows["value"], strict=True)
        }
    except (KeyError, TypeError, ValueError) as err:
        raise _fail(path, f"its {_META_TABLE!r} table is not valid JSON") from err
    _check_meta(path, meta)
    if _ATOMS not in names:
        raise _fail(path, f"it has no {_ATOMS!r} layer")
    atoms = pyogrio.read_dataframe(path, layer=_ATOMS)
    slivers = (
        pd.DataFrame(pyogrio.read_dataframe(path, layer=_SLIVERS, read_geometry=False))
        if _SLIVERS in names
        else None
    )
    return meta, atoms, slivers


def _read_parquet(path: Path) -> tuple[dict[str, Any], Any]:
    import pyarrow.parquet as pq

    kv = pq.read_schema(path).metadata or {}
    raw = kv.get(_PARQUET_KEY)
    if raw is None:
        raise _fail(
            path,
            f"its Parquet metadata has no {_PARQUET_KEY.decode()!r} key; it may be "
            f"a GeoParquet of atoms written before atlases could be read back, or "
            f"another GeoParquet file",
        )
    try:
        meta = json.loads(raw.decode("utf-8"))
    except ValueError as err:
        raise _fail(path, "its atlas metadata is not valid JSON") from err
    if not isinstance(meta, dict):
        raise _fail(path, "its atlas metadata is not a JSON object")
    _check_meta(path, meta)
    return meta, gpd.read_parquet(path)


def _check_meta(path: Path, meta: Mapping[str, Any]) -> None:
    if meta.get("format") != FORMAT:
        raise _fail(path, f"its metadata names the format {meta.get('format')!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail(path, f"its format version {version!r} is not an integer")
    if version > FORMAT_VERSION:
        writer = meta.get("geodecoupage_version", "?")
        raise _fail(
            path,
            f"it uses atlas format version {version} (written by geodecoupage "
            f"{writer}), newer than the version {FORMAT_VERSION} this library reads",
            "Upgrade geodecoupage (pip install -U geodecoupage), or rebuild the "
            "atlas with this version.",
        )
    absent = [k for k in ("layers", "params", _ATOMS, _SLIVERS) if k not in meta]
    if absent:
        raise _fail(path, f"its metadata lacks {', '.join(absent)}")


def _check_atoms(path: Path, atoms: Any, layers: tuple[str, ...]) -> gpd.GeoDataFrame:
    if not isinstance(atoms, gpd.GeoDataFrame):
        raise _fail(path, "its atoms have no geometry")
    missing = [c for c in (*layers, *_REQUIRED) if c not in atoms.columns]
    if missing:
        raise _fail(path, f"its atoms lack the column(s) {', '.join(missing)}")
    crs = atoms.crs
    if crs is None or crs.to_epsg() != 32198:
        raise _fail(
            path,
            f"its atoms are in {crs.to_string() if crs is not None else 'no CRS'}, "
            f"not {WORK_CRS} (it was reprojected or edited after it was saved)",
        )
    return atoms
