"""Inputs shared by the commands and batch runs: layers and population, logged.

Command-line runs and batch audits read the same things the same way: catalogue
layers whose quality warnings go to the log (stderr), not to the machine-readable
output, the census population surface when the data directory has it, and a
user's own territory (a file of units, e.g. the territories of local
coordination tables) read next to the catalogue layers under its own key.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import geopandas as gpd
import shapely

from geodecoupage.errors import (
    CoverageError,
    InvalidParameterError,
    LayerUnavailableError,
)
from geodecoupage.i18n import pick

if TYPE_CHECKING:
    from geodecoupage.metrics.region import RegionSelection
    from geodecoupage.overlay.atlas import Atlas

logger = logging.getLogger(__name__)

__all__ = [
    "SavedAtlasInputs",
    "TerritorySource",
    "check_territory_coverage",
    "read_inputs",
    "read_layers",
    "read_population",
    "read_saved_atlas",
    "read_territory_input",
    "select_inputs_region",
]

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class TerritorySource:
    """Where and how to read a user's territory (see :func:`read_territory`).

    Attributes
    ----------
    path
        The file (GeoPackage, GeoJSON, Shapefile, GeoParquet, FlatGeobuf, zip).
    code_col
        Column of unit codes.
    name_col
        Column of unit names (default: the code).
    layer
        Layer inside a multi-layer file (GeoPackage, zip).
    crs
        The file's CRS when it declares none or a wrong one, e.g. ``"EPSG:4326"``.
    dissolve
        Merge features that share a code.
    key
        Layer key of the territory in the atlas, tables and maps; must differ
        from every catalogue key.
    """

    path: Path
    code_col: str
    name_col: str | None = None
    layer: str | None = None
    crs: str | None = None
    dissolve: bool = False
    key: str = "territoire"


def _check_key(key: str) -> None:
    from geodecoupage.layers import LAYER_KEYS

    if key in LAYER_KEYS:
        msg = (
            f"The territory key {key!r} is already a catalogue layer key "
            f"({', '.join(LAYER_KEYS)}): the two layers would be confused. Give the "
            f"territory another key (--territory-key on the command line, key= in "
            f"Python), e.g. 'territoire' or 'demarches'."
        )
        raise InvalidParameterError(msg)
    if not _KEY_RE.match(key):
        msg = (
            f"The territory key {key!r} is not a valid layer key: use letters, "
            f"digits, '_' or '-', starting with a letter, e.g. 'demarches'."
        )
        raise InvalidParameterError(msg)


def read_territory_input(
    source: TerritorySource, *, lang: str = "fr"
) -> gpd.GeoDataFrame:
    """Read a user's territory; log its quality warnings; label it as user data.

    The layer's ``attrs`` name it for maps and reports: the file name as title,
    "fourni par l'utilisateur" / "supplied by the user" (in *lang*) as its
    attribution, no vintage and no licence.

    Parameters
    ----------
    source
        The file and how to read it.
    lang
        Language of the attribution, ``"fr"`` (default) or ``"en"``.

    Returns
    -------
    geopandas.GeoDataFrame
        The canonical layer of :func:`geodecoupage.layers.read_territory`, with
        ``layer`` equal to ``source.key``.

    Raises
    ------
    InvalidParameterError
        If ``source.key`` is a catalogue key or not a valid key.
    LayerUnavailableError, LayerReadError, MissingCRSError, LayerValidationError
        As :func:`geodecoupage.layers.read_territory`.
    """
    from geodecoupage.layers import read_territory

    _check_key(source.key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdf = read_territory(
            source.path,
            code_col=source.code_col,
            name_col=source.name_col,
            layer=source.layer,
            key=source.key,
            crs=source.crs,
            dissolve=source.dissolve,
        )
    for w in caught:
        logger.warning("%s: %s", source.key, w.message)
    name = Path(source.path).name
    gdf.attrs.update(
        title_fr=name,
        title_en=name,
        attribution=pick(
            lang,
            fr=f"{source.key} : fourni par l'utilisateur ({name})",
            en=f"{source.key}: supplied by the user ({name})",
        ),
        licence="",
    )
    return gdf


def _overlaps_any(units: gpd.GeoDataFrame, other: gpd.GeoDataFrame) -> np.ndarray:
    """Boolean per unit of *units*: its interior meets the interior of *other*."""
    out = np.zeros(len(units), dtype=bool)
    if units.empty or other.empty:
        return out
    geoms = np.asarray(units.geometry.array, dtype=object)
    hit_in, hit_tree = other.sindex.query(geoms, predicate="intersects")
    if hit_in.size == 0:
        return out
    target = np.asarray(other.geometry.array, dtype=object)[hit_tree]
    inner = ~shapely.touches(geoms[hit_in], target)
    out[np.unique(hit_in[inner])] = True
    return out


def _where(gdf: gpd.GeoDataFrame) -> str:
    """The layer's extent in longitude/latitude, flagged when outside Québec."""
    from geodecoupage.crs import QUEBEC_BOUNDS_LONLAT

    if gdf.empty:
        return "no unit"
    x0, y0, x1, y1 = gdf.to_crs("EPSG:4326").total_bounds
    text = f"lon {x0:.2f} to {x1:.2f}, lat {y0:.2f} to {y1:.2f}"
    qx0, qy0, qx1, qy1 = QUEBEC_BOUNDS_LONLAT
    if x1 < qx0 or x0 > qx1 or y1 < qy0 or y0 > qy1:
        text += f", outside Québec (lon {qx0:g} to {qx1:g}, lat {qy0:g} to {qy1:g})"
    return text


