"""Where one layer's borders cut another's units: split flags, sentences, rankings.

Presentation-side reading of an atlas crosswalk, shared by the maps (split
highlighting, tooltips) and the audit report (ranking of the most split units).
The definition of a *split* is in :func:`unit_splits` and ``docs/methodologie.md``
(section *Cartes*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import Lang, fmt_pct, pick
from geodecoupage.maps import styles as st

__all__ = ["AtlasLike", "UnitSplit", "Weight", "split_ranking", "unit_splits"]

Weight = Literal["area", "population"]
_MAX_TARGETS = 4
_EPS = 1e-9  # shares within 1e-9 of 1 are whole


class AtlasLike(Protocol):
    """What the maps need from :class:`geodecoupage.overlay.Atlas`."""

    @property
    def layers(self) -> tuple[str, ...]: ...

    def crosswalk(
        self, source: str, target: str, *, weight: str = ..., include_gaps: bool = ...
    ) -> pd.DataFrame: ...


@dataclass(frozen=True)
class UnitSplit:
    """How one layer's units fall into another layer's units.

    Attributes
    ----------
    source, target
        Layer keys.
    split
        Boolean Series indexed by source code: True where a *target* border cuts
        the unit (a crossing piece, see :func:`unit_splits`).
    text
        Series indexed by source code: the crosswalk sentence shown in tooltips.
    parts
        Integer Series indexed by source code: number of target units holding at
        least *threshold* of the unit.
    dominant_share
        Float Series indexed by source code: the largest share of the unit in
        one target unit.
    """

    source: str
    target: str
    split: pd.Series
    text: pd.Series
    parts: pd.Series
    dominant_share: pd.Series


def _share_columns(weight: str) -> tuple[str, str]:
    if weight == "population":
        return "pop_share_of_source", "pop_share_of_target"
    return "share_of_source", "share_of_target"


def unit_splits(
    atlas: AtlasLike,
    source: str,
    target: str,
    *,
    names: Mapping[str, str] | None = None,
    threshold: float = 0.01,
    weight: Weight = "area",
    lang: Lang = "fr",
) -> UnitSplit:
    r"""Classify each *source* unit against *target* and describe its crosswalk.

    Parameters
    ----------
    atlas
        The atlas holding both layers.
    source, target
        Layer keys.
    names
        Target code -> name, used in the sentences (codes otherwise).
    threshold
        Pieces whose share of the source unit is below it are ignored (slivers).
    weight
        Share by area or by population.
    lang
        Language of the sentences.

    Returns
    -------
    UnitSplit
        Split flags and crosswalk sentences, indexed by source code.

    Notes
    -----
    With :math:`s_{ij}` the share of source unit *i* in target unit *j* and
    :math:`t_{ij}` the share of target unit *j* in *i*, unit *i* is **split** when
    one piece crosses a target border:

    .. math:: \exists j:\ \tau \le s_{ij} \le 1 - \tau \ \text{and}\ t_{ij} \le 1 - \tau

    with :math:`\tau` = *threshold* (at :math:`\tau = 0`, shares within
    :math:`10^{-9}` of 1 still count as whole). A unit inside one target
    (:math:`s_{ij} \approx 1`) or made of whole targets (:math:`t_{ij} \approx
    1`) is not split: those are nestings, not incoherences.
    """
    share_s, share_t = _share_columns(weight)
    xw = atlas.crosswalk(source, target, weight=weight)
    df = pd.DataFrame(
        {
            "source": xw.index.get_level_values(0).astype(str),
            "target": xw.index.get_level_values(1).astype(str),
            "s": np.asarray(xw[share_s], dtype="float64"),
            "t": np.asarray(xw[share_t], dtype="float64"),
        }
    )
    df = df[df["s"] >= threshold]
    # "<= 1 - tau" with a floor so that whole pieces (share 1 up to rounding)
    # never count as crossing, even at tau = 0
    upper = 1.0 - max(threshold, _EPS)
    crossing = (df["s"] <= upper) & (df["t"] <= upper)
    split = crossing.groupby(df["source"]).any().astype(bool)
    n_parts = df.groupby("source")["target"].nunique().astype("int64")
    dominant = df.groupby("source")["s"].max().astype("float64")
    names = dict(names or {})
    src_label = st.unit_label(source, lang)
    tgt_label = st.unit_label(target, lang)
    colon = pick(lang, fr=" : ", en=": ")
    texts: dict[str, str] = {}
    for code, grp in df.sort_values("s", ascending=False).groupby("source", sort=False):
        head = f"{src_label} {code}{colon}"
        whole = bool((grp["t"] > upper).all()) and len(grp) >= 2
        if whole:
            texts[code] = head + pick(
                lang,
                fr=f"contient {len(grp)} unités « {tgt_label} » entières",
                en=f"contains {len(grp)} whole {tgt_label} units",
            )
            continue
        parts = []
        for tcode, share in zip(grp["target"][:_MAX_TARGETS], grp["s"], strict=False):
            where = names.get(tcode) or f"{tgt_label} {tcode}"
            parts.append(
                pick(lang, fr="{p} dans {w}", en="{p} in {w}").format(
                    p=fmt_pct(share, 0, lang), w=where
                )
            )
        more = len(grp) - _MAX_TARGETS
        if more > 0:
            plural = "s" if more > 1 else ""
            parts.append(
                pick(lang, fr=f"+ {more} autre{plural}", en=f"+ {more} other{plural}")
            )
        texts[code] = head + ", ".join(parts)
    text = pd.Series(texts, dtype="object", name="crosswalk")
    text.index.name = "code"
    for series, name in (
        (split, "split"),
        (n_parts, "parts"),
        (dominant, "dominant_share"),
    ):
        series.name = name
        series.index.name = "code"
    return UnitSplit(
        source=source,
        target=target,
        split=split,
        text=text,
        parts=n_parts,
        dominant_share=dominant,
    )


@dataclass
class _Acc:
    n_layers: int = 0
    n_parts: int = 0
    min_dominant: float = 1.0
    by: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def split_ranking(
    atlas: AtlasLike,
    key: str,
    *,
    others: Sequence[str] | None = None,
    names: Mapping[str, Mapping[str, str]] | None = None,
    threshold: float = 0.01,
    weight: Weight = "area",
    lang: Lang = "fr",
) -> pd.DataFrame:
    """Rank the units of layer *key* from the most split to the least.

    Parameters
    ----------
    atlas
        The atlas.
    key
        Layer whose units are ranked.
    others
        Layers whose borders may cut them (default: every other atlas layer).
    names
        ``{layer: {code: nom}}`` for the sentences and the ``nom`` column.
    threshold, weight, lang
        As in :func:`unit_splits`.

    Returns
    -------
    pandas.DataFrame
        One row per unit of *key* (index ``code``), sorted by ``n_layers``, then
        ``n_parts`` (both descending), then ``min_dominant_share``, then code:
        ``nom``; ``n_layers`` (layers that split it); ``n_parts`` (pieces summed
        over those layers); ``min_dominant_share`` (smallest dominant share
        over those layers, 1 if none); ``split_by`` (e.g. "rls (3), css (2)");
        ``crosswalk`` (sentences for the splitting layers, "; "-separated);
        ``rank`` (1 = most split).

    Raises
    ------
    InvalidParameterError
        If *key* or one of *others* is not an atlas layer.
    """
    layers = tuple(atlas.layers)
    others = [k for k in layers if k != key] if others is None else list(others)
    bad = [k for k in (key, *others) if k not in layers]
    if bad:
        msg = (
            f"Layer(s) {', '.join(map(repr, bad))} not in the atlas; atlas layers: "
            f"{', '.join(layers)}."
        )
        raise InvalidParameterError(msg)
    names = names or {}
    acc: dict[str, _Acc] = {}
    for other in others:
        us = unit_splits(
            atlas,
            key,
            other,
            names=names.get(other),
            threshold=threshold,
            weight=weight,
            lang=lang,
        )
        for code in us.split.index:
            a = acc.setdefault(str(code), _Acc())
            if bool(us.split[code]):
                n = int(us.parts.get(code, 0))
                a.n_layers += 1
                a.n_parts += n
                a.min_dominant = min(a.min_dominant, float(us.dominant_share[code]))
                a.by.append(f"{other} ({n})")
                a.text.append(str(us.text.get(code, "")))
    own = names.get(key, {})
    frame = pd.DataFrame(
        {
            "nom": [own.get(c, "") for c in acc],
            "n_layers": [a.n_layers for a in acc.values()],
            "n_parts": [a.n_parts for a in acc.values()],
            "min_dominant_share": [a.min_dominant for a in acc.values()],
            "split_by": [", ".join(a.by) for a in acc.values()],
            "crosswalk": ["; ".join(a.text) for a in acc.values()],
        },
        index=pd.Index(list(acc), name="code", dtype="object"),
    )
    frame = frame.astype({"n_layers": "int64", "n_parts": "int64"})
    frame["_code"] = frame.index
    frame = frame.sort_values(
        ["n_layers", "n_parts", "min_dominant_share", "_code"],
        ascending=[False, False, True, True],
    ).drop(columns="_code")
    frame["rank"] = np.arange(1, len(frame) + 1, dtype="int64")
    return frame
