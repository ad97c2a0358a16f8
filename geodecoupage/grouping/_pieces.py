"""Pieces: how each base unit sits in each institutional unit, as one long table.

A *pieces* table has one row per ``(base unit, layer, unit)`` with a positive
area: the part of base unit ``b`` (a municipality, or an atlas atom) lying in unit
``u`` of a layer (an MRC, an RLS, a CSS). Columns: ``base``, ``layer``, ``unit``
(str), ``area_m2`` and ``population`` (float64). It is a group-by of the atlas
atoms (:func:`pieces_from_atoms`) or can be written by hand in tests.

:func:`score_pieces` adds the shares and the significance rules every grouping
uses, so envelopes, reassignments and regionalisation agree on what "a base unit
is split" and "a unit straddles two groups" mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, get_args

import numpy as np
import pandas as pd

from geodecoupage.errors import InvalidParameterError

__all__ = [
    "PIECE_COLUMNS",
    "AtlasLike",
    "Weight",
    "check_weight",
    "pieces_from_atoms",
    "restrict_atoms",
    "score_pieces",
]

Weight = Literal["population", "area"]


class AtlasLike(Protocol):
    """What the grouping functions read from an atlas.

    :class:`geodecoupage.overlay.atlas.Atlas` satisfies it; so does any object
    with these three attributes (tests use a small stand-in).
    """

    @property
    def atoms(self) -> pd.DataFrame:
        """One row per atom: a code column per layer, ``area_m2``, ``population``."""

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer keys (columns of :attr:`atoms`)."""

    @property
    def params(self) -> Mapping[str, object]:
        """Parameters the atlas was built with."""


PIECE_COLUMNS = ("base", "layer", "unit", "area_m2", "population")
_TOL = 1e-12
#: Below this many inhabitants a base unit counts as empty (allocation residue).
_MIN_PERSONS = 1.0


def check_weight(weight: str) -> Weight:
    """Return *weight* if it is ``"population"`` or ``"area"``, else raise.

    Raises
    ------
    InvalidParameterError
        For any other value.
    """
    if weight not in get_args(Weight):
        msg = f"weight must be 'population' or 'area', got {weight!r}."
        raise InvalidParameterError(msg)
    return weight  # type: ignore[return-value]


def check_threshold(threshold: float) -> float:
    """Return *threshold* as a float in ``[0, 0.5)``, else raise.

    Raises
    ------
    InvalidParameterError
        If *threshold* is not a share in ``[0, 0.5)``.
    """
    try:
        tau = float(threshold)
    except (TypeError, ValueError) as err:
        msg = f"threshold must be a share in [0, 0.5), got {threshold!r}."
        raise InvalidParameterError(msg) from err
    if not 0.0 <= tau < 0.5:
        msg = (
            f"threshold must be a share in [0, 0.5), got {threshold!r}: it is the "
            f"share of a unit below which an overlap is ignored, e.g. 0.01 for 1 %."
        )
        raise InvalidParameterError(msg)
    return tau