def check_territory_coverage(
    layers: Mapping[str, gpd.GeoDataFrame],
    key: str,
    *,
    against: Sequence[str] | None = None,
    region: str | None = None,
) -> None:
    """Raise when the layer *key* shares no territory with the other layers.

    A unit shares territory with a layer when their interiors meet (touching
    along an edge does not count). Units of *key* that share nothing with any
    other layer are logged (they will have empty crosswalks); when no unit
    shares anything, no analysis is possible and :class:`CoverageError` is
    raised before any output is written.

    Parameters
    ----------
    layers
        Canonical layers in the same CRS, *key* among them.
    key
        The layer to check (the user's territory).
    against
        The layers to compare with (default: every other layer of *layers*).
    region
        When *against* is the MRC of one region: its code, for the message.

    Raises
    ------
    CoverageError
        If no unit of *key* shares territory with *against*.
    """
    units = layers[key]
    others = [k for k in (against if against is not None else layers) if k != key]
    if not others:
        return
    shared = np.zeros(len(units), dtype=bool)
    for k in others:
        shared |= _overlaps_any(units, layers[k])
    source = Path(str(units.attrs.get("source_path") or "")).name
    label = f"{key!r}" + (f" ({source})" if source else "")
    if not shared.any():
        where = f"region {region}" if region is not None else ", ".join(others)
        msg = (
            f"The territory {label}, {len(units)} unit(s) at {_where(units)}, "
            f"shares no territory with {where}: its units lie outside "
            f"{'it' if region is not None else 'them'} or only touch "
            f"{'its' if region is not None else 'their'} edges, so there is "
            f"nothing to audit, map or "
            f"crosswalk. Check the file's coordinate system (a file whose CRS is "
            f"missing or wrong lands far from where it should; declare the true "
            f"one with --crs, e.g. --crs EPSG:4326) or choose layers"
            + (" (or a region)" if region is not None else "")
            + " that cover it."
        )
        raise CoverageError(msg)
    if not shared.all():
        lost = sorted(map(str, units.index[~shared]))
        logger.warning(
            "%s: %d unit(s) share no territory with %s: %s.",
            key,
            len(lost),
            f"region {region}" if region is not None else ", ".join(others),
            ", ".join(lost[:10]) + (" …" if len(lost) > 10 else ""),
        )


