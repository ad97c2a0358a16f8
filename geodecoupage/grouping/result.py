"""Result object of the grouping proposers: labels, dissolved groups, objective."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import atomic_path
from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import fmt_float, fmt_int, fmt_pct, pick

__all__ = ["GroupingProposal", "write_tables"]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class GroupingProposal:
    """A grouping of base units, with its dissolved groups and how it scores.

    Attributes
    ----------
    kind
        ``"envelopes"`` (finest common coarsening, :func:`coherent_envelopes`)
        or ``"regions"`` (optimised regionalisation, :func:`regionalise`).
    labels
        Group id (str) per base unit; index = the base unit codes (name
        ``"code"``), name ``"group"``.
    groups
        One row per group (index ``"group"``), dissolved geometry in EPSG:32198
        (or None when built without geometry) and metrics: ``n_units``,
        ``population``, ``area_m2``, and per layer ``n_<layer>`` (units it
        holds or straddles) plus kind-specific columns.
    objective
        The value the proposer optimised (see :attr:`params` ``"objective"``
        for its definition).
    params
        Every parameter needed to reproduce the proposal.
    tables
        Extra tables by name, e.g. ``"links"`` (envelopes: the overlaps that
        chain the largest envelopes) or ``"units"`` (per base unit details).
    """

    kind: str
    labels: pd.Series
    groups: gpd.GeoDataFrame
    objective: float
    params: Mapping[str, object] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "tables", _frozen(self.tables))

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.groups)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per base unit: its group and the group's metrics.

        Returns
        -------
        pandas.DataFrame
            Indexed like :attr:`labels`; column ``group`` then every
            non-geometry column of :attr:`groups` prefixed ``group_``.
        """
        cols = [c for c in self.groups.columns if c != self.groups.geometry.name]
        attrs = pd.DataFrame(self.groups[cols]).add_prefix("group_")
        out = self.labels.to_frame("group").join(attrs, on="group")
        out.index.name = self.labels.index.name
        return out

    def summary(self, lang: str = "fr") -> str:
        """Return a few human-readable lines (French by default)."""
        pop = self.groups["population"].to_numpy(dtype=np.float64)
        total = float(pop.sum())
        kind = {
            "envelopes": pick(
                lang, fr="Enveloppes cohérentes", en="Coherent envelopes"
            ),
            "regions": pick(
                lang, fr="Régionalisation optimisée", en="Optimised regionalisation"
            ),
        }.get(self.kind, self.kind)
        lines = [
            f"{kind} : {fmt_int(self.n_groups, lang)} "
            + pick(
                lang,
                fr="groupe de " if self.n_groups == 1 else "groupes de ",
                en="group of " if self.n_groups == 1 else "groups of ",
            )
            + f"{fmt_int(len(self.labels), lang)} "
            + pick(lang, fr="unités de base", en="base units"),
        ]
        if len(pop):
            lines.append(
                pick(lang, fr="Population par groupe : ", en="Population per group: ")
                + pick(lang, fr="min ", en="min ")
                + fmt_int(pop.min(), lang)
                + pick(lang, fr=", médiane ", en=", median ")
                + fmt_int(float(np.median(pop)), lang)
                + ", max "
                + fmt_int(pop.max(), lang)
                + (f" ({fmt_pct(pop.max() / total, 1, lang)})" if total > 0 else "")
            )
        what = str(self.params.get("objective", ""))
        lines.append(
            pick(lang, fr="Objectif", en="Objective")
            + f" ({what}) : {fmt_float(self.objective, 2, lang)}"
        )
        extra = self.params.get("summary_" + lang)
        if isinstance(extra, str) and extra:
            lines.append(extra)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def explore(
        self, layers: Mapping[str, gpd.GeoDataFrame] | None = None, **kwargs: Any
    ) -> Any:
        """Map the groups over *layers* (needs the ``maps`` extra).

        A thin hook to :func:`geodecoupage.maps.explore.explore_grouping`; the
        computation modules never import the maps package otherwise.

        Returns
        -------
        folium.Map
            One toggleable layer per input layer plus the groups.
        """
        from geodecoupage.maps.explore import explore_grouping

        return explore_grouping(self, layers=layers, **kwargs)

    def to_file(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the groups (and, in a GeoPackage, the labels and tables).

        Parameters
        ----------
        path
            ``*.gpkg``: layer ``groups`` (dissolved, with metrics), table
            ``labels`` (base unit → group) and one table per entry of
            :attr:`tables`. ``*.parquet``: the groups as GeoParquet.
        overwrite
            Replace an existing file.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        InvalidParameterError
            For another suffix, or groups without geometry.
        OutputExistsError
            If *path* exists and *overwrite* is false.
        """
        dest = Path(path)
        suffix = dest.suffix.lower()
        if suffix not in (".gpkg", ".parquet"):
            msg = (
                f"Cannot write {str(dest)!r}: use a .gpkg (GeoPackage) or "
                f".parquet (GeoParquet) file name."
            )
            raise InvalidParameterError(msg)
        groups = _for_file(self.groups)
        with atomic_path(dest, overwrite=overwrite) as tmp:
            if suffix == ".parquet":
                groups.to_parquet(tmp)
            else:
                groups.to_file(tmp, layer="groups", driver="GPKG")
                tables = {"labels": self.labels.to_frame("group"), **self.tables}
                write_tables(tmp, tables)
        return dest


def _for_file(groups: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Groups with a plain index column and file-friendly dtypes."""
    out = groups.reset_index()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].dtype == bool:
            out[col] = out[col].astype(np.int8)
        elif out[col].dtype == object or str(out[col].dtype).startswith("string"):
            out[col] = out[col].astype(str)
    return out


def write_tables(gpkg: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Append attribute-only tables to an existing GeoPackage (no geometry)."""
    import pyogrio

    for name, table in tables.items():
        frame = table.reset_index() if table.index.name else table.copy()
        for col in frame.columns:
            if frame[col].dtype == bool:
                frame[col] = frame[col].astype(np.int8)
            elif frame[col].dtype == object or str(frame[col].dtype).startswith(
                "string"
            ):
                frame[col] = frame[col].astype(str)
        pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG", append=False)
