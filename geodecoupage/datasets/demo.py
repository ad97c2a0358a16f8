"""The generated demo territory: small layers whose right answers are known.

:func:`demo_layers` builds, in code and in a fraction of a second, a fictional
territory of 48 municipalities in southern Québec (a 96 km × 72 km rectangle
between Drummondville and Sherbrooke, EPSG:32198) and groups them into five
layers that nest or fail to nest *by construction*. Docstrings, the README,
notebooks and offline runs use it; tests use it as a reference, because every
split below is known in advance. Nothing here is official data: every layer
carries the attribution "Données synthétiques générées par geodecoupage
(aucune donnée officielle)".

Construction
------------
An 8 × 6 grid of 12 km cells whose interior corners are moved at random (up to
22 % of a cell, seeded ``numpy.random.default_rng(DEMO_SEED)``), each side
bent by three intermediate vertices (16 vertices per municipality), all
coordinates rounded to the metre. Municipality ``99001`` is the south-west
cell; codes run west to east, then south to north (``99009`` is north of
``99001``). Populations are drawn from a log-normal law and rounded to whole
persons; density is uniform inside each municipality.

========  ================================  =====================================
Layer     Units (codes)                     How they are built
========  ================================  =====================================
regions   2 (91, 92)                        MRC 991-993 / MRC 994-996
mrc       6 (991-996)                       unions of whole municipalities
rls       5 (9101-9105)                     unions of municipalities, 2 cut
css       4 (791000-794000)                 unions of municipalities, 2 cut
========  ================================  =====================================

Municipalities nest in MRC, MRC nest in regions. The RLS and CSS layers do not
nest, on purpose.

Splits by construction
----------------------
Area shares are equal-area shares (:data:`geodecoupage.crs.AREA_CRS`),
rounded to 0.01 %; population shares of a split municipality equal its area
shares (uniform density). Exact values to 4 decimals are in
:data:`DEMO_EXPECTED`, and the tests recompute them from the geometry.

Municipalities cut by a border of another layer:

=====  ============================  =====  ================================
Layer  Municipality                  Cut    Shares of the municipality
=====  ============================  =====  ================================
rls    99020 Saint-Médard-du-Rivage  N-S    9102: 53.07 %, 9103: 46.93 %
rls    99034 Lac-Vermeil             NE     9101: 77.43 %, 9102: 22.57 %
css    99027 Sainte-Odile-des-Prés   sliv.  793000: 99.81 %, 792000: 0.19 %
css    99029 Saint-Rémi-des-Coteaux  W-E    794000: 50.01 %, 793000: 49.99 %
=====  ============================  =====  ================================

(N-S: cut from the middle of the south side to the middle of the north side
through the centre, the east half moves; NE: the north-east quarter moves;
W-E: cut from west to east through the centre, the north half moves; sliv.: a
40 m band along the south side moves, a *sliver* that a 1 % threshold drops.)

MRC split between several units (area shares of the MRC; population shares
in :attr:`DemoExpected.mrc_population_splits`):

=====  =====  =============================================================
Layer  MRC    Shares
=====  =====  =============================================================
rls    992    9101: 97.23 %, 9102: 2.77 %
rls    993    9102: 95.80 %, 9103: 4.20 %
rls    996    9104: 22.70 %, 9105: 77.30 %
css    993    792000: 48.50 %, 793000: 51.50 %
css    994    793000: 5.40 %, 794000: 94.60 %
css    996    793000: 52.26 %, 794000: 47.74 %
=====  =====  =============================================================

Every other MRC lies wholly in one unit: in the RLS layer 991 in 9101, 994 in
9103, 995 in 9104; in the CSS layer 991 and 992 in 791000, 995 in 794000.
Units touching several MRC: RLS 9101 (991, 992), 9102 (992, 993), 9103 (993,
994), 9104 (995, 996: whole municipalities of both); CSS 791000 (991, 992:
a union of whole MRC), 793000 (993, 994, 996), 794000 (994, 995, 996). RLS 9105
and CSS 792000 lie in one MRC each. The total population is 140 746.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import WORK_CRS

logger = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTION",
    "DEMO_EXPECTED",
    "DEMO_KEYS",
    "DEMO_SEED",
    "DemoExpected",
    "demo_layers",
    "demo_population",
]

#: Attribution carried by every demo layer.
ATTRIBUTION = (
    "Données synthétiques générées par geodecoupage (aucune donnée officielle)"
)

#: Seed of the generator; changing it changes every number in this module.
DEMO_SEED = 20_260_611

#: Layer keys of the demo territory, coarse to fine then the cross-cutting ones.
DEMO_KEYS = ("regions", "mrc", "municipalites", "rls", "css")

_NX, _NY, _STEP = 8, 6, 12_000.0
_ORIGIN = (-336_000.0, 166_000.0)  # south-west corner, EPSG:32198
_CORNER_JITTER = 0.22  # of a cell, interior corners
_SIDE_JITTER = 0.06  # of a cell, intermediate vertices of interior sides
_SLIVER_M = 40.0

_NAMES = (
    # row 0 (south), west to east
    "Saint-Anselme-des-Aulnes",
    "Lac-aux-Huards",
    "Sainte-Brigitte-du-Coteau",
    "Pointe-aux-Saules",
    "Saint-Fulbert-des-Champs",
    "Rivière-aux-Ormes",
    "Sainte-Clotilde-des-Prés",
    "Val-des-Bouleaux",
    # row 1
    "Saint-Urbain-du-Plateau",
    "Lac-Sarcelle",
    "Notre-Dame-des-Érables",
    "Saint-Ovide",
    "Sainte-Gemma",
    "Petit-Brûlé",
    "Saint-Irénée-de-la-Butte",
    "Mont-Pierreux",
    # row 2
    "Saint-Évariste-des-Bois",
    "Lac-Castor-Blanc",
    "Sainte-Praxède",
    "Saint-Médard-du-Rivage",
    "Grand-Rang",
    "Saint-Aimé-des-Lacs",
    "Sainte-Pétronille-du-Haut",
    "Baie-des-Roseaux",
    # row 3
    "Saint-Anicet-de-la-Montagne",
    "Haut-Plateau",
    "Sainte-Odile-des-Prés",
    "Saint-Télesphore-du-Ruisseau",
    "Saint-Rémi-des-Coteaux",
    "Lac-Brûlé",
    "Sainte-Wilhelmine",
    "Saint-Conon",
    # row 4
    "Val-Castor",
    "Lac-Vermeil",
    "Saint-Zéphirin-des-Monts",
    "Sainte-Élodie",
    "Basses-Terres",
    "Saint-Narcisse-de-la-Plaine",
    "Sainte-Rosalie-du-Marais",
    "Pont-Rouge-du-Nord",
    # row 5 (north)
    "Saint-Hyacinthe-des-Pins",
    "Cap-aux-Merles",
    "Saint-Lin-de-la-Rivière",
    "Sainte-Émérence",
    "Saint-Zotique-des-Sables",
    "Rang-Double",
    "Sainte-Ursule-du-Lac",
    "Saint-Gédéon-des-Battures",
)

_MRC_NAMES = {
    "991": "MRC des Aulnes",
    "992": "MRC du Haut-Plateau",
    "993": "MRC de la Rivière-Claire",
    "994": "MRC des Coteaux",
    "995": "MRC du Lac-Brûlé",
    "996": "MRC des Basses-Terres",
}
_REGION_NAMES = {"91": "Collines-de-l'Ouest", "92": "Lacs-de-l'Est"}
_RLS_NAMES = {
    "9101": "RLS des Aulnes-et-du-Plateau",
    "9102": "RLS de la Rivière-Claire",
    "9103": "RLS des Coteaux",
    "9104": "RLS du Lac-Brûlé",
    "9105": "RLS des Basses-Terres",
}
_CSS_NAMES = {
    "791000": "Centre de services scolaire des Aulnes",
    "792000": "Centre de services scolaire des Deux-Rives",
    "793000": "Centre de services scolaire des Basses-Terres",
    "794000": "Centre de services scolaire des Lacs",
}
_TITLES = {
    "regions": ("Régions (démo synthétique)", "Regions (synthetic demo)"),
    "mrc": ("MRC (démo synthétique)", "MRC (synthetic demo)"),
    "municipalites": ("Municipalités (démo synthétique)", "Municipalities (demo)"),
    "rls": ("RLS (démo synthétique)", "RLS (synthetic demo)"),
    "css": ("Centres de services scolaires (démo)", "School centres (demo)"),
}


def _code(c: int, r: int) -> str:
    return f"99{r * _NX + c + 1:03d}"


def _mrc_of(c: int, r: int) -> str:
    if c <= 1:
        return "991" if r <= 2 else "992"
    if c <= 3:
        return "993"
    if r >= 4:
        return "996"
    return "994" if c <= 5 else "995"


def _rls_of(c: int, r: int) -> str:
    if c <= 1:
        return "9101"
    if c <= 3:
        return "9102"
    if c <= 5:
        return "9103" if r <= 3 else "9105"
    return "9104" if r <= 4 else "9105"


def _css_of(c: int, r: int) -> str:
    if c <= 1:
        return "791000"
    if c <= 3:
        return "792000" if r <= 2 else "793000"
    if c <= 5 and r >= 4:
        return "793000"
    return "794000"


#: Cuts: (layer, cell) -> (kind, unit of the piece that leaves the cell's unit).
_CUTS = {
    ("rls", (3, 2)): ("east_half", "9103"),
    ("rls", (1, 4)): ("ne_quarter", "9102"),
    ("css", (4, 3)): ("north_half", "793000"),
    ("css", (2, 3)): ("south_sliver", "792000"),
}


@dataclass(frozen=True)
class DemoExpected:
    """What the demo territory contains, by construction (see the module notes).

    Attributes
    ----------
    counts
        Number of units per layer key.
    municipality_splits
        ``layer -> municipality code -> {unit code: area share}`` for every
        municipality cut by a border of that layer (``rls``, ``css``); the
        population shares are the same (uniform density).
    mrc_splits
        ``layer -> MRC code -> {unit code: area share}`` for every MRC that
        touches more than one unit of that layer.
    mrc_population_splits
        Same as *mrc_splits* with population shares.
    mrc_nested
        ``layer -> MRC code -> unit code`` for the MRC wholly inside one unit.
    straddling
        ``layer -> unit code -> MRC codes`` for the units that touch more than
        one MRC.
    total_population
        Population of the territory (persons).

    Shares are rounded to 4 decimals; the mappings are read-only.
    """

    counts: Mapping[str, int]
    municipality_splits: Mapping[str, Mapping[str, Mapping[str, float]]]
    mrc_splits: Mapping[str, Mapping[str, Mapping[str, float]]]
    mrc_population_splits: Mapping[str, Mapping[str, Mapping[str, float]]]
    mrc_nested: Mapping[str, Mapping[str, str]]
    straddling: Mapping[str, Mapping[str, tuple[str, ...]]]
    total_population: int

    def __post_init__(self) -> None:
        for name in (
            "counts",
            "municipality_splits",
            "mrc_splits",
            "mrc_population_splits",
            "mrc_nested",
            "straddling",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))


def _frozen(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in obj.items()})
    return obj


# --------------------------------------------------------------------- build


def _grid(
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[tuple[int, ...], np.ndarray]]:
    """Corners (NX+1, NY+1, 2) and the three inner vertices of every side."""
    i, j = np.meshgrid(np.arange(_NX + 1), np.arange(_NY + 1), indexing="ij")
    corners = np.stack([_ORIGIN[0] + _STEP * i, _ORIGIN[1] + _STEP * j], axis=-1)
    jitter = np.asarray(rng.uniform(-1.0, 1.0, size=corners.shape))
    jitter *= _CORNER_JITTER * _STEP
    jitter[[0, -1], :, 0] = 0.0  # corners on the west/east sides stay on them
    jitter[:, [0, -1], 1] = 0.0  # and on the south/north sides
    corners = np.round(corners + jitter)
    sides: dict[tuple[int, ...], np.ndarray] = {}
    # horizontal sides (i, j)-(i+1, j), then vertical sides (i, j)-(i, j+1)
    for di, dj in ((1, 0), (0, 1)):
        for a in range(_NX + 1 - di):
            for b in range(_NY + 1 - dj):
                p, q = corners[a, b], corners[a + di, b + dj]
                on_border = (dj == 0 and b in (0, _NY)) or (di == 0 and a in (0, _NX))
                d = q - p
                normal = np.array([-d[1], d[0]]) / np.hypot(*d)
                offset = rng.uniform(-_SIDE_JITTER, _SIDE_JITTER, size=3) * _STEP
                if on_border:
                    offset[:] = 0.0
                t = np.array([0.25, 0.5, 0.75])[:, None]
                sides[(a, b, a + di, b + dj)] = np.round(
                    p + t * d + offset[:, None] * normal
                )
    return corners, sides


def _ring(
    corners: np.ndarray, sides: dict[tuple[int, ...], np.ndarray], c: int, r: int
) -> np.ndarray:
    """The 16 vertices of cell (c, r), counter-clockwise from the south-west corner.

    Positions: 0 SW, 2 middle of S, 4 SE, 6 middle of E, 8 NE, 10 middle of N,
    12 NW, 14 middle of W.
    """
    south = sides[(c, r, c + 1, r)]
    east = sides[(c + 1, r, c + 1, r + 1)]
    north = sides[(c, r + 1, c + 1, r + 1)][::-1]
    west = sides[(c, r, c, r + 1)][::-1]
    return np.vstack(
        [
            corners[c, r],
            south,
            corners[c + 1, r],
            east,
            corners[c + 1, r + 1],
            north,
            corners[c, r + 1],
            west,
        ]
    )


def _cut(ring: np.ndarray, kind: str) -> tuple[shapely.Polygon, shapely.Polygon]:
    """(moved piece, kept piece) of a cell ring for one kind of cut."""
    centre = np.round(ring[[0, 4, 8, 12]].mean(axis=0))
    v = list(ring)
    if kind == "east_half":  # middle of S -> centre -> middle of N
        moved = [*v[2:11], centre]
        kept = [*v[10:16], *v[0:3], centre]
    elif kind == "north_half":  # middle of W -> centre -> middle of E
        moved = [*v[6:15], centre]
        kept = [*v[14:16], *v[0:7], centre]
    elif kind == "ne_quarter":  # middle of E -> centre -> middle of N
        moved = [*v[6:11], centre]
        kept = [*v[10:16], *v[0:7], centre]
    elif kind == "south_sliver":  # a band along the south side
        d = ring[4] - ring[0]
        inward = np.array([-d[1], d[0]]) / np.hypot(*d)
        inner = np.round(ring[1:4] + _SLIVER_M * inward)
        moved = [*v[0:5], *inner[::-1]]
        kept = [v[0], *inner, *v[4:16]]
    else:  # pragma: no cover - internal table
        msg = f"unknown cut {kind!r}"
        raise ValueError(msg)
    return shapely.Polygon(moved), shapely.Polygon(kept)


def _frame(
    key: str,
    codes: list[str],
    names: list[str],
    geoms: list[object] | np.ndarray,
    parents: Mapping[str, list[str]] | None = None,
) -> gpd.GeoDataFrame:
    index = pd.Index(codes, name="code", dtype=object)
    data: dict[str, object] = {"nom": names, "layer": key}
    data.update(parents or {})
    gdf = gpd.GeoDataFrame(
        data,
        geometry=gpd.GeoSeries(list(geoms), index=index, crs=WORK_CRS),
        index=index,
    )
    gdf.attrs = {
        "layer": key,
        "title_fr": _TITLES[key][0],
        "title_en": _TITLES[key][1],
        "vintage": "démo",
        "attribution": ATTRIBUTION,
        "licence": "CC0-1.0",
        "source_path": None,
        "sha256": None,
        "crs": WORK_CRS,
    }
    return gdf


def _dissolve(
    parts: list[object], labels: list[str], names: Mapping[str, str]
) -> tuple[list[str], list[str], list[object]]:
    codes = sorted(set(labels))
    lab = np.asarray(labels)
    arr = np.asarray(parts, dtype=object)
    geoms = [shapely.coverage_union_all(arr[lab == code]) for code in codes]
    return codes, [names[c] for c in codes], geoms


@cache
def _build() -> tuple[dict[str, gpd.GeoDataFrame], np.ndarray]:
    rng = np.random.default_rng(DEMO_SEED)
    corners, sides = _grid(rng)
    cells = [(c, r) for r in range(_NY) for c in range(_NX)]
    rings = {cell: _ring(corners, sides, *cell) for cell in cells}
    polys = {cell: shapely.Polygon(rings[cell]) for cell in cells}
    population = np.round(rng.lognormal(mean=7.6, sigma=1.1, size=len(cells)))

    codes = [_code(*cell) for cell in cells]
    mrc = [_mrc_of(*cell) for cell in cells]
    region = ["91" if m <= "993" else "92" for m in mrc]
    munis = _frame(
        "municipalites",
        codes,
        list(_NAMES),
        [polys[cell] for cell in cells],
        {"mrc_code": mrc, "regions_code": region},
    )
    mrc_codes, mrc_names, mrc_geoms = _dissolve(
        [polys[cell] for cell in cells], mrc, _MRC_NAMES
    )
    mrc_layer = _frame(
        "mrc",
        mrc_codes,
        mrc_names,
        mrc_geoms,
        {"regions_code": ["91" if m <= "993" else "92" for m in mrc_codes]},
    )
    reg_codes, reg_names, reg_geoms = _dissolve(
        mrc_geoms, mrc_layer["regions_code"].tolist(), _REGION_NAMES
    )
    regions = _frame("regions", reg_codes, reg_names, reg_geoms)

    layers = {"regions": regions, "mrc": mrc_layer, "municipalites": munis}
    for key, assign, names in (
        ("rls", _rls_of, _RLS_NAMES),
        ("css", _css_of, _CSS_NAMES),
    ):
        parts: list[object] = []
        labels: list[str] = []
        for cell in cells:
            home = assign(*cell)
            if (key, cell) in _CUTS:
                kind, other = _CUTS[(key, cell)]
                moved, kept = _cut(rings[cell], kind)
                parts += [moved, kept]
                labels += [other, home]
            else:
                parts.append(polys[cell])
                labels.append(home)
        layers[key] = _frame(key, *_dissolve(parts, labels, names))
    return {k: layers[k] for k in DEMO_KEYS}, population


def demo_layers() -> dict[str, gpd.GeoDataFrame]:
    """Return the five layers of the generated demo territory.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Keys :data:`DEMO_KEYS` (``regions``, ``mrc``, ``municipalites``,
        ``rls``, ``css``), each in the canonical layer schema: index ``code``
        (str), ``nom``, ``layer``, parent codes (``municipalites``: ``mrc_code``,
        ``regions_code``; ``mrc``: ``regions_code``), Polygon geometry in
        EPSG:32198, ``attrs`` with the attribution. New objects at every call.

    Notes
    -----
    The splits known by construction are tabulated in the module notes and in
    :data:`DEMO_EXPECTED`.

    Examples
    --------
    >>> layers = demo_layers()
    >>> {k: len(v) for k, v in layers.items()}
    {'regions': 2, 'mrc': 6, 'municipalites': 48, 'rls': 5, 'css': 4}
    >>> layers["municipalites"].loc["99020", ["nom", "mrc_code"]].tolist()
    ['Saint-Médard-du-Rivage', '993']
    """
    layers, _ = _build()
    out = {}
    for key, gdf in layers.items():
        copy = gdf.copy()
        copy.attrs = dict(gdf.attrs)
        out[key] = copy
    return out


def demo_population() -> gpd.GeoDataFrame:
    """Return the demo population surface: one polygon per municipality.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by municipality ``code``; ``nom``, ``population`` (float64,
        whole persons, uniform density inside each polygon) and the
        municipality polygon in EPSG:32198. Usable as the ``population=`` of
        the atlas.

    Examples
    --------
    >>> pop = demo_population()
    >>> int(pop["population"].sum()) == DEMO_EXPECTED.total_population
    True
    """
    layers, population = _build()
    munis = layers["municipalites"]
    gdf = gpd.GeoDataFrame(
        {"nom": munis["nom"].to_numpy(), "population": population.astype("float64")},
        geometry=munis.geometry.copy(),
        index=munis.index.copy(),
        crs=WORK_CRS,
    )
    gdf.attrs = {
        **munis.attrs,
        "layer": "population",
        "title_fr": "Population (démo synthétique)",
        "title_en": "Population (synthetic demo)",
    }
    return gdf


#: The demo territory's contents known by construction (see the module notes).
DEMO_EXPECTED = DemoExpected(
    counts={"regions": 2, "mrc": 6, "municipalites": 48, "rls": 5, "css": 4},
    municipality_splits={
        "rls": {
            "99020": {"9102": 0.5307, "9103": 0.4693},
            "99034": {"9101": 0.7743, "9102": 0.2257},
        },
        "css": {
            "99027": {"793000": 0.9981, "792000": 0.0019},
            "99029": {"794000": 0.5001, "793000": 0.4999},
        },
    },
    mrc_splits={
        "rls": {
            "992": {"9101": 0.9723, "9102": 0.0277},
            "993": {"9102": 0.9580, "9103": 0.0420},
            "996": {"9104": 0.2270, "9105": 0.7730},
        },
        "css": {
            "993": {"792000": 0.4850, "793000": 0.5150},
            "994": {"793000": 0.0540, "794000": 0.9460},
            "996": {"793000": 0.5226, "794000": 0.4774},
        },
    },
    mrc_population_splits={
        "rls": {
            "992": {"9101": 0.9534, "9102": 0.0466},
            "993": {"9102": 0.9560, "9103": 0.0440},
            "996": {"9104": 0.2649, "9105": 0.7351},
        },
        "css": {
            "993": {"792000": 0.5947, "793000": 0.4053},
            "994": {"793000": 0.0814, "794000": 0.9186},
            "996": {"793000": 0.5227, "794000": 0.4773},
        },
    },
    mrc_nested={
        "rls": {"991": "9101", "994": "9103", "995": "9104"},
        "css": {"991": "791000", "992": "791000", "995": "794000"},
    },
    straddling={
        "rls": {
            "9101": ("991", "992"),
            "9102": ("992", "993"),
            "9103": ("993", "994"),
            "9104": ("995", "996"),
        },
        "css": {
            "791000": ("991", "992"),
            "793000": ("993", "994", "996"),
            "794000": ("994", "995", "996"),
        },
    },
    total_population=140_746,
)
