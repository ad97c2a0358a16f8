"""Coherent groupings: envelopes, reassignment scenarios, optimised regionalisation.

* :func:`coherent_envelopes` — the finest grouping of base units (municipalities
  or atlas atoms) in which every selected layer nests, and the overlaps that
  chain the largest envelopes together;
* :func:`reassign` / :func:`propose_reassignments` — make split base units whole
  in each layer, ranked by incoherence removed per person moved, with the scores
  before and after;
* :func:`regionalise` — contiguous groups above a population floor that straddle
  as few institutional units as possible.

Every function reads an :class:`~geodecoupage.overlay.atlas.Atlas`; the
``*_from_pieces`` / ``*_tables`` variants work on plain tables. Methods and
formulas: ``docs/methodologie.md``, section *Regroupements*.
"""

from __future__ import annotations

from geodecoupage.grouping.envelopes import (
    chaining_cuts,
    coherent_envelopes,
    envelope_sensitivity,
    envelopes_from_pieces,
)
from geodecoupage.grouping.reassign import (
    ReassignmentScenario,
    apply_reassignments,
    pair_scores,
    propose_reassignments,
    reassign,
    reassignment_proposals,
)
from geodecoupage.grouping.regionalise import (
    RegionSolution,
    contiguity_graph,
    regionalise,
    regionalise_tables,
    straddle_objective,
)
from geodecoupage.grouping.result import GroupingProposal

__all__ = [
    "GroupingProposal",
    "ReassignmentScenario",
    "RegionSolution",
    "apply_reassignments",
    "chaining_cuts",
    "coherent_envelopes",
    "contiguity_graph",
    "envelope_sensitivity",
    "envelopes_from_pieces",
    "pair_scores",
    "propose_reassignments",
    "reassign",
    "reassignment_proposals",
    "regionalise",
    "regionalise_tables",
    "straddle_objective",
]
