"""Geometric measures read from the atoms: boundary coincidence and fragments.

Both use one pass over the atom rings (:func:`geodecoupage.metrics._edges.atom_edges`),
never a second overlay. Lengths are in metres in EPSG:32198.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

import shapely

from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics._contingency import check_threshold
from geodecoupage.metrics._edges import AtomEdges, components

__all__ = ["BoundaryCoincidence", "boundary_coincidence", "fragment_counts"]


@dataclass(frozen=True)
class BoundaryCoincidence:
    """Share of layer A's internal boundary lying near layer B's boundary."""

    layer_a: str
    layer_b: str
    tolerance_m: float
    internal_length_m: float
    coincident_length_m: float
    exact_length_m: float
    share: float

    def to_dict(self) -> dict[str, object]:
        """Return the fields as a plain dict."""
        return asdict(self)


def _check_layer(atoms: pd.DataFrame, key: str) -> None:
    if key not in atoms.columns:
        msg = (
            f"Layer {key!r} is not in the atlas; its layers are the code columns "
            f"of atlas.atoms: {', '.join(map(str, atoms.columns))}."
        )
        raise InvalidParameterError(msg)


def boundary_coincidence(
    atoms: pd.DataFrame,
    edges: AtomEdges,
    layer_a: str,
    layer_b: str,
    *,
    tolerance_m: float = 100.0,
    atom_mask: np.ndarray | None = None,
) -> BoundaryCoincidence:
    """Measure how much of A's internal boundary follows B's boundary.

    Parameters
    ----------
    atoms
        ``Atlas.atoms``.
    edges
        :func:`~geodecoupage.metrics._edges.atom_edges` of the same atoms.
    layer_a, layer_b
        Layer keys.
    tolerance_m
        A piece of A's boundary coincides with B's when it lies within this
        distance (metres, EPSG:32198) of B's boundary.
    atom_mask
        Optional boolean mask of the atoms of a study territory: only A's
        boundary segments of these atoms are measured (B's boundary is whole).

    Returns
    -------
    BoundaryCoincidence
        Lengths in metres and the share (NaN when A has no internal boundary).

    Raises
    ------
    InvalidParameterError
        If a layer is not in the atlas or *tolerance_m* is negative.

    Notes
    -----
    :math:`L_A` is the length of A's internal boundary (edges between two A units,
    outer edge and gaps excluded). :math:`C_A^B(ε)` is the length of the part of
    it whose segments (at most ``max_segment_m`` long) have their midpoint within
    ε of B's boundary, B's outer edge included (an A border that follows B's
    coast coincides). The score is :math:`C_A^B(ε) / L_A \\in [0, 1]`: 1 when
    every A border is also a B border (A nests in B or A equals B), small when
    A's borders cut across B's units. It is asymmetric: a refinement A of B
    scores low (its extra borders are not B's) while B in A scores 1.
    """
    _check_layer(atoms, layer_a)
    _check_layer(atoms, layer_b)
    if not np.isfinite(tolerance_m) or tolerance_m < 0:
        msg = f"tolerance_m must be a distance >= 0 in metres, got {tolerance_m!r}."
        raise InvalidParameterError(msg)
    internal = edges.internal_mask(atoms, layer_a)
    if atom_mask is not None:
        internal &= np.asarray(atom_mask, dtype=bool)[edges.seg_atom]
    b_edge = edges.boundary_mask(atoms, layer_b)
    exact = internal & b_edge
    near = exact.copy()
    rest = np.flatnonzero(internal & ~b_edge)
    if tolerance_m > 0 and rest.size and b_edge.any():
        xy = edges.seg_xy
        b_lines = shapely.linestrings(xy[b_edge].reshape(-1, 2, 2))
        mids = shapely.points(
            (xy[rest, 0] + xy[rest, 2]) / 2.0, (xy[rest, 1] + xy[rest, 3]) / 2.0
        )
        tree = shapely.STRtree(b_lines)
        hit, _ = tree.query_nearest(mids, max_distance=tolerance_m, all_matches=False)
        near[rest[np.unique(hit)]] = True
    length = edges.seg_len
    total = float(length[internal].sum()) / 2.0
    coincident = float(length[near].sum()) / 2.0
    return BoundaryCoincidence(
        layer_a=layer_a,
        layer_b=layer_b,
        tolerance_m=float(tolerance_m),
        internal_length_m=total,
        coincident_length_m=coincident,
        exact_length_m=float(length[exact].sum()) / 2.0,
        share=coincident / total if total > 0 else float("nan"),
    )


def fragment_counts(
    atoms: pd.DataFrame,
    edges: AtomEdges,
    layer: str,
    reference: str,
    *,
    dominant: pd.Series,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
) -> pd.DataFrame:
    """Count the connected pieces of each unit, alone and cut by a reference layer.

    Parameters
    ----------
    atoms, edges
        ``Atlas.atoms`` and their :func:`atom_edges`.
    layer, reference
        Layer keys.
    dominant
        The dominant reference unit of each unit (index: unit code), e.g. the
        ``dominant`` column of :func:`unit_incoherence`.
    threshold, min_piece_m2
        A piece counts when its area is more than ``threshold`` of the unit's area
        covered by the reference layer and at least ``min_piece_m2``; the largest
        piece always counts.

    Returns
    -------
    pandas.DataFrame
        Index ``code``; ``n_parts`` (pieces of the unit itself: islands, exclaves),
        ``n_fragments`` (pieces of the unit cut by the reference layer's units,
        over all of them), ``n_fragments_dominant`` (pieces inside the dominant
        reference unit).

    Notes
    -----
    Two atom parts are connected when they share an edge (a corner is not
    enough). A fragment of unit :math:`A_i` is a connected component of the
    parts with the same ``(A, B)`` codes; ``n_fragments - n_parts`` counts the
    extra pieces the reference layer creates; ``n_fragments_dominant > 1`` flags
    a dominant reference unit that wraps the unit in several disjoint places.
    """
    tau = check_threshold(threshold)
    _check_layer(atoms, layer)
    _check_layer(atoms, reference)
    a_col = atoms[layer].to_numpy(dtype=object)
    b_col = atoms[reference].to_numpy(dtype=object)
    a = a_col[edges.part_atom]
    b = b_col[edges.part_atom]
    a_ok = ~pd.isna(a)
    b_ok = ~pd.isna(b)
    n = len(edges.part_atom)
    p, q = edges.adjacency[:, 0], edges.adjacency[:, 1]
    same_a = a_ok[p] & a_ok[q] & (a[p] == a[q])
    same_ab = same_a & b_ok[p] & b_ok[q] & (b[p] == b[q])
    area = edges.part_area_m2

    def count(comp: np.ndarray, mask: np.ndarray, totals: pd.Series) -> pd.Series:
        frame = pd.DataFrame(
            {"unit": a[mask].astype(str), "comp": comp[mask], "area": area[mask]}
        )
        if frame.empty:
            return pd.Series(dtype="int64")
        pieces = frame.groupby(["unit", "comp"], sort=True)["area"].sum()
        units = pieces.index.get_level_values(0)
        unit_total = totals.reindex(units).to_numpy()
        largest = pieces.groupby(level=0).transform("max").to_numpy()
        sig = (
            (pieces.to_numpy() > tau * unit_total) & (pieces.to_numpy() >= min_piece_m2)
        ) | (pieces.to_numpy() == largest)
        return pd.Series(sig, index=units).groupby(level=0).sum().astype("int64")

    covered = a_ok & b_ok
    tot_all = pd.Series(area[a_ok], index=a[a_ok].astype(str)).groupby(level=0).sum()
    tot_cov = (
        pd.Series(area[covered], index=a[covered].astype(str)).groupby(level=0).sum()
    )
    comp_a = components(n, edges.adjacency, same_a)
    comp_ab = components(n, edges.adjacency, same_ab)
    n_parts = count(comp_a, a_ok, tot_all)
    n_frag = count(comp_ab, covered, tot_cov)
    dom = dominant.astype(object).reindex(pd.Index(a[covered].astype(str)))
    in_dom = np.zeros(n, dtype=bool)
    in_dom[np.flatnonzero(covered)] = b[covered].astype(str) == dom.to_numpy(
        dtype=object
    )
    n_dom = count(comp_ab, in_dom, tot_cov)
    index = pd.Index(sorted(set(n_parts.index) | set(dominant.index)), name="code")
    out = pd.DataFrame(
        {
            "n_parts": n_parts.reindex(index, fill_value=0),
            "n_fragments": n_frag.reindex(index, fill_value=0),
            "n_fragments_dominant": n_dom.reindex(index, fill_value=0),
        }
    ).astype("int64")
    return out
