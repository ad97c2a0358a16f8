"""Figures of the scores: the pair matrix heat map and the sensitivity curves.

Thin wrappers that shape the score tables and hand them to
:mod:`geodecoupage.maps.figures` (matplotlib, imported only when a figure is drawn;
install the ``maps`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from geodecoupage.i18n import check_lang
from geodecoupage.metrics.audit import AuditResult, agreement_matrix, sensitivity_curves

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MEASURE_LABELS", "plot_matrix", "plot_sensitivity"]

#: French and English labels of the measures drawn.
MEASURE_LABELS: dict[str, tuple[str, str]] = {
    "nesting_index_count": (
        "Part des unités de A emboîtées dans B",
        "Share of A's units nested in B",
    ),
    "nesting_index_area": (
        "Part de la superficie de A emboîtée dans B",
        "Share of A's area nested in B",
    ),
    "nesting_index_pop": (
        "Part de la population de A emboîtée dans B",
        "Share of A's population nested in B",
    ),
    "h_b_given_a_area": ("Entropie H(B|A) (nats)", "Entropy H(B|A) (nats)"),
    "nmi_area": ("Information mutuelle normalisée", "Normalised mutual information"),
    "vi_area": ("Variation d'information (nats)", "Variation of information (nats)"),
    "boundary_coincidence": (
        "Part des limites de A qui suivent celles de B",
        "Share of A's borders that follow B's",
    ),
    "n_split": ("Unités de A coupées par B", "Units of A split by B"),
    "n_nested": ("Unités de A emboîtées dans B", "Units of A nested in B"),
    "n_pieces": ("Morceaux significatifs", "Significant pieces"),
    "n_links": ("Liens table–institution", "Table–institution links"),
    "n_straddling_links": ("Liens à cheval", "Straddling links"),
    "mean_institutions_per_table": (
        "Institutions par table (moyenne)",
        "Institutions per table (mean)",
    ),
    "max_table_score": ("Score de la table la plus chargée", "Heaviest table score"),
}


def _label(measure: str, lang: str) -> str:
    fr, en = MEASURE_LABELS.get(measure, (measure, measure))
    return fr if check_lang(lang) == "fr" else en


def plot_matrix(
    result: AuditResult | pd.DataFrame,
    *,
    measure: str = "nesting_index_area",
    lang: str = "fr",
    title: str | None = None,
) -> Figure:
    """Draw the layer × layer matrix of one pair measure as a heat map.

    Parameters
    ----------
    result
        An :class:`AuditResult`, or its ``pairs`` table.
    measure
        Pair measure (rows: layer A, columns: layer B), e.g.
        ``"nesting_index_area"``, ``"nmi_area"``, ``"boundary_coincidence"``.
    lang
        Language of the labels.
    title
        Figure title (default: the measure's label).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown, not saved; see
        :func:`geodecoupage.maps.figures.save_figure`).

    Raises
    ------
    InvalidParameterError
        If *measure* is unknown.
    """
    from geodecoupage.maps.figures import matrix_figure

    pairs = result.pairs if isinstance(result, AuditResult) else result
    matrix = agreement_matrix(pairs, measure)
    matrix.index.name = "A"
    matrix.columns.name = "B"
    bounded = not measure.startswith(("vi", "h_"))
    return matrix_figure(
        matrix,
        title=title or _label(measure, lang),
        label=_label(measure, lang),
        vmin=0.0,
        vmax=1.0 if bounded else None,
        lang="fr" if lang == "fr" else "en",
    )


def plot_sensitivity(
    result: AuditResult | pd.DataFrame,
    *,
    measure: str = "n_split",
    lang: str = "fr",
    title: str | None = None,
) -> Figure:
    """Draw how one count changes with the significance threshold.

    Parameters
    ----------
    result
        An :class:`AuditResult`, or a :func:`~geodecoupage.metrics.audit.sensitivity`
        table.
    measure
        A sensitivity measure, e.g. ``"n_split"`` (one curve per layer pair) or
        ``"n_straddling_links"``.
    lang
        Language of the labels.
    title
        Figure title (default: the measure's label).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    InvalidParameterError
        If *measure* is not in the table.
    """
    from geodecoupage.maps.figures import sensitivity_figure

    sens = result.sensitivity if isinstance(result, AuditResult) else result
    curves = sensitivity_curves(sens, measure)
    return sensitivity_figure(
        curves,
        title=title or _label(measure, lang),
        ylabel=_label(measure, lang),
        lang="fr" if lang == "fr" else "en",
    )
