"""Read a catalogue layer from the data directory into the canonical schema."""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import WORK_CRS, to_work_crs
from geodecoupage.errors import (
    DataIntegrityError,
    LayerQualityWarning,
    LayerReadError,
    LayerUnavailableError,
    LayerValidationError,
)
from geodecoupage.layers._datadir import ENV_VAR, resolve_data_dir
from geodecoupage.layers._processors import PROCESSORS
from geodecoupage.layers._registry import LayerSpec, SourceSpec, get_spec
from geodecoupage.layers.territory import _pyogrio_read
from geodecoupage.layers.validate import (
    _finite_mask,
    _polygonal_part,
    check_layer,
    repair_layer,
    unrepairable,
    validate_layer,
)

logger = logging.getLogger(__name__)

__all__ = ["Located", "file_sha256", "locate", "read_layer", "standardise"]


@dataclass(frozen=True)
class Located:
    """Where a layer was found: the source spec and the file, or why not."""

    key: str
    source: SourceSpec | None
    path: Path | None
    reason: str = ""
    derived_from: str | None = None

    @property
    def available(self) -> bool:
        """True when the layer can be read (from a file or derived)."""
        return self.path is not None or self.derived_from is not None


def _find(data_dir: Path, pattern: str) -> Path | None:
    direct = data_dir / pattern
    if "*" not in pattern:
        return direct if direct.is_file() else None
    hits = sorted(p for p in data_dir.glob(pattern) if p.is_file())
    return hits[-1] if hits else None  # the last in name order: newest vintage


def locate(key: str, data_dir: str | os.PathLike[str] | None = None) -> Located:
    """Find layer *key* in the data directory without reading it.

    Raises
    ------
    UnknownLayerError
        If *key* is not a catalogue key.
    """
    spec = get_spec(key)
    root = resolve_data_dir(data_dir)
    if root.is_dir():
        for src in spec.sources:
            path = _find(root, src.path)
            if path is not None:
                return Located(key, src, path)
        if spec.derive:
            parent = locate(str(spec.derive["from"]), root)
            if parent.available:
                return Located(key, None, None, derived_from=parent.key)
    tried = ", ".join(s.path for s in spec.sources) or "(no file pattern)"
    where = (
        f"data directory {str(root)!r}"
        if root.is_dir()
        else f"data directory {str(root)!r} (which does not exist)"
    )
    hint = spec.download.get("url") or spec.download.get("landing_page") or ""
    reason = (
        f"No file for layer {key!r} in the {where}; looked for: {tried}. "
        f"Download it from {hint} and place it there, run "
        f"`geodecoupage data fetch {key}`, or point --data-dir / {ENV_VAR} at a "
        f"folder that has it."
    )
    if key == "clsc":
        reason += " (The local mirror has the CLSC attribute table but no polygons.)"
    return Located(key, None, None, reason=reason)


