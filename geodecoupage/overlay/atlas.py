"""The atlas: common refinement of N boundary layers, built once, queried often.

An *atom* is a maximal piece of territory on which every layer has one code (or
none). :func:`build_atlas` computes all atoms of N layers in one pass (see
:mod:`geodecoupage.overlay._engine` for the kernel); every crosswalk, score,
grouping and map of geodecoupage is a group-by on :attr:`Atlas.atoms`.

Method and defaults: ``docs/methodologie.md``, section *Superposition*.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import (
    _TO_AREA,
    AREA_CRS,
    WORK_CRS,
    require_crs,
    to_work_crs,
)
from geodecoupage.errors import (
    CoverageWarning,
    InvalidParameterError,
    LayerValidationError,
    SliverWarning,
    UnknownLayerError,
)
from geodecoupage.layers.validate import (
    Issue,
    _finite_mask,
    _listing,
    _polygonal_part,
)
from geodecoupage.overlay import _engine

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MIN_AREA_M2",
    "DEFAULT_POPULATION_SUPPORT",
    "DEFAULT_SLIVER_SHARE",
    "DEFAULT_SLIVER_WIDTH_M",
    "DEFAULT_SNAP_M",
    "LAND_ONLY_LAYERS",
    "Atlas",
    "PopulationSupport",
    "build_atlas",
]

Weight = Literal["area", "population"]
PopulationSupport = Literal["area", "land"]

#: Snapping grid (m): vertices and intersections are rounded to it.
DEFAULT_SNAP_M = 1.0
#: Pieces smaller than this (m², equal-area) are slivers whatever their shape.
DEFAULT_MIN_AREA_M2 = 10_000.0
#: Pieces thinner than this mean width 2A/P (m) are slivers when they are also a
#: small share of every unit that covers them (see DEFAULT_SLIVER_SHARE).
DEFAULT_SLIVER_WIDTH_M = 20.0
#: Share of a covering unit below which a thin piece is a sliver.
DEFAULT_SLIVER_SHARE = 0.001
#: Where a population polygon's count goes (see :func:`build_atlas`): ``"land"``
#: spreads it over the part of the polygon that every land layer covers.
DEFAULT_POPULATION_SUPPORT: PopulationSupport = "land"
#: Catalogue layers drawn without water (the mirror's RLS are the MSSS territories
#: with StatCan coastal water removed; the CISSS are dissolved from them): by
#: default their coverage is the land on which population is placed. A layer is
#: recognised by ``attrs["layer"]`` (set by :func:`geodecoupage.layers.read_layer`);
#: ``attrs["land_only"] = True`` / ``False`` overrides it for any layer.
LAND_ONLY_LAYERS: frozenset[str] = frozenset({"rls", "cisss"})

_AREA = "area_m2"
_POP = "population"
_RESERVED = frozenset({_AREA, _POP, "geometry", "n_parts"})


@dataclass(frozen=True, eq=False)
class Atlas:
    """Common refinement of N boundary layers (see :func:`build_atlas`).

    Attributes
    ----------
    atoms
        GeoDataFrame in EPSG:32198, one row per atom (a distinct combination of
        codes), index ``atom`` (0..n-1, ordered by codes): one column per layer
        key holding that layer's code (``None`` where the layer does not cover
        the atom), ``area_m2`` (float64, equal-area, see
        :data:`geodecoupage.crs.AREA_CRS`), ``population`` (float64; NaN when no
        population surface was given), ``n_parts`` (number of polygons) and
        ``geometry`` (Polygon or MultiPolygon).
    layers
        Layer keys, in the order given.
    params
        Parameters and measured figures needed to reproduce and audit the atlas:
        ``snap_m``, ``min_area_m2``, ``sliver_width_m``, ``sliver_share``,
        ``work_crs``, ``area_crs``, counts of faces and atoms, sliver count and
        area, overlaps resolved inside each layer, population totals and the
        population rule (``population_support``, ``land_layers``, population
        moved to land and still in each layer's gaps; see :func:`build_atlas`).
    slivers
        One row per sliver piece found: ``area_m2``, ``width_m``,
        ``population``, ``reason`` (``"area"`` or ``"thin"``), ``status``
        (``"merged"`` or ``"isolated"``: no neighbour to merge into, kept as
        is), the codes before (one column per layer) and ``into_atom`` (the atom
        that received it, or -1).
    """

    atoms: gpd.GeoDataFrame
    layers: tuple[str, ...]
    params: Mapping[str, object] = field(default_factory=dict)
    slivers: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        return (
            f"Atlas(layers={self.layers!r}, atoms={len(self.atoms)}, "
            f"area_km2={self.atoms[_AREA].sum() / 1e6:,.1f})"
        )

    def _check(self, key: str) -> None:
        if key not in self.layers:
            msg = (
                f"Layer {key!r} is not in this atlas; it holds "
                f"{', '.join(self.layers)}. Rebuild the atlas with that layer."
            )
            raise UnknownLayerError(msg)

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: Weight = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        """Allocation table between two layers of the atlas (Geocorr style).

        Parameters
        ----------
        source, target
            Layer keys of the atlas (may be equal: the identity table).
        weight
            ``"area"`` or ``"population"`` (adds the population columns).
        include_gaps
            Keep the parts of a unit that the other layer does not cover, as rows
            whose other code is missing (``None``). By default they are left out
            of the table *and* of the share denominators, so shares sum to 1 over
            the covered part.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(source_code, target_code)``, sorted: ``area_m2``,
            ``share_of_source``, ``share_of_target``; with
            ``weight="population"`` also ``population``, ``pop_share_of_source``,
            ``pop_share_of_target`` (NaN where a unit has no population).

        Raises
        ------
        UnknownLayerError
            If *source* or *target* is not a layer of the atlas.
        InvalidParameterError
            If *weight* is neither ``"area"`` nor ``"population"``.

        Notes
        -----
        With :math:`a_{ij}` the area of the atoms in source unit *i* and target
        unit *j*,

        .. math::

            s^{src}_{ij} = \\frac{a_{ij}}{\\sum_k a_{ik}}, \\qquad
            s^{tgt}_{ij} = \\frac{a_{ij}}{\\sum_k a_{kj}}

        so ``crosswalk(b, a)`` is ``crosswalk(a, b)`` with the index levels and
        the two share columns swapped; population shares use the atoms'
        populations the same way.
        """
        self._check(source)
        self._check(target)
        if weight not in ("area", "population"):
            msg = f"weight must be 'area' or 'population', got {weight!r}."
            raise InvalidParameterError(msg)
        atoms = self.atoms
        src = atoms[source].to_numpy(dtype=object)
        tgt = atoms[target].to_numpy(dtype=object)
        keep = np.ones(len(atoms), dtype=bool)
        if not include_gaps:
            keep = ~(pd.isna(src) | pd.isna(tgt))
        frame = pd.DataFrame(
            {
                "source_code": src[keep],
                "target_code": tgt[keep],
                _AREA: atoms[_AREA].to_numpy(dtype="float64")[keep],
                _POP: atoms[_POP].to_numpy(dtype="float64")[keep],
            }
        )
        table = frame.groupby(["source_code", "target_code"], dropna=False, sort=True)[
            [_AREA, _POP]
        ].sum(min_count=1)
        area = table[_AREA]
        out = pd.DataFrame(index=table.index)
        out[_AREA] = area.astype("float64")
        out["share_of_source"] = area / area.groupby(level=0, dropna=False).transform(
            "sum"
        )
        out["share_of_target"] = area / area.groupby(level=1, dropna=False).transform(
            "sum"
        )
        if weight == "population":
            pop = table[_POP].astype("float64")
            out[_POP] = pop
            den_s = pop.groupby(level=0, dropna=False).transform("sum")
            den_t = pop.groupby(level=1, dropna=False).transform("sum")
            out["pop_share_of_source"] = pop / den_s.where(den_s > 0)
            out["pop_share_of_target"] = pop / den_t.where(den_t > 0)
        return out

    def unit_totals(self, key: str) -> pd.DataFrame:
        """Area, population and atom count of every unit of layer *key*.

        Returns
        -------
        pandas.DataFrame
            Indexed by code (``code``): ``area_m2``, ``population``,
            ``n_atoms``, ``gap_area_m2`` (part of the unit that some other
            layer of the atlas does not cover).

        Raises
        ------
        UnknownLayerError
            If *key* is not a layer of the atlas.
        """
        self._check(key)
        atoms = self.atoms
        codes = atoms[key]
        others = [k for k in self.layers if k != key]
        gap = (
            atoms[others].isna().any(axis=1)
            if others
            else pd.Series(False, atoms.index)
        )
        frame = pd.DataFrame(
            {
                "code": codes.to_numpy(dtype=object),
                _AREA: atoms[_AREA].to_numpy(dtype="float64"),
                _POP: atoms[_POP].to_numpy(dtype="float64"),
                "gap_area_m2": np.where(gap, atoms[_AREA].to_numpy(), 0.0),
            }
        ).dropna(subset=["code"])
        grouped = frame.groupby("code", sort=True)
        out = grouped[[_AREA, _POP]].sum(min_count=1)
        out["n_atoms"] = grouped.size().astype("int64")
        out["gap_area_m2"] = grouped["gap_area_m2"].sum()
        return out

    def coverage(self) -> pd.DataFrame:
        """How much of the atlas each layer covers, and the gaps.

        The atlas territory is the union of all layers (clipped to the land mask
        when one was given). A *gap* of a layer is the part of that territory it
        does not cover: water that one layer includes and another leaves out,
        territory outside a partial layer, generalisation differences along the
        coast.

        Returns
        -------
        pandas.DataFrame
            Indexed by layer key: ``area_m2`` (covered), ``gap_area_m2``,
            ``covered_share``, ``population`` (covered), ``gap_population``,
            ``n_gap_atoms``; plus a final row ``"*"`` for the atoms every layer
            covers (``gap_*`` columns: the atoms some layer misses).
        """
        atoms = self.atoms
        area = atoms[_AREA].to_numpy(dtype="float64")
        pop = atoms[_POP].to_numpy(dtype="float64")
        total_a = float(area.sum())
        rows = {}
        for key in self.layers:
            miss = atoms[key].isna().to_numpy()
            rows[key] = _coverage_row(area, pop, miss, total_a)
        miss_any = atoms[list(self.layers)].isna().any(axis=1).to_numpy()
        rows["*"] = _coverage_row(area, pop, miss_any, total_a)
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "layer"
        return out


def _coverage_row(
    area: npt.NDArray[np.float64],
    pop: npt.NDArray[np.float64],
    miss: npt.NDArray[np.bool_],
    total: float,
) -> dict[str, float | int]:
    cov = float(area[~miss].sum())
    return {
        _AREA: cov,
        "gap_area_m2": float(area[miss].sum()),
        "covered_share": cov / total if total > 0 else float("nan"),
        _POP: float(np.nansum(pop[~miss])) if np.isfinite(pop).any() else float("nan"),
        "gap_population": float(np.nansum(pop[miss]))
        if np.isfinite(pop).any()
        else float("nan"),
        "n_gap_atoms": int(miss.sum()),
    }


# -- inputs --------------------------------------------------------------------------


def _layer_codes(gdf: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    """Codes of a layer: the index (canonical layers), or a ``code`` column."""
    if "code" in gdf.columns and gdf.index.name != "code":
        values = gdf["code"]
    else:
        values = gdf.index.to_series()
    return np.asarray([None if pd.isna(v) else str(v) for v in values], dtype=object)


def _prepare_geoms(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    name: str,
    *,
    units: npt.NDArray[np.int64] | None = None,
    codes: npt.NDArray[np.object_] | None = None,
) -> Any:
    """Geometries in WORK_CRS, valid and polygonal (repairs logged).

    Refuses, with a :class:`LayerValidationError` naming the layer and the
    units, coordinates that are NaN or infinite (in the input or once projected
    to EPSG:32198) and, when *units* (unit id of each row) and *codes* are
    given, units left without any area (every row null, empty, a point or a
    line): the atlas would otherwise lose them without a word. Null rows become
    empty polygons; invalid rings are made valid; collections keep their
    polygonal part.
    """
    require_crs(gdf, name=name)
    frame = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)
    given = np.asarray(frame.geometry.values, dtype=object)
    geoms = np.asarray(
        to_work_crs(frame[[frame.geometry.name]], name=name).geometry.values,
        dtype=object,
    )
    row_code = (
        codes[units]
        if units is not None and codes is not None
        else np.asarray([str(i) for i in frame.index], dtype=object)
    )
    bad = ~_finite_mask(geoms)  # NaN/inf given stay NaN/inf once projected
    if bad.any():
        listed = tuple(dict.fromkeys(map(str, row_code[bad])))
        msg = (
            f"Layer {name!r}: {len(listed)} unit(s) with NaN or infinite "
            f"coordinates (as given, or once projected to {WORK_CRS}): "
            f"{_listing(listed)}. The file is corrupt, was written from failed "
            f"computations, or is in a CRS other than the one declared; export "
            f"it again from its source, or drop these units."
        )
        raise LayerValidationError(
            name, [Issue("error", "non-finite-coordinates", msg, listed)]
        )
    geoms[shapely.is_missing(geoms)] = shapely.Polygon()
    with np.errstate(all="ignore"):  # huge finite coordinates overflow in GEOS
        bad_rings = np.flatnonzero(~shapely.is_valid(geoms))
    if len(bad_rings):
        logger.info(
            "%s: %d invalid geometries repaired with make_valid", name, len(bad_rings)
        )
        geoms[bad_rings] = shapely.make_valid(geoms[bad_rings])
    other = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))
    for i in other:
        part = _polygonal_part(geoms[i])
        geoms[i] = shapely.Polygon() if part is None else part
    if units is not None and codes is not None:
        has_area = np.bincount(
            units[~shapely.is_empty(geoms)], minlength=len(codes)
        ).astype(bool)
        has_row = np.bincount(units, minlength=len(codes)).astype(bool)
        lost = tuple(map(str, codes[has_row & ~has_area]))
        if lost:
            rows = ~has_area[units]
            kinds = pd.Series(
                ["null" if g is None else g.geom_type for g in given[rows]]
            ).value_counts()
            msg = (
                f"Layer {name!r}: {len(lost)} unit(s) without any area "
                f"({', '.join(f'{k} ×{v}' for k, v in kinds.items())}): "
                f"{_listing(lost)}. An atlas is made of areas: load the polygon "
                f"layer (not its centroids or outlines), restore these shapes, or "
                f"drop these units (geodecoupage.layers.repair_layer drops them and "
                f"says which)."
            )
            raise LayerValidationError(name, [Issue("error", "no-area", msg, lost)])
    return geoms


def _population_frame(population: Any) -> gpd.GeoDataFrame:
    frame = getattr(population, "polygons", population)
    if not isinstance(frame, gpd.GeoDataFrame) or _POP not in frame.columns:
        msg = (
            "population must be a GeoDataFrame of polygons with a 'population' "
            "column (counts), or a PopulationSurface (see "
            "geodecoupage.overlay.population.population_surface)."
        )
        raise InvalidParameterError(msg)
    return frame


def _mask_geoms(land_mask: Any) -> Any:
    if isinstance(land_mask, gpd.GeoDataFrame | gpd.GeoSeries):
        geoms = _prepare_geoms(land_mask, "land_mask")
    elif isinstance(land_mask, shapely.Geometry):
        msg = (
            "land_mask is a bare shapely geometry without a CRS; wrap it in a "
            "GeoSeries with its CRS, e.g. gpd.GeoSeries([mask], crs='EPSG:32198')."
        )
        raise InvalidParameterError(msg)
    else:
        msg = (
            f"land_mask must be a GeoDataFrame or GeoSeries of polygons, got "
            f"{type(land_mask).__name__}."
        )
        raise InvalidParameterError(msg)
    return np.array([shapely.union_all(geoms)], dtype=object)


def _check_number(name: str, value: float, *, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        msg = f"{name} must be a number, got {value!r}."
        raise InvalidParameterError(msg) from err
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        msg = f"{name} must be a finite number {bound}, got {value!r}."
        raise InvalidParameterError(msg)
    return v


# -- population placement ------------------------------------------------------------


def _is_land_only(gdf: gpd.GeoDataFrame) -> bool:
    """Whether a layer's coverage is land (drawn without water), from its attrs."""
    flag = gdf.attrs.get("land_only")
    if flag is not None:
        return bool(flag)
    return gdf.attrs.get("layer") in LAND_ONLY_LAYERS


def _is_complete(gdf: gpd.GeoDataFrame, n_units: int) -> bool:
    """Whether a catalogue layer still has all its units (not a selection)."""
    from geodecoupage.layers import specs

    spec = specs().get(str(gdf.attrs.get("layer")))
    expected = spec.expected_count if spec is not None else None
    return expected is None or n_units >= expected


def _land_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    keys: tuple[str, ...],
    n_units: list[int],
    *,
    support: str,
    land_layers: Any,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Check the population rule; return (land layers used, partial ones left out)."""
    if support not in ("area", "land"):
        msg = f"population_support must be 'area' or 'land', got {support!r}."
        raise InvalidParameterError(msg)
    if support == "area":
        return (), ()
    if land_layers is None:
        found = [i for i, k in enumerate(keys) if _is_land_only(layers[k])]
        whole = [i for i in found if _is_complete(layers[keys[i]], n_units[i])]
        used = tuple(keys[i] for i in whole)
        partial = tuple(keys[i] for i in found if keys[i] not in used)
        if partial:
            logger.info(
                "population: %s not used as land (a selection of the catalogue "
                "layer: its gaps include land); name it in land_layers= to force it",
                ", ".join(partial),
            )
        return used, partial
    if isinstance(land_layers, str):
        land_layers = (land_layers,)
    chosen = tuple(dict.fromkeys(land_layers))
    unknown = [k for k in chosen if k not in keys]
    if unknown:
        msg = (
            f"land_layers names {', '.join(map(repr, unknown))}, not a layer of this "
            f"atlas; use some of: {', '.join(keys)}."
        )
        raise InvalidParameterError(msg)
    return chosen, ()


@dataclass(frozen=True)
class _Placement:
    """Population of every face, and what the placement rule did."""

    face_pop: npt.NDArray[np.float64]
    unplaced: float  # counts of polygons with no face at all
    moved: float  # persons that plain area would have put off the land support
    fallback: float  # persons of polygons with no land face, placed by area
    n_fallback: int


def _place_population(
    units: npt.NDArray[np.int64],
    face_area: npt.NDArray[np.float64],
    counts: npt.NDArray[np.float64],
    pop_col: int,
    land_cols: tuple[int, ...],
) -> _Placement:
    """Spread each population polygon's count over its faces (see build_atlas).

    ``units[f, pop_col]`` is the polygon of face *f* (-1: none); a face is land
    when every column of *land_cols* covers it. A polygon with land faces puts
    its whole count on them, in proportion to area; one without keeps plain
    area density over all its faces. Densities use the faces' areas (not the
    polygon's), so every polygon with a face keeps its count exactly.
    """
    pu = units[:, pop_col]
    has = pu >= 0
    n = len(counts)
    parea = np.bincount(pu[has], weights=face_area[has], minlength=n)
    land = has.copy()
    for col in land_cols:
        land &= units[:, col] >= 0
    larea = np.bincount(pu[land], weights=face_area[land], minlength=n)
    on_land = larea > 0
    support = np.where(on_land, larea, parea)
    density = np.where(support > 0, counts / np.where(support > 0, support, 1.0), 0.0)
    pidx = np.maximum(pu, 0)
    use = np.where(on_land[pidx], land, has)
    face_pop = np.where(use, density[pidx] * face_area, 0.0)
    off = on_land & (parea > 0)
    moved = float((counts[off] * (1.0 - larea[off] / parea[off])).sum())
    fb = (~on_land) & (parea > 0) & (counts > 0) if land_cols else np.zeros(n, bool)
    return _Placement(
        face_pop=face_pop,
        unplaced=float(counts[parea <= 0].sum()),
        moved=moved if land_cols else 0.0,
        fallback=float(counts[fb].sum()),
        n_fallback=int(fb.sum()),
    )


# -- build ----------------------------------------------------------------------------

Engine = Literal["local", "dask"]
#: Atom outlines from the face groups: ``(group of each face, n_groups) ->
#: (geometries, n_parts)``; each engine traces them where its faces are.
_Outlines = Callable[
    [npt.NDArray[np.int64], int], tuple[npt.NDArray[Any], npt.NDArray[np.int64]]
]


def build_atlas(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    snap_m: float = DEFAULT_SNAP_M,
    land_mask: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    population: Any = None,
    sliver_width_m: float = DEFAULT_SLIVER_WIDTH_M,
    sliver_share: float = DEFAULT_SLIVER_SHARE,
    max_load: int = _engine.DEFAULT_MAX_LOAD,
    workers: int | None = None,
    engine: Engine = "local",
    scheduler: Any = None,
    npartitions: int | None = None,
    population_support: PopulationSupport = DEFAULT_POPULATION_SUPPORT,
    land_layers: Sequence[str] | None = None,
    land: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> Atlas:
    """Build the atlas (common refinement) of *layers* in one overlay pass.

    Parameters
    ----------
    layers
        ``{key: layer}``: canonical layers (see
        :func:`geodecoupage.layers.read_layer`) or any polygon GeoDataFrame with
        a CRS whose index (or ``code`` column) holds the unit codes; any CRS,
        reprojected to EPSG:32198. Rows sharing a code form one unit.
    min_area_m2
        Pieces (connected parts of an atom) smaller than this equal-area area
        are slivers (default 1 ha). ``0`` disables the area test.
    snap_m
        Grid (m) to which every vertex and intersection is rounded (GEOS
        snap-rounding); must be > 0.
    land_mask
        Optional polygons (GeoDataFrame or GeoSeries with a CRS); everything is
        clipped to their union.
    population
        Optional population surface: GeoDataFrame of polygons with a
        ``population`` column (counts, uniform density inside each polygon), or
        a :class:`~geodecoupage.overlay.population.PopulationSurface`. It is a
        hidden layer of the same overlay pass; each atom receives the counts in
        proportion to the equal-area area it shares with each polygon (on land,
        see *population_support*). Without it, ``population`` is NaN.
    sliver_width_m
        Pieces whose mean width :math:`2A/P` is below this are slivers when they
        are also below *sliver_share* of every unit covering them. ``0``
        disables the thinness test.
    sliver_share
        See *sliver_width_m*.
    max_load
        Kernel tuning: vertices per quadtree cell before it is split.
    workers
        Threads for the kernel (default 1: the dominant GEOS calls hold the GIL).
        Local engine only.
    engine
        ``"local"`` (default): this process. ``"dask"``: the arrangement is cut
        into spatial partitions run as tasks on a ``dask.distributed`` cluster
        (optional extra: ``pip install "geodecoupage[scale]"``); same atlas,
        see :func:`geodecoupage.overlay.distributed.build_atlas_dask` and
        ``docs/scaling.md``.
    scheduler
        With ``engine="dask"``: ``None`` (a ``LocalCluster`` started for this
        call), a scheduler address such as ``"tcp://10.0.0.5:8786"``, or a
        ``distributed.Client``.
    npartitions
        With ``engine="dask"``: number of spatial partitions (default: 4 per
        worker thread).
    population_support
        Where each population polygon's count is spread. ``"land"`` (default):
        over the part of the polygon that every *land layer* covers, or over
        the whole polygon when no land layer covers any of it. ``"area"``: over
        the whole polygon (uniform density). Identical when there is no land
        layer. See Notes.
    land_layers
        Keys of the layers whose coverage is land (drawn without water). Default:
        the layers marked ``attrs["land_only"] = True``, and the catalogue
        layers of :data:`LAND_ONLY_LAYERS` (``rls``, ``cisss``: water removed)
        unless marked ``False`` -- the latter only when they hold all their
        catalogue units: a selection (e.g. the RLS of one region) leaves out
        land, so it is not used (``params["land_layers_partial"]``). A layer
        whose gaps are not water (a partial territory, a layer cut to a study
        area) must not be named here.
    land
        Optional land polygons (GeoDataFrame or GeoSeries with a CRS) for the
        ``"land"`` rule, used besides the land layers: a hidden layer of the
        same pass that neither clips nor cuts atoms; a face is land only when
        it is also inside one of these polygons. A region audit passes the
        whole RLS layer here, since its own RLS is a selection
        (:attr:`geodecoupage.metrics.RegionSelection.land`).

    Returns
    -------
    Atlas
        Atoms in EPSG:32198 with codes, ``area_m2``, ``population``; see
        :class:`Atlas`.

    Raises
    ------
    InvalidParameterError
        If *layers* is empty, a key is reserved or not a string, a value is not
        a GeoDataFrame, or a parameter is out of range; if *engine* is unknown,
        *scheduler* or *npartitions* is given to the local engine (or *workers*
        to the dask engine), or ``engine="dask"`` without the ``scale`` extra; if
        *population_support* is unknown or *land_layers* names a key that is
        not a layer.
    SchedulerUnreachableError
        With ``engine="dask"``, if *scheduler* is an address that does not
        answer (:mod:`geodecoupage.overlay.distributed`).
    MissingCRSError
        If a layer, the mask or the population surface has no CRS.

    Notes
    -----
    Every area is measured in the Québec Albers equal-area projection
    (:data:`geodecoupage.crs.AREA_CRS`); geometry stays in EPSG:32198.

    Both engines run the same three steps: :func:`_prepare` (checks, codes,
    geometries in the working CRS, land mask and population as hidden layers),
    the arrangement of the quadtree cells (here in one process, or partitioned
    on Dask), and :func:`_finish` (atoms, slivers, areas, population, outlines,
    parameters). Only the middle step differs, and it gives the same faces in
    the same order, so the atlases are identical (``params["engine"]`` tells
    which ran).

    Slivers. Layers generalised differently leave thin pieces along borders
    that should coincide. A connected piece of an atom with area :math:`A`
    (equal-area) and perimeter :math:`P` is a sliver when

    .. math::

        A < A_{min} \\quad\\text{or}\\quad
        \\left(\\frac{2A}{P} < w_{max} \\;\\text{and}\\;
        \\max_k \\frac{A}{|U_k|} < \\tau\\right)

    where :math:`U_k` is the unit of layer *k* covering it. Each sliver joins the
    neighbouring piece that shares the longest border with it (a sliver touching
    only slivers joins its largest neighbour), so area and population are
    conserved. A sliver touching nothing stays, reported as ``isolated``.

    Coverage gaps (territory covered by some layers only) are atoms with missing
    codes; they are kept (see :meth:`Atlas.coverage`) and left out of crosswalk
    shares by default.

    Population. With :math:`p_s` the count of surface polygon *s* and
    :math:`W` the union of the units of every land layer (the territory they
    all cover), atom *a* receives

    .. math::

        \\sum_s p_s \\frac{|a \\cap s \\cap W|}{|s \\cap W|}
        \\quad\\text{if } |s \\cap W| > 0, \\qquad
        \\sum_s p_s \\frac{|a \\cap s|}{|s|} \\quad\\text{otherwise}

    (``population_support="area"``, or no land layer: always the second form).
    Areas are equal-area sums of the faces of *s*, so each polygon's count is
    conserved exactly: :math:`\\sum_a = p_s` over the atoms, plus the part of
    *s* outside every layer or outside the land mask
    (``params["population_outside"]``). Bounds: an atom receives at most
    :math:`p_s` from *s*; a polygon's density rises by the factor
    :math:`|s| / |s \\cap W| \\ge 1` on its land part. Census polygons include
    rivers and coastal water that water-free layers (the RLS) leave out; plain
    area puts 5.3 % of Québec's 2016 census population in those water gaps
    (``docs/methodologie.md``, section 2.6). Only declared land layers steer
    the placement: a layer that covers part of a polygon because of its extent
    (a user's territory, a region) does not pull the polygon's population in,
    and a selection of a catalogue land layer is not land by default.
    ``params`` records ``population_support``, ``land_layers``,
    ``land_layers_partial`` (land layers left out as incomplete),
    ``population_moved_to_land`` (persons plain area would have put off the
    land), ``population_fallback_area`` and ``n_population_fallback`` (polygons
    with a count and no land part, placed by area) and ``population_in_gaps``
    (population of the atoms each layer misses, per layer key, and ``"*"``:
    atoms some layer misses).
    """
    if engine not in ("local", "dask"):
        msg = f"engine must be 'local' or 'dask', got {engine!r}."
        raise InvalidParameterError(msg)
    if engine == "dask":
        if workers is not None:
            msg = (
                "workers sets the threads of the local engine; with engine='dask' "
                "size the cluster instead (scheduler= a distributed.Client or the "
                "address of a running scheduler)."
            )
            raise InvalidParameterError(msg)
        from geodecoupage.overlay import distributed as _dask

        layers, cluster = _dask._check(layers, scheduler, npartitions)
    elif scheduler is not None or npartitions is not None:
        msg = (
            "scheduler and npartitions apply to engine='dask' only; pass "
            "engine='dask' or leave them out."
        )
        raise InvalidParameterError(msg)
    prep = _prepare(
        layers,
        min_area_m2=min_area_m2,
        snap_m=snap_m,
        land_mask=land_mask,
        population=population,
        sliver_width_m=sliver_width_m,
        sliver_share=sliver_share,
        max_load=max_load,
        population_support=population_support,
        land_layers=land_layers,
        land=land,
    )
    if engine == "dask":
        return _dask._run(prep, cluster, npartitions)
    arr = _engine.arrange(
        prep.geoms, grid=prep.snap, max_load=prep.max_load, workers=workers
    )
    face_area = _face_areas(arr.faces, arr.stats.get("workers", 1), arr.grid)

    def outlines(
        group: npt.NDArray[np.int64], n_atoms: int
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        return _engine.dissolve(arr.edges, group, n_atoms, arr.grid, faces=arr.faces)

    return _finish(prep, arr, face_area, outlines, engine="local")


@dataclass(frozen=True)
class _Prepared:
    """Checked inputs of :func:`build_atlas`, ready for an arrangement.

    ``geoms`` holds one geometry array per layer (in the order of ``keys``),
    then the hidden layers: the land mask (column ``mask_col``) and the
    population surface (column ``pop_col``) when given.
    """

    keys: tuple[str, ...]
    codes: list[npt.NDArray[np.object_]]
    unit_code: list[npt.NDArray[np.int64]]
    geoms: list[Any]
    snap: float
    min_area: float
    width_max: float
    tau: float
    max_load: int
    mask_col: int | None
    pop_col: int | None
    counts: npt.NDArray[np.float64] | None
    pop_total: float
    population_support: str = DEFAULT_POPULATION_SUPPORT
    land_keys: tuple[str, ...] = ()
    land_partial: tuple[str, ...] = ()
    land_col: int | None = None


def _prepare(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    min_area_m2: float,
    snap_m: float,
    land_mask: Any,
    population: Any,
    sliver_width_m: float,
    sliver_share: float,
    max_load: int,
    population_support: str = DEFAULT_POPULATION_SUPPORT,
    land_layers: Sequence[str] | None = None,
    land: Any = None,
) -> _Prepared:
    """Check the inputs of :func:`build_atlas` (both engines) and prepare them."""
    if not isinstance(layers, Mapping) or len(layers) == 0:
        msg = (
            "layers must be a non-empty mapping {key: GeoDataFrame}, e.g. {'mrc': mrc}."
        )
        raise InvalidParameterError(msg)
    keys = tuple(layers)
    for key in keys:
        if not isinstance(key, str) or not key or key in _RESERVED:
            msg = (
                f"Invalid layer key {key!r}: keys must be non-empty strings other "
                f"than {', '.join(sorted(_RESERVED))}."
            )
            raise InvalidParameterError(msg)
        if not isinstance(layers[key], gpd.GeoDataFrame):
            msg = (
                f"Layer {key!r} must be a GeoDataFrame, got "
                f"{type(layers[key]).__name__}."
            )
            raise InvalidParameterError(msg)
    snap = _check_number("snap_m", snap_m, positive=True)
    min_area = _check_number("min_area_m2", min_area_m2)
    width_max = _check_number("sliver_width_m", sliver_width_m)
    tau = _check_number("sliver_share", sliver_share)
    if int(max_load) < 16:
        msg = f"max_load must be an integer >= 16, got {max_load!r}."
        raise InvalidParameterError(msg)

    codes, unit_code = [], []
    for k in keys:
        raw = _layer_codes(layers[k])
        if any(c is None for c in raw):
            msg = (
                f"Layer {k!r} has units without a code (missing index values); "
                f"give every unit a code, or drop those rows."
            )
            raise InvalidParameterError(msg)
        uniq, inv = np.unique(raw.astype(str), return_inverse=True)
        codes.append(np.asarray(uniq, dtype=object))
        unit_code.append(np.asarray(inv, dtype=np.int64).ravel())
    land_keys, partial = _land_layers(
        layers,
        keys,
        [len(c) for c in codes],
        support=population_support,
        land_layers=land_layers,
    )
    geoms = [
        _prepare_geoms(layers[k], k, units=unit_code[i], codes=codes[i])
        for i, k in enumerate(keys)
    ]
    hidden: list[Any] = []
    mask_col = pop_col = None
    counts = None
    pop_total = float("nan")
    if land_mask is not None:
        mask_col = len(keys) + len(hidden)
        hidden.append(_mask_geoms(land_mask))
    if population is not None:
        pframe = _population_frame(population)
        pgeoms = _prepare_geoms(pframe, "population")
        counts = pd.to_numeric(pframe[_POP], errors="coerce").to_numpy(dtype="float64")
        counts = np.nan_to_num(counts, nan=0.0)
        pop_total = float(counts.sum())
        pop_col = len(keys) + len(hidden)
        hidden.append(pgeoms)
    land_col = None
    if land is not None:
        if not isinstance(land, gpd.GeoDataFrame | gpd.GeoSeries):
            msg = (
                f"land must be a GeoDataFrame or GeoSeries of polygons, got "
                f"{type(land).__name__}."
            )
            raise InvalidParameterError(msg)
        if population is not None and population_support == "land":
            land_col = len(keys) + len(hidden)
            hidden.append(_prepare_geoms(land, "land"))

    return _Prepared(
        keys=keys,
        codes=codes,
        unit_code=unit_code,
        geoms=[*geoms, *hidden],
        snap=snap,
        min_area=min_area,
        width_max=width_max,
        tau=tau,
        max_load=int(max_load),
        mask_col=mask_col,
        pop_col=pop_col,
        counts=counts,
        pop_total=pop_total,
        population_support=population_support,
        land_keys=land_keys,
        land_partial=partial,
        land_col=land_col,
    )


def _finish(
    prep: _Prepared,
    arr: _engine.Arrangement,
    face_area: npt.NDArray[np.float64],
    outlines: _Outlines,
    *,
    engine: Engine,
) -> Atlas:
    """Atoms, slivers, areas, population and outlines from an arrangement.

    *arr* holds the faces of the quadtree cells in the local kernel's order
    (its ``faces`` may be placeholders when the geometries stay elsewhere),
    *face_area* their equal-area areas, *outlines* traces the atoms.
    """
    keys, codes, unit_code = prep.keys, prep.codes, prep.unit_code
    mask_col, pop_col, counts = prep.mask_col, prep.pop_col, prep.counts
    n_vis = len(keys)
    units = arr.units
    inside: npt.NDArray[np.bool_] = np.asarray(
        (units[:, :n_vis] >= 0).any(axis=1), dtype=bool
    )
    if mask_col is not None:
        inside &= units[:, mask_col] >= 0
    face_pop = np.zeros(len(arr.faces))
    placement = None
    if counts is not None and pop_col is not None:
        placement = _place_population(
            units,
            face_area,
            counts,
            pop_col,
            tuple(keys.index(k) for k in prep.land_keys)
            + (() if prep.land_col is None else (prep.land_col,)),
        )
        face_pop = placement.face_pop

    # code tuples of the faces (visible layers only); rows sharing a code are
    # one unit
    face_codes = np.column_stack(
        [
            np.where(units[:, li] >= 0, unit_code[li][np.maximum(units[:, li], 0)], -1)
            if len(unit_code[li])
            else np.full(len(units), -1, dtype=np.int64)
            for li in range(n_vis)
        ]
    ).reshape(len(units), n_vis)
    atom_of, tuples = _group_rows(face_codes, inside)
    n_atoms0 = len(tuples)

    sliv = _merge_slivers(
        arr,
        atom_of,
        tuples,
        face_area,
        face_pop,
        min_area=prep.min_area,
        width_max=prep.width_max,
        tau=prep.tau,
    )
    final_atom = sliv.final_atom
    # regroup after merging: atoms are the distinct tuples that remain
    face_tuple = np.where(final_atom >= 0, final_atom, -1)
    used, dense = np.unique(face_tuple[face_tuple >= 0], return_inverse=True)
    group = np.full(len(face_tuple), -1, dtype=np.int64)
    group[face_tuple >= 0] = dense.ravel()
    atom_tuples = tuples[used]
    off_mask = _warn_lost_units(
        keys,
        codes,
        face_codes,
        tuples,
        atom_tuples,
        snap=prep.snap,
    )
    # order atoms by their codes
    code_table = np.empty(atom_tuples.shape, dtype=object)
    for li in range(n_vis):
        col = atom_tuples[:, li]
        code_table[:, li] = _codes_at(codes[li], col)
    order = _order_by_codes(code_table)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    group = np.where(group >= 0, rank[np.maximum(group, 0)], -1)
    code_table = code_table[order]
    n_atoms = len(order)

    geom, n_parts = outlines(group, n_atoms)
    sel = group >= 0
    atom_area = np.bincount(group[sel], weights=face_area[sel], minlength=n_atoms)
    atom_pop = np.bincount(group[sel], weights=face_pop[sel], minlength=n_atoms)
    if placement is None:
        atom_pop = np.full(n_atoms, np.nan)
    data: dict[str, Any] = {
        k: pd.array(code_table[:, i], dtype=object) for i, k in enumerate(keys)
    }
    data[_AREA] = atom_area.astype("float64")
    data[_POP] = atom_pop.astype("float64")
    data["n_parts"] = n_parts.astype("int64")
    atoms = gpd.GeoDataFrame(
        data,
        geometry=gpd.GeoSeries(geom, crs=WORK_CRS).values,
        crs=WORK_CRS,
        index=pd.RangeIndex(n_atoms, name="atom"),
    )

    covered_pop = float(face_pop[inside].sum())
    params: dict[str, object] = {
        "engine": engine,
        "snap_m": prep.snap,
        "min_area_m2": prep.min_area,
        "sliver_width_m": prep.width_max,
        "sliver_share": prep.tau,
        "max_load": prep.max_load,
        "work_crs": WORK_CRS,
        "area_crs": AREA_CRS,
        "land_mask": prep.mask_col is not None,
        "units_outside_land_mask": off_mask,
        "n_faces": int(inside.sum()),
        "n_atoms_before_slivers": int(n_atoms0),
        "n_atoms": int(n_atoms),
        "n_pieces": int(sliv.n_components),
        "n_slivers": int(sliv.n_slivers),
        "sliver_area_m2": float(sliv.sliver_area),
        "n_slivers_isolated": int(sliv.n_isolated),
        "sliver_area_isolated_m2": float(sliv.isolated_area),
        "n_units_kept_whole": int(sliv.n_kept_whole),
        "total_area_m2": float(atom_area.sum()),
        "self_overlap_area_m2": _per_layer(keys, arr.stats.get("self_overlap_area")),
        "population_total": prep.pop_total,
        "population_in_atlas": covered_pop if placement is not None else float("nan"),
        "population_outside": (prep.pop_total - covered_pop)
        if placement is not None
        else float("nan"),
        "population_unplaced": placement.unplaced
        if placement is not None
        else float("nan"),
        **_population_params(atoms, keys, placement, prep),
        "kernel": {
            k: v for k, v in arr.stats.items() if k not in ("self_overlap_area",)
        },
    }
    tuple_row = np.full(len(tuples), -1, dtype=np.int64)
    tuple_row[used] = rank[np.arange(len(used))]
    slivers = sliv.report(keys, codes, tuple_row)
    logger.info(
        "atlas of %s (%s engine): %d atoms, %d slivers merged (%.1f km²), %d isolated",
        ", ".join(keys),
        engine,
        n_atoms,
        sliv.n_slivers - sliv.n_isolated,
        sliv.sliver_area / 1e6,
        sliv.n_isolated,
    )
    return Atlas(atoms=atoms, layers=keys, params=params, slivers=slivers)


def _population_params(
    atoms: gpd.GeoDataFrame,
    keys: tuple[str, ...],
    placement: _Placement | None,
    prep: _Prepared,
) -> dict[str, object]:
    """The population rule and its effect, for ``Atlas.params``."""
    nan = float("nan")
    out: dict[str, object] = {
        "population_support": prep.population_support,
        "land_layers": prep.land_keys,
        "land_layers_partial": prep.land_partial,
        "land_polygons": prep.land_col is not None,
        "population_moved_to_land": placement.moved if placement else nan,
        "population_fallback_area": placement.fallback if placement else nan,
        "n_population_fallback": placement.n_fallback if placement else 0,
    }
    gaps: dict[str, float] = {}
    if placement is not None:
        pop = atoms[_POP].to_numpy(dtype="float64")
        miss = atoms[list(keys)].isna().to_numpy()
        for i, k in enumerate(keys):
            gaps[k] = float(pop[miss[:, i]].sum())
        gaps["*"] = float(pop[miss.any(axis=1)].sum())
    out["population_in_gaps"] = gaps
    return out


def _warn_lost_units(
    keys: tuple[str, ...],
    codes: list[npt.NDArray[np.object_]],
    face_unit: npt.NDArray[np.int64],
    tuples: npt.NDArray[np.int64],
    atom_tuples: npt.NDArray[np.int64],
    *,
    snap: float,
) -> dict[str, tuple[str, ...]]:
    """Warn, naming them, about units absent from the atlas, and isolated layers.

    A unit with an area can still be absent: smaller than the snapping grid
    (it collapses: :class:`SliverWarning`) or entirely outside the land mask
    (returned, ``{layer: codes}``, for ``params``). Sliver merging never removes
    a whole unit. A layer with no unit, or whose atoms never carry the code of
    another layer (it shares no territory with them, so its crosswalks are
    empty), gets a :class:`CoverageWarning`.
    """
    n_vis = len(keys)
    off_mask: dict[str, tuple[str, ...]] = {}
    for li, key in enumerate(keys):
        n = len(codes[li])
        if n == 0:
            warnings.warn(
                f"Layer {key!r} has no unit: it covers nothing in the atlas.",
                CoverageWarning,
                stacklevel=3,
            )
            continue
        fu = face_unit[:, li]
        has = fu >= 0
        with_face = np.bincount(fu[has], minlength=n) > 0
        before = np.zeros(n, dtype=bool)
        before[tuples[:, li][tuples[:, li] >= 0]] = True
        collapsed = np.flatnonzero(~with_face)
        if len(collapsed):
            warnings.warn(
                f"Layer {key!r}: {len(collapsed)} unit(s) vanished when rounded to "
                f"the {snap:g} m grid (smaller than the grid): "
                f"{_listing(sorted(codes[li][collapsed]))}. Use a smaller snap_m, "
                f"or check the layer's CRS (coordinates in degrees declared as "
                f"metres collapse this way).",
                SliverWarning,
                stacklevel=3,
            )
        masked = np.flatnonzero(with_face & ~before)
        if len(masked):  # clipped away on request: recorded, not warned
            off_mask[key] = tuple(sorted(map(str, codes[li][masked])))
            logger.info(
                "%s: %d unit(s) entirely outside the land mask: %s",
                key,
                len(masked),
                _listing(off_mask[key]),
            )
    if n_vis < 2 or len(atom_tuples) == 0:
        return off_mask
    present = atom_tuples >= 0
    filled = [li for li in range(n_vis) if len(codes[li])]  # empty: warned above
    for li in filled:
        key, mine = keys[li], present[:, li]
        rest_cols = [lj for lj in filled if lj != li]
        if not mine.any() or not rest_cols:
            continue
        if not (mine & present[:, rest_cols].any(axis=1)).any():
            rest = ", ".join(keys[lj] for lj in rest_cols)
            warnings.warn(
                f"Layer {key!r} shares no territory with any other layer ({rest}): "
                f"its crosswalks are empty and its scores undefined. Check that "
                f"the layers cover the same region and that each declares its "
                f"true CRS.",
                CoverageWarning,
                stacklevel=3,
            )
    return off_mask


def _codes_at(
    codes: npt.NDArray[np.object_], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.object_]:
    """``codes[ids]``, None where *ids* is negative (a layer may have no unit)."""
    out = np.full(len(ids), None, dtype=object)
    ok = ids >= 0
    out[ok] = codes[ids[ok]]
    return out


def _per_layer(keys: tuple[str, ...], values: object) -> dict[str, float]:
    vals = list(values) if isinstance(values, list | tuple) else []
    return {k: float(v) for k, v in zip(keys, vals, strict=False)}


def _face_areas(
    faces: npt.NDArray[np.object_], workers: Any, grid: float
) -> npt.NDArray[np.float64]:
    """Equal-area areas of the faces, in threads (pyproj releases the GIL).

    Notes
    -----
    Equal to :func:`geodecoupage.crs.area_m2` of every face, bit for bit, at a
    third of its cost: neighbouring faces share their vertices, so each
    distinct vertex is projected to :data:`~geodecoupage.crs.AREA_CRS` once,
    and the rings are measured in numpy with GEOS's own formula
    (``Area::ofRingSigned``, summed in the same order): for a closed ring
    :math:`p_0 \\ldots p_{n-1}`,

    .. math::

        A = \\frac{1}{2} \\Big| \\sum_{i=1}^{n-2} (x_i - x_0)(y_{i-1} - y_{i+1})
        \\Big|,

    a face's area being its shell's minus its holes'.
    """
    w = int(workers) if isinstance(workers, int) else 1
    weights = shapely.get_num_coordinates(faces).astype(np.float64)

    def run(ids: npt.NDArray[np.int64]) -> list[npt.NDArray[np.generic]]:
        return [_equal_area(faces[ids], grid)]

    (out,) = _engine._chunked(run, weights, w)
    return np.asarray(out, dtype=np.float64)


def _equal_area(faces: npt.NDArray[np.object_], grid: float) -> npt.NDArray[np.float64]:
    """Equal-area areas of single Polygons in WORK_CRS (see :func:`_face_areas`)."""
    xy, ring_of, ring_face, is_shell = _engine.face_rings(faces)
    n = len(xy)
    if n == 0:
        return np.zeros(len(faces), dtype=np.float64)
    # distinct vertices: the faces' vertices lie on the grid, and neighbouring
    # faces share them; a vertex is projected once (checked exactly: rows
    # sharing a grid key must hold the same floats)
    qx, qy = np.rint(xy[:, 0] / grid), np.rint(xy[:, 1] / grid)
    qx0, qy0 = qx.min(), qy.min()
    span_x, span_y = qx.max() - qx0 + 1.0, qy.max() - qy0 + 1.0
    x = y = None
    if float(span_x) * float(span_y) < 2.0**62:
        key = (qx - qx0).astype(np.int64) * int(span_y) + (qy - qy0).astype(np.int64)
        o = np.argsort(key)
        ks = key[o]
        new = np.ones(n, dtype=bool)
        new[1:] = ks[1:] != ks[:-1]
        xs = xy[o]
        if np.array_equal(xs[1:][~new[1:]], xs[:-1][~new[1:]]):
            inv = np.empty(n, dtype=np.int64)
            inv[o] = np.cumsum(new) - 1
            ux, uy = _TO_AREA.transform(xs[new, 0], xs[new, 1])
            x = np.asarray(ux, dtype=np.float64)[inv]
            y = np.asarray(uy, dtype=np.float64)[inv]
    if x is None or y is None:  # vertices off the grid: project them all
        px, py = _TO_AREA.transform(xy[:, 0], xy[:, 1])
        x, y = np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)
    n_rings = len(ring_face)
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    ends = np.append(starts[1:], n) - 1
    x0 = np.repeat(x[starts], ends - starts + 1)
    inner = np.ones(n, dtype=bool)
    inner[starts] = False
    inner[ends] = False
    i = np.flatnonzero(inner)
    terms = (x[i] - x0[i]) * (y[i - 1] - y[i + 1])
    ring_area = np.abs(np.bincount(ring_of[i], weights=terms, minlength=n_rings) / 2.0)
    signed = np.where(is_shell, ring_area, -ring_area)
    out = np.bincount(ring_face, weights=signed, minlength=len(faces))
    return np.nan_to_num(np.asarray(out, dtype=np.float64), nan=0.0)


def _group_rows(
    rows: npt.NDArray[np.int64], inside: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Dense id of each distinct row (``-1`` outside), and the distinct rows."""
    atom_of = np.full(len(rows), -1, dtype=np.int64)
    if not inside.any():
        return atom_of, np.empty((0, rows.shape[1]), dtype=np.int64)
    sub = rows[inside]
    # one mixed-radix key per row (first column most significant) sorts like
    # the rows themselves, so the tuples come out in np.unique(axis=0) order
    radix = [int(sub[:, j].max()) + 2 for j in range(sub.shape[1])]
    if int(np.prod([float(r) for r in radix])) < 2**62:
        key = np.zeros(len(sub), dtype=np.int64)
        for j, r in enumerate(radix):
            key = key * r + (sub[:, j] + 1)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        tuples = sub[first]
    else:
        tuples, inv = np.unique(sub, axis=0, return_inverse=True)
    atom_of[inside] = np.asarray(inv).ravel()
    return atom_of, tuples


def _order_by_codes(table: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Row order sorting the code table (missing codes last), column by column."""
    if len(table) == 0:
        return np.empty(0, dtype=np.int64)
    keys = []
    for li in reversed(range(table.shape[1])):
        col = table[:, li]
        miss = np.array([c is None for c in col])
        txt = np.where(miss, "", col).astype(str)
        keys.append(txt)
        keys.append(miss)
    return np.lexsort(keys).astype(np.int64)


@dataclass(frozen=True)
class _Slivers:
    final_atom: npt.NDArray[np.int64]
    n_components: int
    n_slivers: int
    sliver_area: float
    n_isolated: int
    isolated_area: float
    table: pd.DataFrame
    n_kept_whole: int = 0

    def report(
        self,
        keys: tuple[str, ...],
        codes: list[npt.NDArray[np.object_]],
        tuple_row: npt.NDArray[np.int64],
    ) -> pd.DataFrame:
        t = self.table
        out = pd.DataFrame(
            {
                _AREA: t[_AREA].to_numpy(),
                "width_m": t["width_m"].to_numpy(),
                _POP: t[_POP].to_numpy(),
                "reason": t["reason"].to_numpy(),
                "status": t["status"].to_numpy(),
            }
        )
        for li, k in enumerate(keys):
            u = t[f"u{li}"].to_numpy()
            out[k] = _codes_at(codes[li], u)
        into = t["into"].to_numpy()
        out["into_atom"] = np.where(into >= 0, tuple_row[np.maximum(into, 0)], -1)
        out.index.name = "sliver"
        return out


def _merge_slivers(
    arr: _engine.Arrangement,
    atom_of: npt.NDArray[np.int64],
    tuples: npt.NDArray[np.int64],
    face_area: npt.NDArray[np.float64],
    face_pop: npt.NDArray[np.float64],
    *,
    min_area: float,
    width_max: float,
    tau: float,
) -> _Slivers:
    """Find sliver pieces and reassign them (see :func:`build_atlas` Notes).

    Returns the atom (row of *tuples*, after merging) of each face.
    """
    n_faces = len(atom_of)
    e = arr.edges
    al = np.where(e.left >= 0, atom_of[np.maximum(e.left, 0)], -1)
    ar = np.where(e.right >= 0, atom_of[np.maximum(e.right, 0)], -1)
    same = (al == ar) & (al >= 0)
    comp_all = _engine.components(n_faces, e.left[same], e.right[same])
    inside = atom_of >= 0
    comp_ids, comp = np.unique(comp_all[inside], return_inverse=True)
    comp_of = np.full(n_faces, -1, dtype=np.int64)
    comp_of[inside] = comp.ravel()
    nc = len(comp_ids)
    c_area = np.bincount(comp_of[inside], weights=face_area[inside], minlength=nc)
    c_pop = np.bincount(comp_of[inside], weights=face_pop[inside], minlength=nc)
    c_atom = np.full(nc, -1, dtype=np.int64)
    c_atom[comp_of[inside]] = atom_of[inside]

    cl = np.where(e.left >= 0, comp_of[np.maximum(e.left, 0)], -1)
    cr = np.where(e.right >= 0, comp_of[np.maximum(e.right, 0)], -1)
    diff = cl != cr
    c_per = np.bincount(
        cl[diff & (cl >= 0)], weights=e.length[diff & (cl >= 0)], minlength=nc
    ) + np.bincount(
        cr[diff & (cr >= 0)], weights=e.length[diff & (cr >= 0)], minlength=nc
    )
    width = 2.0 * c_area / np.where(c_per > 0, c_per, np.inf)

    # largest share of a covering unit
    n_vis = tuples.shape[1]
    unit_of = tuples[c_atom]
    share = np.zeros(nc)
    for li in range(n_vis):
        u = unit_of[:, li]
        cov = u >= 0
        if not cov.any():
            continue
        tot = np.bincount(u[cov], weights=c_area[cov])
        s = np.zeros(nc)
        s[cov] = c_area[cov] / np.where(tot[u[cov]] > 0, tot[u[cov]], np.inf)
        share = np.maximum(share, s)
    by_area = c_area < min_area
    by_shape = (width < width_max) & (share < tau)
    is_sliver = by_area | by_shape
    # a unit is never merged away whole: when every piece of a unit is a sliver
    # (a small municipality, a reserve), its largest piece is kept as a piece
    kept_whole = np.zeros(nc, dtype=bool)
    for li in range(n_vis):
        u = unit_of[:, li]
        cov = u >= 0
        if not (cov & is_sliver).any():
            continue
        solid = np.bincount(u[cov & ~is_sliver], minlength=int(u.max()) + 1) > 0
        cand = np.flatnonzero(cov & ~solid[np.maximum(u, 0)])
        cand = cand[np.lexsort((-c_area[cand], u[cand]))]
        largest = cand[_engine._run_starts(u[cand])]
        kept_whole[largest] = True
        is_sliver[largest] = False

    # shared border length between neighbouring pieces
    both = diff & (cl >= 0) & (cr >= 0)
    pa = np.concatenate([cl[both], cr[both]])
    pb = np.concatenate([cr[both], cl[both]])
    plen = np.concatenate([e.length[both], e.length[both]])
    target = np.arange(nc, dtype=np.int64)
    if len(pa) and is_sliver.any():
        keep = is_sliver[pa]
        pa, pb, plen = pa[keep], pb[keep], plen[keep]
        o = np.argsort(pa * nc + pb, kind="stable")  # = lexsort((pb, pa))
        pa, pb, plen = pa[o], pb[o], plen[o]
        first = _engine._run_starts(pa, pb)
        starts = np.flatnonzero(first)
        pa, pb = pa[starts], pb[starts]
        plen = np.add.reduceat(plen, starts)
        # candidates: non-sliver neighbours first (longest border), else a
        # larger sliver neighbour (so chains end and never loop)
        nb_sliver = is_sliver[pb]
        bigger = (c_area[pb] > c_area[pa]) | ((c_area[pb] == c_area[pa]) & (pb > pa))
        ok = ~nb_sliver | bigger
        pa, pb, plen, nb_sliver = pa[ok], pb[ok], plen[ok], nb_sliver[ok]
        o = np.lexsort((-plen, nb_sliver, pa))
        pa, pb = pa[o], pb[o]
        best = _engine._run_starts(pa)
        target[pa[best]] = pb[best]
        # follow chains of slivers to their final non-sliver piece
        for _ in range(64):
            nxt = target[target]
            if np.array_equal(nxt, target):
                break
            target = nxt
    merged = is_sliver & (target != np.arange(nc))
    isolated = is_sliver & ~merged
    final_c_atom = c_atom[target]
    final_atom = np.full(n_faces, -1, dtype=np.int64)
    final_atom[inside] = final_c_atom[comp_of[inside]]

    sl = np.flatnonzero(is_sliver)
    table = pd.DataFrame(
        {
            _AREA: c_area[sl],
            "width_m": width[sl],
            _POP: c_pop[sl],
            "reason": np.where(by_area[sl], "area", "thin"),
            "status": np.where(merged[sl], "merged", "isolated"),
            "into": np.where(merged[sl], final_c_atom[sl], -1),
        }
    )
    for li in range(n_vis):
        table[f"u{li}"] = unit_of[sl, li]
    return _Slivers(
        final_atom=final_atom,
        n_components=nc,
        n_slivers=int(is_sliver.sum()),
        sliver_area=float(c_area[is_sliver].sum()),
        n_isolated=int(isolated.sum()),
        isolated_area=float(c_area[isolated].sum()),
        table=table,
        n_kept_whole=int(kept_whole.sum()),
    )
