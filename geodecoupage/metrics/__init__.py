"""Scores: how badly boundary layers fail to nest, and who carries the load.

Every number is computed from an :class:`~geodecoupage.overlay.atlas.Atlas` (its
atoms and crosswalks); the formulas live in pure functions on contingency tables.
Methodology: ``docs/methodologie.md``, section *Scores*.

>>> import pandas as pd
>>> from geodecoupage.metrics import information_scores
>>> w = pd.Series([1.0, 1.0], index=pd.MultiIndex.from_tuples([("a", "x"), ("b", "y")]))
>>> information_scores(w).nmi
1.0
"""

from __future__ import annotations

from geodecoupage.metrics.agreement import (
    InformationScores,
    NestingIndices,
    information_scores,
    nesting_indices,
)
from geodecoupage.metrics.audit import (
    DEFAULT_THRESHOLDS,
    MATRIX_MEASURES,
    OUTPUT_FILES,
    AuditResult,
    agreement_matrix,
    audit,
    concertation_risk,
    incoherence_scores,
    pair_scores,
    sensitivity,
    sensitivity_curves,
)
from geodecoupage.metrics.boundaries import (
    BoundaryCoincidence,
    boundary_coincidence,
    fragment_counts,
)
from geodecoupage.metrics.concertation import (
    ConcertationRisk,
    RiskWeights,
    concertation_from_tables,
)
from geodecoupage.metrics.incoherence import UNIT_COLUMNS, unit_incoherence
from geodecoupage.metrics.plots import plot_matrix, plot_sensitivity
from geodecoupage.metrics.region import RegionSelection, select_region

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MATRIX_MEASURES",
    "OUTPUT_FILES",
    "UNIT_COLUMNS",
    "AuditResult",
    "BoundaryCoincidence",
    "ConcertationRisk",
    "InformationScores",
    "NestingIndices",
    "RegionSelection",
    "RiskWeights",
    "agreement_matrix",
    "audit",
    "boundary_coincidence",
    "concertation_from_tables",
    "concertation_risk",
    "fragment_counts",
    "incoherence_scores",
    "information_scores",
    "nesting_indices",
    "pair_scores",
    "plot_matrix",
    "plot_sensitivity",
    "select_region",
    "sensitivity",
    "sensitivity_curves",
    "unit_incoherence",
]
