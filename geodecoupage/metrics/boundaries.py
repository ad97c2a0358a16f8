"""Geometric measures read from the atoms: boundary coincidence and fragments.

Both use one pass over the atom rings (:func:`geodecoupage.metrics._edges.atom_edges`),
never a second overlay. Lengths are in metres in EPSG:32198.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

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
        mids = edges.midpoints()[rest]
        tree = edges.boundary_tree(atoms, layer_b)
        hit, _ = tree.query(mids, predicate="dwithin", distance=tolerance_m)
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
    a_int, a_lab = pd.factorize(atoms[layer].to_numpy(dtype=object))
    b_int, b_lab = pd.factorize(atoms[reference].to_numpy(dtype=object))
    a_labels = np.asarray(a_lab, dtype=object).astype(str)
    b_labels = np.asarray(b_lab, dtype=object).astype(str)
    a = np.asarray(a_int, dtype="int64")[edges.part_atom]  # -1: uncovered
    b = np.asarray(b_int, dtype="int64")[edges.part_atom]
    a_ok, b_ok = a >= 0, b >= 0
    n = len(edges.part_atom)
    p, q = edges.adjacency[:, 0], edges.adjacency[:, 1]
    same_a = a_ok[p] & (a[p] == a[q])
    same_ab = same_a & b_ok[p] & (b[p] == b[q])
    area = edges.part_area_m2
    n_units = len(a_labels)
    if n_units == 0:
        empty = pd.Index([], name="code", dtype="str")
        cols = ["n_parts", "n_fragments", "n_fragments_dominant"]
        return pd.DataFrame({c: pd.Series([], dtype="int64") for c in cols}).set_axis(
            empty
        )

    def count(comp: np.ndarray, mask: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """Significant pieces per unit (array over unit integer codes)."""
        out = np.zeros(n_units, dtype="int64")
        if not mask.any():
            return out
        keys, inv = np.unique(
            np.column_stack([a[mask], comp[mask]]), axis=0, return_inverse=True
        )
        piece_area = np.bincount(inv.ravel(), weights=area[mask], minlength=len(keys))
        unit = keys[:, 0]
        largest = np.zeros(n_units)
        np.maximum.at(largest, unit, piece_area)
        sig = ((piece_area > tau * totals[unit]) & (piece_area >= min_piece_m2)) | (
            piece_area == largest[unit]
        )
        np.add.at(out, unit[sig], 1)
        return out

    covered = a_ok & b_ok
    tot_all = np.bincount(a[a_ok], weights=area[a_ok], minlength=n_units)
    tot_cov = np.bincount(a[covered], weights=area[covered], minlength=n_units)
    comp_a = components(n, edges.adjacency, same_a)
    comp_ab = components(n, edges.adjacency, same_ab)
    dom_code = (
        pd.Series(dominant.astype(str).to_numpy(), index=dominant.index.astype(str))
        .reindex(a_labels)
        .to_numpy(dtype=object)
    )
    b_index = {lab: i for i, lab in enumerate(b_labels)}
    dom_b = np.array(
        [-1 if pd.isna(d) else b_index.get(str(d), -1) for d in dom_code],
        dtype="int64",
    )
    in_dom = covered & (b == dom_b[np.maximum(a, 0)])
    n_parts = pd.Series(count(comp_a, a_ok, tot_all), index=a_labels)
    n_frag = pd.Series(count(comp_ab, covered, tot_cov), index=a_labels)
    n_dom = pd.Series(count(comp_ab, in_dom, tot_cov), index=a_labels)
    index = pd.Index(sorted(set(n_parts.index) | set(dominant.index)), name="code")
    out = pd.DataFrame(
        {
            "n_parts": n_parts.reindex(index, fill_value=0),
            "n_fragments": n_frag.reindex(index, fill_value=0),
            "n_fragments_dominant": n_dom.reindex(index, fill_value=0),
        }
    ).astype("int64")
    return out
