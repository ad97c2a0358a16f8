"""geodecoupage: where Québec's administrative maps disagree.

Loaders for every official layer feed one overlay engine (the atlas: the common
refinement of all layers); crosswalks, incoherence and over-concertation scores,
proposed groupings, maps and reports all derive from it.

>>> import geodecoupage as g
>>> layers = g.datasets.demo_layers()
>>> atlas = g.build_atlas({k: layers[k] for k in ("mrc", "rls", "css")})
>>> xw = atlas.crosswalk("mrc", "rls")
>>> bool((xw["share_of_source"].groupby(level=0).sum().round(9) == 1).all())
True

Maps and reports live in :mod:`geodecoupage.maps` and :mod:`geodecoupage.reports`
(optional extra ``maps``).
"""

from __future__ import annotations

from importlib.metadata import version as _version

from geodecoupage import datasets
from geodecoupage.crs import AREA_CRS, WORK_CRS, area_m2, to_work_crs
from geodecoupage.errors import GeodecoupageError
from geodecoupage.grouping import (
    GroupingProposal,
    coherent_envelopes,
    propose_reassignments,
    regionalise,
)
from geodecoupage.layers import (
    LAYER_KEYS,
    available_layers,
    fetch_layer,
    read_layer,
    read_territory,
    resolve_data_dir,
)
from geodecoupage.layers.validate import check_layer, repair_layer, validate_layer
from geodecoupage.metrics import (
    AuditResult,
    agreement_matrix,
    audit,
    concertation_risk,
    incoherence_scores,
    pair_scores,
    sensitivity,
)
from geodecoupage.overlay import Atlas, build_atlas
from geodecoupage.overlay.population import population_surface

__version__ = _version("geodecoupage")
__all__ = [
    "AREA_CRS",
    "LAYER_KEYS",
    "WORK_CRS",
    "Atlas",
    "AuditResult",
    "GeodecoupageError",
    "GroupingProposal",
    "__version__",
    "agreement_matrix",
    "area_m2",
    "audit",
    "available_layers",
    "build_atlas",
    "check_layer",
    "coherent_envelopes",
    "concertation_risk",
    "datasets",
    "fetch_layer",
    "incoherence_scores",
    "pair_scores",
    "population_surface",
    "propose_reassignments",
    "read_layer",
    "read_territory",
    "regionalise",
    "repair_layer",
    "resolve_data_dir",
    "sensitivity",
    "to_work_crs",
    "validate_layer",
]
