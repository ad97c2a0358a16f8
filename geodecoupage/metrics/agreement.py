"""Agreement between two partitions: entropies, NMI and variation of information.

The functions here read a contingency table (see
:mod:`geodecoupage.metrics._contingency`) and nothing else, so every number can be
recomputed by hand from a crosswalk. Formulas are in ``docs/methodologie.md``
(section *Scores*).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from geodecoupage.metrics._contingency import check_contingency

__all__ = [
    "InformationScores",
    "NestingIndices",
    "information_scores",
    "nesting_indices",
]


@dataclass(frozen=True)
class InformationScores:
    """Information-theoretic agreement of two partitions ``A`` and ``B``.

    All entropies are in nats (natural logarithm). See :func:`information_scores`.
    """

    h_a: float
    h_b: float
    h_ab: float
    mutual_information: float
    h_b_given_a: float
    h_a_given_b: float
    vi: float
    vi_normalized: float
    nmi: float
    v_measure: float
    total_weight: float

    def to_dict(self) -> dict[str, float]:
        """Return the scores as a plain dict (stable key order)."""
        return asdict(self)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum()) if p.size else 0.0


def _snap(x: float, eps: float) -> float:
    return 0.0 if x < eps else x


def information_scores(weights: pd.Series) -> InformationScores:
    """Compare two partitions through the weights of their intersections.

    Parameters
    ----------
    weights
        Contingency table ``a_ij``: a Series of non-negative weights (area or
        population) indexed by ``(source_code, target_code)``; ``A`` is the source
        layer, ``B`` the target layer. Only the territory both layers cover is in
        the table, so probabilities are shares of that common territory.

    Returns
    -------
    InformationScores
        Entropies and derived scores; all NaN if the table has no weight.

    Notes
    -----
    With :math:`N = \\sum_{ij} a_{ij}`, :math:`p_{ij} = a_{ij}/N`,
    :math:`p_{i\\cdot} = \\sum_j p_{ij}` and :math:`p_{\\cdot j} = \\sum_i p_{ij}`:

    .. math::

        H(A) = -\\sum_i p_{i\\cdot} \\ln p_{i\\cdot}, \\quad
        H(A,B) = -\\sum_{ij} p_{ij} \\ln p_{ij}, \\quad
        I(A;B) = H(A) + H(B) - H(A,B)

        H(B|A) = H(A,B) - H(A), \\quad H(A|B) = H(A,B) - H(B)

        VI = H(A|B) + H(B|A), \\quad
        VI_{norm} = VI / H(A,B), \\quad
        NMI = I / \\sqrt{H(A) H(B)}, \\quad
        V = 2 I / (H(A) + H(B)).

    Bounds: :math:`0 \\le H(B|A) \\le H(B)`; :math:`H(B|A) = 0` iff every ``A``
    unit lies in a single ``B`` unit (``A`` nests in ``B``).
    :math:`0 \\le VI \\le H(A,B)`, ``VI = 0`` iff the partitions are equal;
    VI is a metric (Meilă 2007). ``NMI`` and ``V`` lie in ``[0, 1]`` and equal 1
    iff the partitions are equal. When both partitions have a single unit NMI
    and V are 1; when only one has, they are 0 (no shared information).
    ``VI_norm`` is 0 when ``H(A,B) = 0``.

    References
    ----------
    Meilă, M. (2007). Comparing clusterings: an information based distance.
    *Journal of Multivariate Analysis* 98(5), 873-895.
    Strehl, A. & Ghosh, J. (2002). Cluster ensembles. *JMLR* 3, 583-617.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.Series([1.0, 1.0], index=pd.MultiIndex.from_tuples(
    ...     [("a", "x"), ("b", "x")]))
    >>> s = information_scores(w)
    >>> round(s.h_b_given_a, 12), round(s.h_a_given_b, 4)
    (0.0, 0.6931)
    """
    w = check_contingency(weights)
    total = float(w.sum())
    if total <= 0:
        nan = float("nan")
        return InformationScores(nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, 0.0)
    mi_index = w.index.remove_unused_levels()
    p = w.to_numpy() / total
    pa = np.bincount(np.asarray(mi_index.codes[0]), weights=p)
    pb = np.bincount(np.asarray(mi_index.codes[1]), weights=p)
    h_a = _entropy(pa)
    h_b = _entropy(pb)
    h_ab = _entropy(p)
    # Clip rounding noise: each quantity has a known sign and bound.
    eps = 1e-12 * max(1.0, h_ab)
    h_b_a = _snap(h_ab - h_a, eps)
    h_a_b = _snap(h_ab - h_b, eps)
    mi = min(_snap(h_a + h_b - h_ab, eps), h_a, h_b)
    vi = h_b_a + h_a_b
    vi_norm = vi / h_ab if h_ab > 0 else 0.0
    if h_a <= 0 and h_b <= 0:
        nmi = v = 1.0
    elif h_a <= 0 or h_b <= 0:
        nmi = v = 0.0
    else:
        nmi = min(mi / math.sqrt(h_a * h_b), 1.0)
        v = min(2.0 * mi / (h_a + h_b), 1.0)
    return InformationScores(
        h_a=h_a,
        h_b=h_b,
        h_ab=h_ab,
        mutual_information=mi,
        h_b_given_a=h_b_a,
        h_a_given_b=h_a_b,
        vi=vi,
        vi_normalized=min(vi_norm, 1.0),
        nmi=nmi,
        v_measure=v,
        total_weight=total,
    )


@dataclass(frozen=True)
class NestingIndices:
    """How well the units of ``A`` nest in ``B`` (one direction).

    See :func:`nesting_indices`.
    """

    n_units: int
    n_nested: int
    n_split: int
    n_pieces: int
    nesting_index_count: float
    nesting_index_area: float
    nesting_index_pop: float
    rn_area: float
    rn_alt_area: float
    rn_pop: float
    rn_alt_pop: float
    mean_n_eff_area: float
    pop_outside_dominant: float
    pop_outside_dominant_share: float

    def to_dict(self) -> dict[str, float]:
        """Return the indices as a plain dict (stable key order)."""
        return asdict(self)


def _wmean(values: pd.Series, weights: pd.Series) -> float:
    ok = values.notna() & weights.notna() & (weights > 0)
    total = float(weights[ok].sum())
    if total <= 0:
        return float("nan")
    return float((values[ok].astype("float64") * weights[ok]).sum() / total)


def nesting_indices(
    area: pd.Series,
    *,
    population: pd.Series | None = None,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
) -> NestingIndices:
    """Summarise how the source units nest in the target units.

    Parameters
    ----------
    area, population, threshold, min_piece_m2
        As in :func:`~geodecoupage.metrics.incoherence.unit_incoherence`.

    Returns
    -------
    NestingIndices
        Counts and indices; NaN where undefined (no unit, no population).

    Notes
    -----
    From the per-unit table (shares :math:`s_{ij}`, flags ``nested_i``, unit
    weights :math:`a_i` and :math:`p_i`), over the :math:`n` source units:

    .. math::

        NI_{count} = \\frac{1}{n}\\sum_i \\text{nested}_i, \\quad
        NI_{area} = \\frac{\\sum_i a_i\\,\\text{nested}_i}{\\sum_i a_i}, \\quad
        NI_{pop} = \\frac{\\sum_i p_i\\,\\text{nested}_i}{\\sum_i p_i}

        RN = \\frac{1}{n}\\sum_i \\sum_j s_{ij}^2, \\qquad
        RN_{alt} = \\frac{1}{n}\\sum_i \\max_j s_{ij}

    ``RN`` and ``RN_alt`` are the relative nesting indices of Zhukov et al.
    (2023, SUNGEO); all indices lie in ``[0, 1]`` (``RN`` in ``(0, 1]``) and equal
    1 when ``A`` nests in ``B``. ``RN_pop`` / ``RN_alt_pop`` use population
    shares and average over populated units only. ``n_split`` counts units with
    ``n_touched > 1``; ``n_pieces`` sums ``n_touched``.
    ``pop_outside_dominant`` sums the persons living outside their unit's
    population-dominant target (the people a best-fit assignment misplaces).

    References
    ----------
    Zhukov, Y. M., Byers, J. S., Davidson, M. A. & Kollman, K. (2023).
    Integrating data across misaligned spatial units. *Political Analysis*.
    """
    from geodecoupage.metrics.incoherence import unit_incoherence

    units = unit_incoherence(
        area, population=population, threshold=threshold, min_piece_m2=min_piece_m2
    )
    n = len(units)
    nan = float("nan")
    if n == 0:
        return NestingIndices(
            0, 0, 0, 0, nan, nan, nan, nan, nan, nan, nan, nan, 0.0, nan
        )
    nested = units["nested"].astype(bool)
    pop = units["population"].astype("float64")
    populated = pop > 0
    pop_out = float(units["pop_outside_dominant"].fillna(0.0).sum())
    pop_total = float(pop.fillna(0.0).sum())
    return NestingIndices(
        n_units=n,
        n_nested=int(nested.sum()),
        n_split=int((units["n_touched"] > 1).sum()),
        n_pieces=int(units["n_touched"].sum()),
        nesting_index_count=float(nested.mean()),
        nesting_index_area=_wmean(nested.astype("float64"), units["area_m2"]),
        nesting_index_pop=_wmean(nested.astype("float64"), pop),
        rn_area=float((1.0 / units["n_eff_area"]).mean()),
        rn_alt_area=float(units["dominant_share_area"].mean()),
        rn_pop=float((1.0 / units.loc[populated, "n_eff_pop"]).mean())
        if populated.any()
        else nan,
        rn_alt_pop=float(units.loc[populated, "dominant_share_pop"].mean())
        if populated.any()
        else nan,
        mean_n_eff_area=float(units["n_eff_area"].mean()),
        pop_outside_dominant=pop_out,
        pop_outside_dominant_share=pop_out / pop_total if pop_total > 0 else nan,
    )