def read_inputs(
    keys: Iterable[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    territory: TerritorySource | None = None,
    lang: str = "fr",
) -> dict[str, gpd.GeoDataFrame]:
    """Read catalogue layers and, optionally, a user's territory under its key.

    The territory comes first in the result, then the catalogue layers in the
    order of *keys*. With a territory and at least one catalogue layer, the
    territory must share some territory with them
    (:func:`check_territory_coverage`).

    Parameters
    ----------
    keys
        Catalogue layer keys.
    data_dir
        Data directory (default: ``$GEODECOUPAGE_DATA``, then the user cache).
    territory
        The user's territory, or None.
    lang
        Language of the territory's attribution.

    Returns
    -------
    dict
        ``{key: canonical layer}``.

    Raises
    ------
    InvalidParameterError
        If the territory's key is a catalogue key (listed in *keys* or not).
    CoverageError
        If the territory shares no territory with the catalogue layers.
    UnknownLayerError, LayerUnavailableError, LayerReadError, DataIntegrityError
        As :func:`read_layers` and :func:`read_territory_input`.
    """
    keys = list(dict.fromkeys(keys))
    if territory is None:
        return read_layers(keys, data_dir)
    _check_key(territory.key)
    out = {territory.key: read_territory_input(territory, lang=lang)}
    out.update(read_layers(keys, data_dir))
    check_territory_coverage(out, territory.key)
    return out


def select_inputs_region(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    region: str,
    territory_key: str | None = None,
) -> RegionSelection:
    """Keep what a region audit needs (:func:`select_region`), territory included.

    The territory is one more layer: its units that meet the region, and those
    that meet a unit meeting the region, are kept whole; the audit reports the
    ones with atoms inside the region.

    Raises
    ------
    InvalidParameterError
        As :func:`geodecoupage.metrics.region.select_region`.
    CoverageError
        If no unit of the territory meets the region.
    """
    from geodecoupage.metrics.region import select_region

    sel = select_region(layers, region=region)
    if territory_key is not None:
        mrc = sel.layers["mrc"]
        inside = {
            territory_key: layers[territory_key],  # whole, for the message
            "mrc": mrc[mrc.index.isin(sel.mrc_codes)],
        }
        check_territory_coverage(
            inside, territory_key, against=["mrc"], region=sel.region
        )
    return sel


def read_layers(
    keys: Iterable[str], data_dir: str | os.PathLike[str] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read each catalogue layer once; log its quality warnings instead of raising.

    Raises
    ------
    UnknownLayerError, LayerUnavailableError, LayerReadError, DataIntegrityError
        As :func:`geodecoupage.layers.read_layer`.
    """
    from geodecoupage.layers import read_layer

    out: dict[str, gpd.GeoDataFrame] = {}
    for key in dict.fromkeys(keys):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out[key] = read_layer(key, data_dir=data_dir)
        for w in caught:
            logger.warning("%s: %s", key, w.message)
    return out


def read_population(
    data_dir: str | os.PathLike[str] | None = None, *, required: bool = False
) -> Any:
    """Return the census population surface, or None when the data lacks it.

    With *required*, a missing census file raises instead of returning None.

    Raises
    ------
    LayerUnavailableError
        If *required* and the data directory has no census population files.
    """
    from geodecoupage.overlay.population import population_surface

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            surface = population_surface(data_dir=data_dir)
    except LayerUnavailableError as err:
        if required:
            raise
        logger.warning("No population surface (%s); area weights only.", err)
        return None
    for w in caught:
        logger.warning("population: %s", w.message)
    return surface


@dataclass(frozen=True)
class SavedAtlasInputs:
    """A saved atlas and what an audit, report or map needs besides it.

    Attributes
    ----------
    atlas
        The atlas read back (:func:`geodecoupage.overlay.read_atlas`).
    layers
        ``{key: canonical layer}`` of the catalogue keys asked for (for names and
        maps), reduced to the units a region audit keeps when a region is given
        (:func:`geodecoupage.metrics.region.select_region`); keys of the atlas
        that are not catalogue layers (a user's territory) are absent.
    within
        ``{"mrc": codes}`` of the region, the ``within`` argument of the scores,
        or None for the whole atlas.
    names
        ``{key: {code: name}}`` of the layers read.
    """

    atlas: Atlas
    layers: Mapping[str, gpd.GeoDataFrame]
    within: Mapping[str, tuple[str, ...]] | None
    names: Mapping[str, Mapping[str, str]]


def read_saved_atlas(
    path: str | os.PathLike[str],
    keys: Sequence[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    region: str | None = None,
) -> SavedAtlasInputs:
    """Read a saved atlas for *keys*, and the catalogue layers for names and maps.

    The atlas is used as saved: a region is audited inside it, as the batch
    audit does with the province atlas (``within = {"mrc": codes}``, the MRC of
    the region by the ``regions_code`` of the MRC layer), so a unit that
    straddles two regions keeps the scores it has in the province. (An atlas
    built for the region alone, ``geodecoupage audit --region`` without
    ``--atlas``, agrees up to snapping noise.)

    Parameters
    ----------
    path
        Atlas file written by :func:`geodecoupage.overlay.save_atlas` or
        ``geodecoupage atlas build``.
    keys
        Layer keys to analyse: all must be layers of the atlas.
    data_dir
        Data directory of the catalogue layers (names, maps, region's MRC).
    region
        Two-digit administrative region code, or None.

    Returns
    -------
    SavedAtlasInputs
        The atlas, layers, study territory and names.

    Raises
    ------
    AtlasReadError
        As :func:`geodecoupage.overlay.read_atlas`.
    InvalidParameterError
        If a key is not a layer of the atlas, or *region* is given and the atlas
        has no ``mrc`` layer, or the region code is unknown.
    UnknownLayerError, LayerUnavailableError, LayerReadError, DataIntegrityError
        As :func:`read_layers`.
    """
    from geodecoupage.layers import LAYER_KEYS
    from geodecoupage.overlay.io import read_atlas

    atlas = read_atlas(path)
    held = ", ".join(atlas.layers)
    missing = [k for k in dict.fromkeys(keys) if k not in atlas.layers]
    if missing:
        msg = (
            f"Layer(s) {', '.join(missing)} are not in the atlas {str(path)!r}, "
            f"which holds {held}. Choose among these, or build an atlas with them: "
            f"geodecoupage atlas build --layers {','.join([*atlas.layers, *missing])}"
            f" -o FILE."
        )
        raise InvalidParameterError(msg)
    if region is not None and "mrc" not in atlas.layers:
        msg = (
            f"A region is a set of MRC, but the atlas {str(path)!r} has no mrc "
            f"layer (it holds {held}). Build the atlas with mrc, e.g. geodecoupage "
            f"atlas build --layers {','.join([*atlas.layers, 'mrc'])} -o FILE, or "
            f"leave out the region."
        )
        raise InvalidParameterError(msg)
    read_keys = [k for k in dict.fromkeys(keys) if k in LAYER_KEYS]
    if region is not None and "mrc" not in read_keys:
        read_keys.append("mrc")
    data: dict[str, gpd.GeoDataFrame] = read_layers(read_keys, data_dir)
    within: dict[str, tuple[str, ...]] | None = None
    if region is not None:
        from geodecoupage.metrics.region import select_region

        sel = select_region(data, region=region)
        data = dict(sel.layers)
        within = {"mrc": tuple(sel.mrc_codes)}
    names = {
        k: {str(c): str(n) for c, n in g["nom"].items()}
        for k, g in data.items()
        if "nom" in g.columns
    }
    return SavedAtlasInputs(atlas=atlas, layers=data, within=within, names=names)
