"""How the scores read an atlas: contingency tables, territory masks, populations.

Only two things of the atlas are used: ``atlas.atoms`` and
``atlas.crosswalk(source, target, weight=...)``. The typing Protocol below states
that contract so the scores do not import the overlay engine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics._contingency import SOURCE, TARGET, atom_contingency

__all__ = [
    "AtlasLike",
    "MemoAtlas",
    "Territory",
    "check_layers",
    "territory_mask",
    "weights",
]


class AtlasLike(Protocol):
    """What the scores need from :class:`geodecoupage.overlay.atlas.Atlas`."""

    @property
    def atoms(self) -> Any:
        """Atoms: one code column per layer, ``area_m2``, ``population``."""

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer keys, in build order."""

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: Literal["area", "population"] = ...,
        include_gaps: bool = ...,
    ) -> pd.DataFrame:
        """Crosswalk indexed by ``(source_code, target_code)``."""


class MemoAtlas:
    """An atlas wrapper that computes each contingency table once.

    :func:`~geodecoupage.metrics.audit.audit` wraps its atlas in one, since the
    same tables feed the per-unit scores, the pair scores, the risk and every
    threshold of the sensitivity sweep.
    """

    def __init__(self, atlas: AtlasLike) -> None:
        self._atlas = atlas
        self.tables: dict[tuple[Any, ...], pd.Series] = {}

    @property
    def atoms(self) -> Any:
        """The wrapped atlas's atoms."""
        return self._atlas.atoms

    @property
    def layers(self) -> tuple[str, ...]:
        """The wrapped atlas's layer keys."""
        return tuple(self._atlas.layers)

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: Literal["area", "population"] = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        """The wrapped atlas's crosswalk."""
        return self._atlas.crosswalk(
            source, target, weight=weight, include_gaps=include_gaps
        )


#: A study territory: ``{layer key: codes}``; atoms inside any listed unit.
Territory = Mapping[str, Collection[str]]


def check_layers(atlas: AtlasLike, keys: Sequence[str], *, what: str) -> None:
    """Raise if a key in *keys* is not a layer of *atlas*.

    Raises
    ------
    InvalidParameterError
        Listing the unknown keys and the atlas layers.
    """
    bad = [k for k in keys if k not in atlas.layers]
    if bad:
        msg = (
            f"{what}: layer(s) {', '.join(map(repr, bad))} not in the atlas; it holds "
            f"{', '.join(atlas.layers)}. Rebuild the atlas with these layers."
        )
        raise InvalidParameterError(msg)


def territory_mask(atlas: AtlasLike, within: Territory | None) -> np.ndarray | None:
    """Boolean mask of the atoms inside *within* (None: the whole atlas).

    Raises
    ------
    InvalidParameterError
        If a layer of *within* is not in the atlas, or no atom is inside.
    """
    if within is None:
        return None
    check_layers(atlas, list(within), what="within")
    atoms = atlas.atoms
    mask = np.zeros(len(atoms), dtype=bool)
    for key, codes in within.items():
        wanted = {str(c) for c in codes}
        col = atoms[key].to_numpy(dtype=object)
        present = ~pd.isna(col)
        mask[present] |= np.isin(col[present].astype(str), sorted(wanted))
    if not mask.any():
        first = {k: sorted(map(str, v))[:3] for k, v in within.items()}
        msg = (
            f"No atom of the atlas lies in the study territory {first}: check the "
            f"codes (they are the official codes, zero-padded as published)."
        )
        raise InvalidParameterError(msg)
    return mask


def has_population(atlas: AtlasLike) -> bool:
    """True when the atoms carry a population with at least one person."""
    atoms = atlas.atoms
    if "population" not in atoms.columns:
        return False
    pop = pd.to_numeric(atoms["population"], errors="coerce")
    return bool(pop.fillna(0.0).sum() > 0)


def weights(
    atlas: AtlasLike,
    source: str,
    target: str,
    *,
    weight: Literal["area", "population"] = "area",
    mask: np.ndarray | None = None,
) -> pd.Series:
    """Return the contingency table of *source* against *target*.

    The whole-atlas table is the ``area_m2`` (or ``population``) column of
    ``atlas.crosswalk``; a layer against itself, or a masked territory, is the same
    group-by done on ``atlas.atoms`` (tests check the two agree).

    Raises
    ------
    InvalidParameterError
        If *weight* is not ``"area"`` or ``"population"``.
    """
    if weight not in ("area", "population"):
        msg = f"weight must be 'area' or 'population', got {weight!r}."
        raise InvalidParameterError(msg)
    if isinstance(atlas, MemoAtlas):
        key = (source, target, weight, None if mask is None else mask.tobytes())
        if key not in atlas.tables:
            atlas.tables[key] = weights(
                atlas._atlas, source, target, weight=weight, mask=mask
            )
        return atlas.tables[key]
    column = "area_m2" if weight == "area" else "population"
    if mask is not None or source == target:
        return atom_contingency(atlas.atoms, source, target, column=column, mask=mask)
    xw = atlas.crosswalk(source, target, weight=weight)
    values = pd.to_numeric(xw[column], errors="coerce").fillna(0.0)
    src = xw.index.get_level_values(0)
    tgt = xw.index.get_level_values(1)
    keep = ~(pd.isna(src) | pd.isna(tgt)) & (values.to_numpy() > 0)
    out = pd.Series(
        values.to_numpy(dtype="float64")[keep],
        index=pd.MultiIndex.from_arrays(
            [
                pd.Index(np.asarray(src[keep]).astype(str), dtype=object),
                pd.Index(np.asarray(tgt[keep]).astype(str), dtype=object),
            ],
            names=[SOURCE, TARGET],
        ),
        name=column,
    )
    return out.sort_index()