@cache
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file (cached by path, size and mtime)."""
    st = os.stat(path)
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def _normalise_codes(values: pd.Series, width: int | None) -> pd.Series:
    codes = values.astype("string").str.strip()
    # numbers read from DBF/JSON as floats come back as "123.0"
    codes = codes.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    if width:
        codes = codes.str.zfill(width)
    return codes


def standardise(
    raw: gpd.GeoDataFrame,
    spec: LayerSpec,
    source: SourceSpec,
    *,
    data_dir: Path,
    keep_attributes: bool = False,
) -> gpd.GeoDataFrame:
    """Map a raw source table onto the canonical schema (no validation).

    Returns a GeoDataFrame indexed by ``code`` (str) with ``nom``, ``layer``, the
    parent-code columns of the spec, the extra columns, and geometry in the source
    CRS. Features sharing a code (multi-part units) are dissolved into one.
    """
    from geodecoupage.layers._text import repair_names

    if source.processor:
        raw = PROCESSORS[source.processor](raw, data_dir)
    wanted = {**source.fields, **source.parents, **source.extra}
    missing = sorted({col for col in wanted.values() if col not in raw.columns})
    if missing:
        msg = (
            f"Layer {spec.key!r}: column(s) {', '.join(missing)} missing from the "
            f"source file (columns present: {', '.join(map(str, raw.columns))}). "
            f"The file does not match the catalogue entry {source.path!r}; check "
            f"that it is the right file or vintage."
        )
        raise LayerReadError(msg)
    out = gpd.GeoDataFrame(
        {
            "code": _normalise_codes(raw[source.fields["code"]], source.code_width),
            "nom": repair_names(raw[source.fields.get("nom", source.fields["code"])]),
            "layer": spec.key,
        },
        geometry=raw.geometry.values,
        crs=raw.crs,
    )
    for col, src_col in source.parents.items():
        width = {"regions_code": 2, "rss_code": 2, "cisss_code": 3, "rls_code": 4}
        out[col] = _normalise_codes(raw[src_col], width.get(col))
    for col, src_col in source.extra.items():
        out[col] = (
            repair_names(raw[src_col])
            if raw[src_col].dtype == object
            else (raw[src_col].values)
        )
    if keep_attributes:
        for col in raw.columns:
            if col != raw.geometry.name and col not in out.columns:
                out[f"src_{col}"] = raw[col].values
    if out["code"].duplicated().any() and out["code"].notna().all():
        n_before = len(out)
        geom = out.geometry.name
        geoms = out.geometry.to_numpy()
        finite = _finite_mask(geoms)
        if not finite.all():
            bad_codes = sorted(set(out.loc[~finite, "code"].astype(str)))
            msg = (
                f"Layer {spec.key!r}: {int((~finite).sum())} feature(s) have "
                f"non-finite coordinates (NaN or infinity), codes "
                f"{', '.join(bad_codes[:5])}{' …' if len(bad_codes) > 5 else ''}. "
                f"The file is damaged; download it again or fix those features."
            )
            raise LayerReadError(msg)
        # dissolving needs valid input; the full repair happens later in read_layer
        bad = ~out.geometry.is_valid.to_numpy() & out.geometry.notna().to_numpy()
        if bad.any():
            fixed = shapely.make_valid(out.geometry.to_numpy()[bad])
            out.loc[bad, geom] = [_polygonal_part(g) for g in fixed]
        attrs = out.drop(columns=geom).groupby("code", sort=False).first()
        shapes = out[["code", geom]].dissolve(by="code", sort=False)
        out = gpd.GeoDataFrame(attrs.join(shapes), geometry=geom, crs=raw.crs)
        out = out.reset_index()
        logger.info(
            "%s: dissolved %d features into %d units", spec.key, n_before, len(out)
        )
    ordered = ["code", "nom", "layer", *source.parents, *source.extra]
    ordered += [c for c in out.columns if c not in ordered and c != out.geometry.name]
    return out[[*ordered, out.geometry.name]].set_index("code")


def _read_file(path: Path, key: str) -> gpd.GeoDataFrame:
    if path.stat().st_size == 0:
        msg = (
            f"Layer {key!r}: file {str(path)!r} is empty (0 bytes). Download it again."
        )
        raise LayerReadError(msg)
    try:
        # the same reader as read_territory: GDAL/shapely warnings about NaN
        # coordinates or odd geometry are not leaked; validation reports them
        return _pyogrio_read(path)
    except Exception as err:  # pyogrio raises several DataSourceError types
        msg = (
            f"Layer {key!r}: cannot read {str(path)!r} ({err}). The file is damaged or "
            f"not a vector layer; download it again or check its format."
        )
        raise LayerReadError(msg) from err


def _derive(spec: LayerSpec, parent_key: str, data_dir: Path) -> gpd.GeoDataFrame:
    parent = read_layer(parent_key, data_dir=data_dir)
    by = str(spec.derive["by"])
    keep = [c for c in spec.derive.get("parents", []) if c in parent.columns]
    geom = parent.geometry.name
    shapes = parent[[by, geom]].dissolve(by=by)
    attrs = parent.groupby(by)[keep].first() if keep else None
    out = shapes if attrs is None else shapes.join(attrs)
    out.index = out.index.rename("code")
    out["nom"] = out.index.map(lambda c: f"{spec.title_fr.split(' (')[0]} {c}")
    out["layer"] = spec.key
    return gpd.GeoDataFrame(out, geometry=geom, crs=parent.crs)


def read_layer(
    key: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    repair: bool = True,
    verify: bool = True,
    keep_attributes: bool = False,
) -> gpd.GeoDataFrame:
    """Read catalogue layer *key* into the canonical schema.

    Parameters
    ----------
    key
        A catalogue key, e.g. ``"rls"`` (see :data:`LAYER_KEYS`).
    data_dir
        Data directory; default ``$GEODECOUPAGE_DATA``, then the per-user cache.
    repair
        Fix what can be fixed (``make_valid``, drop empty geometries) and report it
        as :class:`LayerQualityWarning`; otherwise invalid geometry is an error.
    verify
        Check the file's sha256 against the catalogue (when the catalogue has one).
    keep_attributes
        Also keep every source column, prefixed ``src_``.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by the official ``code`` (str, zero-padded as published), with
        ``nom``, ``layer``, parent codes ``<key>_code`` where known and polygon
        geometry in EPSG:32198 (:data:`geodecoupage.crs.WORK_CRS`). ``attrs`` hold
        ``layer``, ``vintage``, ``attribution``, titles, ``source_path``, ``sha256``.

    Raises
    ------
    UnknownLayerError
        If *key* is not a catalogue key.
    LayerUnavailableError
        If no file for the layer is in the data directory (the message says where
        it was looked for and how to get it).
    LayerReadError
        If the file cannot be read or lacks the catalogue's columns.
    DataIntegrityError
        If the file's sha256 or unit count differs from the catalogue.
    LayerValidationError
        If blocking problems remain (no CRS, non-polygons, duplicate codes...).
    """
    spec = get_spec(key)
    root = resolve_data_dir(data_dir)
    found = locate(key, root)
    if not found.available:
        raise LayerUnavailableError(found.reason)
    sha = ""
    if found.derived_from is not None:
        gdf = _derive(spec, found.derived_from, root)
        source_path = f"derived from {found.derived_from}"
        expected = spec.expected_count
        strict = False
    else:
        src, path = found.source, found.path
        if src is None or path is None:  # pragma: no cover - locate() guarantees
            raise LayerUnavailableError(found.reason)
        sha = file_sha256(path)
        if verify and src.sha256 and sha != src.sha256:
            msg = (
                f"Layer {key!r}: {str(path)!r} has sha256 {sha[:12]}…, but the "
                f"catalogue was checked against {src.sha256[:12]}…. The file was "
                f"changed or replaced. Restore it (`geodecoupage data fetch {key}`), "
                f"or pass verify=False if you replaced it on purpose."
            )
            raise DataIntegrityError(msg)
        raw = _read_file(path, key)
        if raw.crs is None and src.source_crs:
            logger.info(
                "%s: file has no CRS; catalogue declares %s", key, src.source_crs
            )
            raw = raw.set_crs(src.source_crs)
        gdf = standardise(
            raw, spec, src, data_dir=root, keep_attributes=keep_attributes
        )
        source_path = str(path)
        expected = src.expected_count or spec.expected_count
        strict = bool(src.sha256)
    # CRS, extent and coordinate errors are looked for in the source CRS before
    # any repair: repairing degrees beyond ±180° or non-finite coordinates
    # overflows in GEOS and can drop the unit without a word.
    fatal = unrepairable(
        validate_layer(gdf, name=key, tiles=False, _validity=not repair),
        repair=repair,
    )
    if fatal:
        raise LayerValidationError(key, fatal)
    if repair:
        result = repair_layer(gdf, name=key)
        gdf = result.gdf
        if result.changes:
            logger.info("%s: repaired: %s", key, "; ".join(result.changes))
    check_layer(gdf, name=key, tiles=False)
    gdf = to_work_crs(gdf, name=key)
    if expected is not None and len(gdf) != expected:
        msg = (
            f"Layer {key!r} has {len(gdf)} units; the catalogue expects {expected} "
            f"({source_path})."
        )
        if strict:
            raise DataIntegrityError(
                msg + " The file is not the one the catalogue knows."
            )
        warnings.warn(msg + " A different vintage?", LayerQualityWarning, stacklevel=2)
    gdf.attrs = {
        "layer": key,
        "title_fr": spec.title_fr,
        "title_en": spec.title_en,
        "vintage": spec.vintage,
        "attribution": spec.attribution,
        "licence": spec.licence,
        "source_path": source_path,
        "sha256": sha,
        "crs": WORK_CRS,
    }
    return gdf
