"""Per-unit incoherence: how one unit of a layer sits across a reference layer.

:func:`unit_incoherence` works on a contingency table (pure formulas, testable by
hand); :func:`incoherence_scores` reads an :class:`~geodecoupage.overlay.atlas.Atlas`
and adds the geometric counts (connected fragments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geodecoupage.metrics._contingency import check_contingency, check_threshold

__all__ = ["UNIT_COLUMNS", "unit_incoherence"]

#: Columns of :func:`unit_incoherence`, in order.
UNIT_COLUMNS = (
    "area_m2",
    "n_touched",
    "dominant",
    "dominant_share_area",
    "n_eff_area",
    "nested",
    "outside_share_area",
    "population",
    "dominant_pop",
    "dominant_share_pop",
    "n_eff_pop",
    "pop_outside_dominant",
)

_TOL = 1e-12


class _Coded:
    """A clean contingency table as integer codes and numpy arrays."""

    def __init__(self, w: pd.Series) -> None:
        mi = w.index.remove_unused_levels()
        self.src = np.asarray(mi.codes[0], dtype="int64")
        self.tgt = np.asarray(mi.codes[1], dtype="int64")
        self.src_labels = np.asarray(mi.levels[0], dtype=object)
        self.tgt_labels = np.asarray(mi.levels[1], dtype=object)
        self.w = w.to_numpy(dtype="float64")
        self.n_src = len(self.src_labels)
        self.totals = np.bincount(self.src, weights=self.w, minlength=self.n_src)
        self.share = self.w / self.totals[self.src]
        # Dominant target per source: largest share, ties broken by smallest code.
        order = np.lexsort((self.tgt, -self.share, self.src))
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.src[order][1:] != self.src[order][:-1]
        self.dom_rows = order[first]  # one per source, in source-code order
        self.is_dom = np.zeros(len(self.w), dtype=bool)
        self.is_dom[self.dom_rows] = True

    def per_source(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.src, weights=values, minlength=self.n_src)


def unit_incoherence(
    area: pd.Series,
    *,
    population: pd.Series | None = None,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
) -> pd.DataFrame:
    """Score how each source unit is spread over the target units.

    Parameters
    ----------
    area
        Area contingency table ``a_ij`` in m², indexed by
        ``(source_code, target_code)`` (the ``area_m2`` column of a crosswalk).
    population
        Population contingency table on the same pairs, or None.
    threshold
        Significance threshold ``τ`` in ``[0, 0.5)``: an overlap counts when it
        holds more than ``τ`` of the source unit's area.
    min_piece_m2
        Overlaps smaller than this area never count (a second sliver guard).

    Returns
    -------
    pandas.DataFrame
        One row per source unit (index ``code``, sorted), columns
        :data:`UNIT_COLUMNS`:

        ``area_m2``
            area of the unit covered by the target layer, :math:`a_i`;
        ``n_touched``
            number of target units :math:`k_i` it overlaps significantly (the
            dominant one always counts);
        ``dominant``, ``dominant_share_area``
            the target unit with the largest area share, and that share;
        ``n_eff_area``
            effective number of target units :math:`1/\\sum_j s_{ij}^2`;
        ``nested``
            True when the significant area outside the dominant unit is at most
            ``τ``;
        ``outside_share_area``
            :math:`1 - \\max_j s_{ij}`;
        ``population``, ``dominant_pop``, ``dominant_share_pop``, ``n_eff_pop``
            the same with population weights (NaN without population, or for an
            unpopulated unit);
        ``pop_outside_dominant``
            persons living outside ``dominant_pop``.

    Notes
    -----
    Row shares (Geocorr's allocation factor, AFACT) are
    :math:`s_{ij} = a_{ij} / a_i` with :math:`a_i = \\sum_j a_{ij}`, i.e. shares of
    the part of the unit the target layer covers. A piece is *significant* when
    :math:`s_{ij} > τ` and :math:`a_{ij} \\ge` ``min_piece_m2``.

    .. math::

        k_i = \\#\\{j : s_{ij} > τ, a_{ij} \\ge m\\} \\cup \\{j^*_i\\}, \\qquad
        N_{eff,i} = 1 / \\sum_j s_{ij}^2, \\qquad
        \\text{nested}_i \\iff \\sum_{j \\ne j^*_i,\\, a_{ij} \\ge m} s_{ij} \\le τ

    where :math:`j^*_i = \\arg\\max_j s_{ij}`. Bounds: :math:`1 \\le k_i`,
    :math:`1 \\le N_{eff,i} \\le k^0_i` (number of targets touched at all),
    :math:`1/k^0_i \\le \\max_j s_{ij} \\le 1`. ``N_eff`` is the Laakso–Taagepera
    (1979) effective number; its inverse is the per-unit relative nesting RN of
    Zhukov et al. (2023).
    """
    tau = check_threshold(threshold)
    w = check_contingency(area, name="area")
    if w.empty:
        out = pd.DataFrame(columns=list(UNIT_COLUMNS))
        out.index.name = "code"
        return out
    c = _Coded(w)
    big = c.w >= float(min_piece_m2)
    sig = ((c.share > tau + _TOL) & big) | c.is_dom
    outside_sig = c.per_source(np.where(~c.is_dom & big, c.share, 0.0))
    dom_share = c.share[c.dom_rows]
    index = pd.Index(c.src_labels, name="code", dtype="str")
    out = pd.DataFrame(
        {
            "area_m2": c.totals,
            "n_touched": c.per_source(sig.astype("float64")).round().astype("int64"),
            "dominant": c.tgt_labels[c.tgt[c.dom_rows]],
            "dominant_share_area": dom_share,
            "n_eff_area": 1.0 / c.per_source(c.share**2),
            "nested": outside_sig <= tau + _TOL,
            "outside_share_area": np.clip(1.0 - dom_share, 0.0, None),
        },
        index=index,
    )
    out = pd.concat([out, _population_part(population, index)], axis=1)
    out.index.name = "code"
    return out[list(UNIT_COLUMNS)]


def _population_part(population: pd.Series | None, index: pd.Index) -> pd.DataFrame:
    nan = np.full(len(index), np.nan)
    empty = pd.DataFrame(
        {
            "population": nan,
            "dominant_pop": pd.Series([None] * len(index), index=index, dtype=object),
            "dominant_share_pop": nan,
            "n_eff_pop": nan,
            "pop_outside_dominant": nan,
        },
        index=index,
    )
    if population is None:
        return empty
    p = check_contingency(population, name="population")
    if p.empty:
        # No person anywhere: every unit has population 0.
        empty["population"] = 0.0
        return empty
    c = _Coded(p)
    dom_share = c.share[c.dom_rows]
    part = pd.DataFrame(
        {
            "population": c.totals,
            "dominant_pop": c.tgt_labels[c.tgt[c.dom_rows]],
            "dominant_share_pop": dom_share,
            "n_eff_pop": 1.0 / c.per_source(c.share**2),
            "pop_outside_dominant": np.clip(c.totals * (1.0 - dom_share), 0.0, None),
        },
        index=pd.Index(c.src_labels, dtype="str"),
    )
    part = part.reindex(index)
    part["population"] = part["population"].fillna(0.0)
    return part
