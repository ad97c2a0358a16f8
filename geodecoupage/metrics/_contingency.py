"""Contingency tables: the sparse (source, target) weight tables every score reads.

A contingency table here is a :class:`pandas.Series` of non-negative weights
``a_ij`` (area in m², or population) indexed by a two-level MultiIndex
``(source_code, target_code)``: one entry per non-empty intersection
``A_i ∩ B_j``. It is the ``area_m2`` (or ``population``) column of
:meth:`Atlas.crosswalk <geodecoupage.overlay.atlas.Atlas.crosswalk>`, or a
group-by of the atlas atoms on two code columns (:func:`atom_contingency`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from geodecoupage.errors import InvalidParameterError

__all__ = [
    "atom_contingency",
    "check_contingency",
    "check_threshold",
]

SOURCE = "source_code"
TARGET = "target_code"


def check_threshold(threshold: float, *, name: str = "threshold") -> float:
    """Return *threshold* as a float if it lies in ``[0, 0.5)``, else raise.

    Raises
    ------
    InvalidParameterError
        If *threshold* is not a number in ``[0, 0.5)``.
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError) as err:
        msg = f"{name} must be a share in [0, 0.5), got {threshold!r}."
        raise InvalidParameterError(msg) from err
    if not 0.0 <= value < 0.5 or np.isnan(value):
        msg = (
            f"{name} must be a share in [0, 0.5), got {threshold!r}. It is the "
            f"share of a unit below which an overlap is ignored, e.g. 0.01 for 1 %."
        )
        raise InvalidParameterError(msg)
    return value


def check_contingency(weights: pd.Series, *, name: str = "weights") -> pd.Series:
    """Return a clean float64 copy of a contingency table, or raise.

    The copy has index level names ``source_code`` and ``target_code``, string
    codes, no missing code, no zero weight, and one row per ``(source, target)``
    pair (duplicates are summed), sorted by index.

    Raises
    ------
    InvalidParameterError
        If the index is not two-level, or a weight is negative or not finite.
    """
    if not isinstance(weights, pd.Series) or weights.index.nlevels != 2:
        msg = (
            f"{name} must be a pandas Series indexed by (source_code, target_code); "
            f"got {type(weights).__name__} with "
            f"{getattr(getattr(weights, 'index', None), 'nlevels', 0)} index level(s)."
        )
        raise InvalidParameterError(msg)
    values = pd.to_numeric(weights, errors="coerce").astype("float64")
    bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)
    if bad.any():
        first = list(weights.index[bad][:3])
        msg = (
            f"{name} has {int(bad.sum())} negative or non-finite weight(s), "
            f"first at {first}. Weights are areas or populations: fix or drop them."
        )
        raise InvalidParameterError(msg)
    src = weights.index.get_level_values(0)
    tgt = weights.index.get_level_values(1)
    keep = ~(pd.isna(src) | pd.isna(tgt)) & (values.to_numpy() > 0)
    out = _sum_pairs(
        np.asarray(src[keep]).astype(str),
        np.asarray(tgt[keep]).astype(str),
        values.to_numpy()[keep],
    )
    out.name = weights.name
    return out


def _sum_pairs(src: np.ndarray, tgt: np.ndarray, w: np.ndarray) -> pd.Series:
    """Sum *w* per (src, tgt) pair; return a sorted float64 Series."""
    s_lab, s_idx = np.unique(src, return_inverse=True)
    t_lab, t_idx = np.unique(tgt, return_inverse=True)
    key = s_idx.astype("int64") * max(len(t_lab), 1) + t_idx
    k_uni, k_inv = np.unique(key, return_inverse=True)
    sums = np.bincount(k_inv, weights=w, minlength=len(k_uni)).astype("float64")
    n_t = max(len(t_lab), 1)
    index = pd.MultiIndex.from_arrays(
        [
            pd.Index(s_lab[k_uni // n_t], dtype=object),
            pd.Index(t_lab[k_uni % n_t], dtype=object),
        ],
        names=[SOURCE, TARGET],
    )
    return pd.Series(sums, index=index, dtype="float64")


def atom_contingency(
    atoms: pd.DataFrame,
    source: str,
    target: str,
    *,
    column: str = "area_m2",
    mask: np.ndarray | None = None,
) -> pd.Series:
    """Sum an atom column over every ``(source code, target code)`` pair.

    Atoms where either layer is missing (the layer does not cover the atom) are
    left out: the table describes the territory both layers cover.

    Parameters
    ----------
    atoms
        ``Atlas.atoms``: one row per atom, one code column per layer key.
    source, target
        Layer keys (columns of *atoms*); they may be equal.
    column
        The additive weight to sum: ``"area_m2"`` or ``"population"``.
    mask
        Optional boolean array selecting the atoms of a study territory.

    Returns
    -------
    pandas.Series
        float64 weights indexed by ``(source_code, target_code)``, sorted.
    """
    cols = [source, target, column]
    for c in cols:
        if c not in atoms.columns:
            msg = (
                f"Atlas atoms have no column {c!r}; available: "
                f"{', '.join(map(str, atoms.columns))}."
            )
            raise InvalidParameterError(msg)
    frame = pd.DataFrame(
        {
            SOURCE: atoms[source].to_numpy(dtype=object),
            TARGET: atoms[target].to_numpy(dtype=object),
            "w": pd.to_numeric(atoms[column], errors="coerce")
            .fillna(0.0)
            .to_numpy(dtype="float64"),
        }
    )
    if mask is not None:
        frame = frame[np.asarray(mask, dtype=bool)]
    frame = frame[~(frame[SOURCE].isna() | frame[TARGET].isna())]
    frame = frame[frame["w"] > 0]
    out = _sum_pairs(
        frame[SOURCE].to_numpy().astype(str),
        frame[TARGET].to_numpy().astype(str),
        frame["w"].to_numpy(),
    )
    out.name = column
    return out


def restrict_sources(weights: pd.Series, codes: Collection[str] | None) -> pd.Series:
    """Keep only the rows whose source code is in *codes* (all rows if None)."""
    if codes is None:
        return weights
    keep = weights.index.get_level_values(0).isin(list(codes))
    return weights[keep]


def transpose(weights: pd.Series) -> pd.Series:
    """Swap source and target: the table of ``B`` against ``A``."""
    out = weights.copy()
    out.index = pd.MultiIndex.from_arrays(
        [weights.index.get_level_values(1), weights.index.get_level_values(0)],
        names=[SOURCE, TARGET],
    )
    return out.sort_index()