def pieces_from_atoms(
    atoms: pd.DataFrame, *, base: str, layers: Sequence[str]
) -> pd.DataFrame:
    """Sum atlas atoms into pieces ``(base unit, layer, unit)``.

    Parameters
    ----------
    atoms
        ``Atlas.atoms``: one code column per layer key, ``area_m2`` and
        ``population``.
    base
        Column of the base layer, or ``"atom"`` to use each atom (its index) as
        a base unit.
    layers
        Layer columns to describe; atoms where a layer is missing are left out
        for that layer.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PIECE_COLUMNS`, sorted by ``(layer, base, unit)``.

    Raises
    ------
    InvalidParameterError
        If a column is missing.
    """
    missing = [c for c in (*layers, "area_m2", "population") if c not in atoms]
    if base != "atom" and base not in atoms:
        missing.insert(0, base)
    if missing:
        msg = (
            f"The atoms table has no column(s) {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, atoms.columns))}. Build the atlas "
            f"with these layers."
        )
        raise InvalidParameterError(msg)
    base_codes = (
        pd.Series(atoms.index.astype(str), index=atoms.index)
        if base == "atom"
        else atoms[base]
    )
    frames = []
    for key in layers:
        codes = atoms[key]
        ok = base_codes.notna().to_numpy() & codes.notna().to_numpy()
        part = pd.DataFrame(
            {
                "base": base_codes[ok].astype(str).to_numpy(),
                "layer": key,
                "unit": codes[ok].astype(str).to_numpy(),
                "area_m2": atoms["area_m2"][ok].to_numpy(dtype=np.float64),
                "population": atoms["population"][ok]
                .fillna(0.0)
                .to_numpy(dtype=np.float64),
            }
        )
        frames.append(
            part.groupby(["layer", "base", "unit"], sort=True, as_index=False)[
                ["area_m2", "population"]
            ].sum()
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PIECE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out = out[out["area_m2"] > 0]
    return out[list(PIECE_COLUMNS)].reset_index(drop=True)


def _shares(
    w: np.ndarray, area: np.ndarray, keys: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Share of each row in its group (by *w*, by area where the group has no w)."""
    tot_w = pd.Series(w).groupby(keys.to_numpy()).transform("sum").to_numpy()
    tot_a = pd.Series(area).groupby(keys.to_numpy()).transform("sum").to_numpy()
    use_w = tot_w > 0
    share = np.where(
        use_w, w / np.where(use_w, tot_w, 1.0), area / np.where(tot_a > 0, tot_a, 1.0)
    )
    return share, tot_w


def _dominant(frame: pd.DataFrame, group: list[str], share: str) -> np.ndarray:
    """Mark the row with the largest *share* per group (ties: area, then code)."""
    order = frame.sort_values(
        [*group, share, "area_m2", "unit", "base"],
        ascending=[True] * len(group) + [False, False, True, True],
        kind="mergesort",
    )
    first = ~order.duplicated(subset=group, keep="first")
    mask = pd.Series(first.to_numpy(), index=order.index).reindex(frame.index)
    return mask.to_numpy(dtype=bool)


def score_pieces(
    pieces: pd.DataFrame, *, threshold: float = 0.01, weight: Weight = "population"
) -> pd.DataFrame:
    """Add shares and significance flags to a pieces table.

    Parameters
    ----------
    pieces
        Columns :data:`PIECE_COLUMNS`.
    threshold
        Significance threshold ``τ`` in ``[0, 0.5)``.
    weight
        ``"population"`` (default; area where a unit has no population) or
        ``"area"``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``w`` (the weight used), ``share_of_base``,
        ``share_of_unit``, ``dominant_for_base``, ``dominant_for_unit``,
        ``touches`` and ``link``.

    Raises
    ------
    InvalidParameterError
        If a column is missing, *threshold* or *weight* is out of range, or a
        weight is negative.

    Notes
    -----
    With :math:`w_{bu}` the weight of the piece of base unit :math:`b` in unit
    :math:`u` (one layer at a time), :math:`s^{base}_{bu} = w_{bu} / \\sum_{u'}
    w_{bu'}` and :math:`s^{unit}_{bu} = w_{bu} / \\sum_{b'} w_{b'u}`; where a
    denominator is zero (nobody lives there) the same shares are taken on
    area. Dominance: :math:`u^*(b) = \\arg\\max_u s^{base}_{bu}` and
    :math:`b^*(u) = \\arg\\max_b s^{unit}_{bu}` (ties: larger area, then
    smaller code).

    ``touches``
        :math:`u = u^*(b)` or :math:`s^{base}_{bu} > τ`: unit :math:`u` counts
        among the units base unit :math:`b` straddles (the rule of
        :func:`geodecoupage.metrics.incoherence.unit_incoherence`).
    ``link``
        :math:`u = u^*(b)`, :math:`b = b^*(u)` or :math:`s^{unit}_{bu} > τ`:
        the piece ties :math:`b` and :math:`u` into one envelope. A piece that
        is not a link holds at most :math:`τ` of its unit, so leaving it out of
        the unit's envelope keeps the unit nested up to :math:`τ`. With
        population weights, a base unit where nobody lives (fewer than one
        inhabitant, e.g. allocation residue in a water TNO) keeps a single link
        (its largest dominant piece), so an empty territory joins one envelope
        but never chains two.
    """
    tau = check_threshold(threshold)
    wkey = check_weight(weight)
    missing = [c for c in PIECE_COLUMNS if c not in pieces]
    if missing:
        msg = (
            f"The pieces table has no column(s) {', '.join(map(repr, missing))}; "
            f"expected {', '.join(PIECE_COLUMNS)}."
        )
        raise InvalidParameterError(msg)
    out = pieces.reset_index(drop=True).copy()
    out["base"] = out["base"].astype(str)
    out["unit"] = out["unit"].astype(str)
    out["layer"] = out["layer"].astype(str)
    area = out["area_m2"].to_numpy(dtype=np.float64)
    pop = out["population"].fillna(0.0).to_numpy(dtype=np.float64)
    if (area < 0).any() or (pop < 0).any() or not np.isfinite(area).all():
        msg = "The pieces table has negative or non-finite areas or populations."
        raise InvalidParameterError(msg)
    w = pop if wkey == "population" else area
    out["w"] = w
    base_key = out["layer"] + "\x00" + out["base"]
    unit_key = out["layer"] + "\x00" + out["unit"]
    out["share_of_base"], _ = _shares(w, area, base_key)
    out["share_of_unit"], _ = _shares(w, area, unit_key)
    out["dominant_for_base"] = _dominant(out, ["layer", "base"], "share_of_base")
    out["dominant_for_unit"] = _dominant(out, ["layer", "unit"], "share_of_unit")
    out["touches"] = out["dominant_for_base"] | (out["share_of_base"] > tau + _TOL)
    out["link"] = (
        out["dominant_for_base"]
        | out["dominant_for_unit"]
        | (out["share_of_unit"] > tau + _TOL)
    )
    if wkey == "population":
        # A base unit where nobody lives (< 1 person: allocation residue) keeps
        # one link only, its largest piece among its dominant ones: it joins one
        # envelope without chaining two, which changes the population-weighted
        # nesting of no one.
        # the table has one row per (base, layer, unit): a base unit's
        # population is its sum within one layer (the largest, for gaps)
        per_layer = out.groupby(["layer", "base"])["population"].transform("sum")
        people = per_layer.groupby(out["base"]).transform("max").to_numpy()
        empty = people < _MIN_PERSONS
        if empty.any():
            cand = out[empty & out["dominant_for_base"].to_numpy()]
            keep = cand.sort_values(
                ["base", "area_m2", "layer"],
                ascending=[True, False, True],
                kind="mergesort",
            ).drop_duplicates("base")
            mask = np.zeros(len(out), dtype=bool)
            mask[keep.index.to_numpy()] = True
            out["link"] = np.where(empty, mask, out["link"].to_numpy())
    return out


def base_codes(atoms: pd.DataFrame, base: str) -> pd.Series:
    """Base unit code of every atom (the atom id itself when *base* is "atom")."""
    if base == "atom":
        return pd.Series(atoms.index.astype(str), index=atoms.index, dtype="string")
    return atoms[base].astype("string")


def restrict_atoms(
    atoms: pd.DataFrame, base: str, units: Sequence[str] | None
) -> pd.DataFrame:
    """Keep the atoms of the listed base units (all atoms when *units* is None).

    Raises
    ------
    InvalidParameterError
        If a listed code is not a base unit of the atoms.
    """
    if units is None:
        return atoms
    codes = base_codes(atoms, base)
    wanted = {str(u) for u in units}
    keep = codes.isin(sorted(wanted)).fillna(False).to_numpy(dtype=bool)
    unknown = sorted(wanted - set(codes[keep].astype(str)))
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        msg = (
            f"{len(unknown)} unit code(s) are not {base} codes of the atlas: {shown}. "
            f"Use the official codes, zero-padded as published."
        )
        raise InvalidParameterError(msg)
    return atoms[keep]
