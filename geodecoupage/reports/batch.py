"""Batch audit: every administrative region and the province, resumable, ranked.

:func:`audit_regions` audits each of the 17 administrative regions (and the
province) with one :class:`~geodecoupage.reports.config.AuditConfig`, writes one
folder per territory and an index (``index.csv``, ``index.html``) ranking the
regions. The atlas of the province is built once; each region is audited inside it
(``within`` = the region's MRC: whole units, rows of the units with territory in the
region), so a unit that straddles two regions has the same scores in both folders
and in the province's. ``geodecoupage audit --region`` builds an atlas of the
region's units instead; the two agree up to snapping noise (measured on region 06:
largest difference 1.4e-5 on a share, 14 persons on a population count).

The output folder is a *batch folder*:

``DIR/batch.json``
    The configuration (without the region list), the checksums of the data files,
    the version and a checksum of the package's source code, with their hash
    (``params_hash``). Written first.
``DIR/audit.toml``
    The configuration, readable by ``--config``: the batch can be re-run exactly.
``DIR/<code>/`` (``01`` … ``17``, ``province``)
    The audit tables of :meth:`~geodecoupage.metrics.AuditResult.write`, then,
    written last, ``.complete.json``: the hash of the parameters and data, the
    SHA-256 of every file of the folder and the index row.
``DIR/index.csv``, ``DIR/index.html``
    One row per territory, regions ranked (rank 1: the least coherent region).

A territory whose ``.complete.json`` matches the current parameters and data and
whose files still have the recorded checksums is skipped (``force=True`` redoes
it). Files are written atomically (:mod:`geodecoupage._io`), so an interrupted run
leaves whole files and no marker for the unfinished territories; the next run
redoes only those. Nothing holds a date: two runs write identical bytes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import logging
import logging.handlers
import math
import multiprocessing
import os
import signal
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as _version
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage._io import write_json, write_text
from geodecoupage.errors import (
    GeodecoupageError,
    InvalidParameterError,
    LayerUnavailableError,
    OutputExistsError,
)
from geodecoupage.i18n import check_lang, fmt_int, pick
from geodecoupage.maps.html import html_table
from geodecoupage.metrics import AuditResult
from geodecoupage.reports._template import PAGE, REPORT_CSS
from geodecoupage.reports.config import AuditConfig
from geodecoupage.reports.inputs import read_population

logger = logging.getLogger(__name__)

__all__ = [
    "BATCH_FILE",
    "INDEX_COLUMNS",
    "MARKER",
    "PROVINCE",
    "BatchResult",
    "RegionOutcome",
    "audit_regions",
    "audit_territory",
    "code_fingerprint",
    "data_fingerprint",
    "index_row",
    "rank_regions",
]

#: Code (and folder name) of the whole-province audit.
PROVINCE = "province"
#: Marker written last in a territory folder: the territory is complete.
MARKER = ".complete.json"
#: Batch description, written first in the output folder.
BATCH_FILE = "batch.json"
CONFIG_FILE = "audit.toml"
INDEX_FILES = ("index.csv", "index.html")
#: Columns of ``index.csv``.
INDEX_COLUMNS: tuple[str, ...] = (
    "rank",
    "code",
    "nom",
    "n_mrc",
    "incoherence",
    "nesting_index_area",
    "nesting_index_pop",
    "nmi_area",
    "n_units",
    "n_split",
    "split_share",
    "heaviest_table",
    "heaviest_table_nom",
    "heaviest_table_score",
    "most_summoned",
    "most_summoned_nom",
    "folder",
)
#: Data files of the population surface (relative to the data directory) whose
#: checksums enter the batch fingerprint when the audit uses population.
POPULATION_FILES: tuple[str, ...] = (
    "population/census2016_pop_by_csd_qc.csv",
    "population/census2016_pop_by_ct_qc.csv",
    "statcan/ct_qc_2016.shp",
    "statcan/ct_qc_2016.dbf",
    "crosswalks/csd_qc_2016_attributes_statcan.csv",
    "crosswalks/municipality_to_mrc_region_mamh_2025_derived.csv",
    "municipalities/qc_municipalites_arrondissements_coarse_flamont.geojson",
)

Status = Literal["done", "skipped", "failed"]
Progress = Callable[["RegionOutcome", int, int], None]


# ---------------------------------------------------------------------------
# One territory
# ---------------------------------------------------------------------------


def _audited(config: AuditConfig) -> list[str]:
    """Layers audited: the configured ones plus the table layer (as the CLI does)."""
    extra = [config.tables] if config.tables else []
    return list(dict.fromkeys([*config.layers, *extra]))


def _names(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, dict[str, str]]:
    return {
        k: {str(c): str(n) for c, n in g["nom"].items()}
        for k, g in layers.items()
        if "nom" in g.columns
    }


def _atlas_kwargs(config: AuditConfig, population: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if config.min_area_m2 is not None:
        kwargs["min_area_m2"] = config.min_area_m2
    if config.population and population is not None:
        kwargs["population"] = population
    return kwargs


def _region_codes(mrc: gpd.GeoDataFrame, region: str) -> list[str]:
    codes = mrc["regions_code"].astype(str)
    inside = sorted(map(str, mrc.index[codes == str(region).strip()]))
    if not inside:
        known = ", ".join(sorted(set(codes)))
        msg = f"Unknown region code {region!r}; the MRC layer knows: {known}."
        raise InvalidParameterError(msg)
    return inside


def _audit_atlas(
    atlas: Any,
    *,
    config: AuditConfig,
    within: Mapping[str, Sequence[str]] | None,
    names: Mapping[str, Mapping[str, str]],
    label: str,
) -> AuditResult:
    from geodecoupage.metrics import audit as run_audit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_audit(
            atlas,
            layers=_audited(config),
            tables=config.tables,
            threshold=config.threshold,
            tolerance_m=config.tolerance_m,
            basis=config.basis,
            weights_=config.weights,
            thresholds=config.thresholds,
            within=None if within is None else {k: list(v) for k, v in within.items()},
            names=names,
        )
    for w in caught:
        logger.warning("%s: %s", label, w.message)
    return result


def audit_territory(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    config: AuditConfig,
    region: str | None = None,
    population: Any = None,
    atlas: Any = None,
) -> AuditResult:
    """Audit the province, or one administrative region, with *config*.

    Parameters
    ----------
    layers
        Canonical layers (:func:`~geodecoupage.layers.read_layer`), holding every
        key of ``config.layers`` and ``config.tables``, and ``"mrc"`` for a region.
    config
        The audit parameters.
    region
        Two-digit region code (e.g. ``"06"``), or None for the whole province.
        Without *atlas*, a region is audited as ``geodecoupage audit --region``
        does (:func:`~geodecoupage.metrics.region.select_region`: an atlas of the
        units that overlap the region, kept whole; scores of the units with
        territory in the region).
    population
        Population surface for the atlas (e.g.
        :func:`~geodecoupage.overlay.population.population_surface`), used when
        ``config.population`` is true.
    atlas
        An atlas of the province already built with *layers* (and ``"mrc"``):
        the region is then audited inside it (``within`` = its MRC) instead of
        in an atlas of its own. The batch audit does this, so every region is
        scored on the same atoms as the province.

    Returns
    -------
    AuditResult
        The scores (see :func:`geodecoupage.metrics.audit`).

    Raises
    ------
    InvalidParameterError
        If a layer is missing from *layers* or the region code is unknown.
    """
    from geodecoupage.metrics.region import select_region
    from geodecoupage.overlay.atlas import build_atlas

    keys = _audited(config)
    need = list(dict.fromkeys([*keys, *(["mrc"] if region is not None else [])]))
    missing = [k for k in need if k not in layers]
    if missing:
        msg = (
            f"audit_territory: layer(s) {', '.join(missing)} not given; pass "
            f"read_layer(key) for each in layers."
        )
        raise InvalidParameterError(msg)
    data = {k: layers[k] for k in need}
    label = region or PROVINCE
    if atlas is not None:
        within = (
            None if region is None else {"mrc": _region_codes(layers["mrc"], region)}
        )
        return _audit_atlas(
            atlas, config=config, within=within, names=_names(data), label=label
        )
    within_sel: dict[str, list[str]] | None = None
    kwargs = _atlas_kwargs(config, population)
    if region is not None:
        sel = select_region(data, region=region)
        data = dict(sel.layers)
        within_sel = {k: list(v) for k, v in sel.within.items()}
        kwargs["land"] = sel.land  # the selected RLS alone leave out land
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_atlas(data, **kwargs)
    for w in caught:
        logger.warning("%s: %s", label, w.message)
    return _audit_atlas(
        built, config=config, within=within_sel, names=_names(data), label=label
    )


def _finite(x: Any) -> float:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return f if math.isfinite(f) else float("nan")


def _round(x: float) -> float | None:
    return None if not math.isfinite(x) else float(f"{x:.10g}")


def _pair_mean(pairs: pd.DataFrame, column: str) -> float:
    """Mean over unordered pairs of max(index A in B, index B in A)."""
    best: dict[tuple[str, str], float] = {}
    for a, b, v in zip(pairs["layer_a"], pairs["layer_b"], pairs[column], strict=True):
        key = (min(str(a), str(b)), max(str(a), str(b)))
        value = _finite(v)
        if math.isfinite(value):
            best[key] = max(best.get(key, -math.inf), value)
    return float(np.mean(list(best.values()))) if best else math.nan


def index_row(
    result: AuditResult, *, code: str, nom: str, n_mrc: int
) -> dict[str, Any]:
    """Return the index row of one audited territory (JSON-ready).

    ``incoherence`` is one minus the mean, over the unordered layer pairs, of the
    better of the two nesting indices (A in B, B in A), population-weighted when
    the atlas has population, else area-weighted. For each pair, the better
    direction is the finer layer in the coarser one, so the measure is 0 when the
    layers form a hierarchy, and it reads as the share of the territory, averaged
    over pairs, that lies in units the other layer splits. It ranks the regions
    (see ``docs/methodologie.md``).
    """
    pairs = result.pairs
    area = _pair_mean(pairs, "nesting_index_area")
    pop = _pair_mean(pairs, "nesting_index_pop")
    basis = pop if math.isfinite(pop) else area
    n_units = int(pd.to_numeric(pairs["n_units"]).sum())
    n_split = int(pd.to_numeric(pairs["n_split"]).sum())
    nmi = [_finite(v) for v in pairs["nmi_area"]]
    row: dict[str, Any] = {
        "code": code,
        "nom": nom,
        "n_mrc": int(n_mrc),
        "incoherence": _round(1.0 - basis),
        "nesting_index_area": _round(area),
        "nesting_index_pop": _round(pop),
        "nmi_area": _round(float(np.nanmean(nmi))) if nmi else None,
        "n_units": n_units,
        "n_split": n_split,
        "split_share": _round(n_split / n_units) if n_units else None,
        "heaviest_table": None,
        "heaviest_table_nom": None,
        "heaviest_table_score": None,
        "most_summoned": None,
        "most_summoned_nom": None,
        "folder": code,
    }
    risk = result.risk
    top = result.heaviest_table()
    if risk is not None and top is not None:
        row["heaviest_table"] = f"{risk.table_layer}:{top}"
        row["heaviest_table_nom"] = risk.names.get(risk.table_layer, {}).get(top, "")
        row["heaviest_table_score"] = _round(_finite(risk.tables.loc[top, "score"]))
        ms = result.most_summoned()
        if ms is not None:
            row["most_summoned"] = f"{ms[0]}:{ms[1]}"
            row["most_summoned_nom"] = risk.names.get(ms[0], {}).get(ms[1], "")
    return row


def rank_regions(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Return the index table: the province first, then the regions by rank.

    Regions are ranked by ``incoherence`` (descending; ties by code): rank 1 is
    the region whose layers nest least. The province has no rank.
    """
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        return pd.DataFrame(columns=list(INDEX_COLUMNS))
    frame["incoherence"] = pd.to_numeric(frame["incoherence"]).astype("float64")
    is_prov = frame["code"] == PROVINCE
    regions = frame[~is_prov].sort_values(
        ["incoherence", "code"],
        ascending=[False, True],
        kind="mergesort",
        na_position="last",
    )
    regions.insert(0, "rank", np.arange(1, len(regions) + 1))
    prov = frame[is_prov].copy()
    prov.insert(0, "rank", pd.NA)
    out = pd.concat([prov, regions], ignore_index=True)
    out["rank"] = out["rank"].astype("Int64")
    for col in INDEX_COLUMNS:
        if col not in out.columns:
            out[col] = None
    return out[list(INDEX_COLUMNS)]


# ---------------------------------------------------------------------------
# Fingerprints and markers
# ---------------------------------------------------------------------------


def _content_hash(gdf: gpd.GeoDataFrame) -> str:
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(gdf.drop(columns="geometry")).to_numpy())
    for wkb in shapely.to_wkb(np.asarray(gdf.geometry.array, dtype=object)):
        h.update(wkb)
    return h.hexdigest()


def data_fingerprint(
    keys: Sequence[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    population: bool = True,
) -> dict[str, str]:
    """Return the SHA-256 of every data file an audit of *keys* reads.

    Layer files are found as :func:`~geodecoupage.layers.read_layer` finds them
    (derived layers carry their source's checksum); with *population*, the files
    of the population surface present in the data directory are added.

    Raises
    ------
    LayerUnavailableError
        If a layer has no file in the data directory.
    """
    from geodecoupage.layers import file_sha256, locate, resolve_data_dir

    out: dict[str, str] = {}
    for key in sorted(set(keys)):
        found = locate(key, data_dir)
        if not found.available:
            raise LayerUnavailableError(found.reason)
        if found.path is None and found.derived_from is not None:
            parent = locate(found.derived_from, data_dir)
            if parent.path is None:  # pragma: no cover - derived from a derived layer
                raise LayerUnavailableError(parent.reason)
            out[f"layer:{key}"] = (
                f"derived from {parent.key}:{file_sha256(parent.path)}"
            )
        elif found.path is not None:
            out[f"layer:{key}"] = file_sha256(found.path)
    if population:
        root = resolve_data_dir(data_dir)
        for rel in POPULATION_FILES:
            path = root / rel
            if path.is_file():
                out[rel] = file_sha256(path)
    return out


def _objects_fingerprint(
    layers: Mapping[str, gpd.GeoDataFrame], keys: Sequence[str], population: Any
) -> dict[str, str]:
    out = {}
    for key in sorted(set(keys)):
        gdf = layers[key]
        sha = gdf.attrs.get("sha256") if hasattr(gdf, "attrs") else None
        out[f"layer:{key}"] = str(sha) if sha else f"content:{_content_hash(gdf)}"
    if population is not None:
        polys = getattr(population, "polygons", population)
        if isinstance(polys, gpd.GeoDataFrame):
            out["population"] = f"content:{_content_hash(polys)}"
    return out


@functools.cache
def code_fingerprint() -> str:
    """Return the SHA-256 of the package's Python sources (paths and contents).

    Part of the batch hash: a development checkout keeps one version number
    while its code changes, and a changed overlay or score must not pass for a
    complete audit.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode("utf-8"))
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _params_hash(config: AuditConfig, data: Mapping[str, str]) -> str:
    payload = {
        "config": config.fingerprint(exclude=("regions", "province")),
        "data": dict(sorted(data.items())),
        "geodecoupage": _version("geodecoupage"),
        "code": code_fingerprint(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_marker(folder: Path) -> dict[str, Any] | None:
    path = folder / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete(folder: Path, params_hash: str) -> dict[str, Any] | None:
    """Return the marker if *folder* holds a complete audit made with *params_hash*."""
    marker = _read_marker(folder)
    if marker is None or marker.get("params_hash") != params_hash:
        return None
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for name, sha in files.items():
        path = folder / name
        if not path.is_file() or _file_sha(path) != sha:
            logger.info("%s: %s changed or missing; audit again.", folder.name, name)
            return None
    return marker


def _sweep_partials(folder: Path) -> None:
    """Remove temporary files left by a killed writer (``.<stem>.*.partial*``)."""
    if not folder.is_dir():
        return
    for path in folder.glob(".*.partial*"):
        if path.is_file():
            logger.info(
                "Removing a temporary file left by an interrupted run: %s", path
            )
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionOutcome:
    """What happened to one territory of a batch.

    Attributes
    ----------
    code
        Region code, or :data:`PROVINCE`.
    status
        ``"done"`` (audited now), ``"skipped"`` (complete with the same
        parameters) or ``"failed"``.
    folder
        The territory folder.
    row
        Its index row (empty when failed).
    seconds
        Time spent (0 when skipped).
    error
        The error message when failed.
    """

    code: str
    status: Status
    folder: Path
    row: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class _Job:
    code: str
    nom: str
    n_mrc: int
    folder: Path


@dataclass
class _State:
    atlas: Any
    names: Mapping[str, Mapping[str, str]]
    within: Mapping[str, Mapping[str, Sequence[str]] | None]
    config: AuditConfig
    params_hash: str
    data: Mapping[str, str]


_STATE: _State | None = None


def _run_job(job: _Job, state: _State) -> RegionOutcome:
    start = time.perf_counter()
    try:
        result = _audit_atlas(
            state.atlas,
            config=state.config,
            within=state.within[job.code],
            names=state.names,
            label=job.code,
        )
        row = index_row(result, code=job.code, nom=job.nom, n_mrc=job.n_mrc)
        written = result.write(job.folder, overwrite=True, lang=state.config.lang)
    except GeodecoupageError as err:
        return RegionOutcome(job.code, "failed", job.folder, error=str(err))
    except Exception as err:
        logger.debug("%s failed:\n%s", job.code, traceback.format_exc())
        return RegionOutcome(
            job.code, "failed", job.folder, error=f"{type(err).__name__}: {err}"
        )
    marker = {
        "region": job.code,
        "params_hash": state.params_hash,
        "config": state.config.to_dict() | {"regions": None, "province": None},
        "data": dict(sorted(state.data.items())),
        "geodecoupage": _version("geodecoupage"),
        "files": {p.name: _file_sha(p) for p in sorted(written)},
        "row": row,
    }
    write_json(job.folder / MARKER, marker, overwrite=True)
    return RegionOutcome(
        job.code, "done", job.folder, row=row, seconds=time.perf_counter() - start
    )


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Raised inside the task: atomic writers remove their temporary file.
    raise SystemExit(128 + signum)


def _init_worker(state: _State, queue: Any, level: int) -> None:
    global _STATE
    _STATE = state
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
    signal.signal(signal.SIGTERM, _on_sigterm)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(queue)]
    root.setLevel(level)


def _worker(job: _Job) -> RegionOutcome:
    if _STATE is None:  # pragma: no cover - initializer always runs first
        msg = "worker not initialised"
        raise RuntimeError(msg)
    return _run_job(job, _STATE)


class _Forward(logging.Handler):
    """Re-emit worker records through the parent's loggers."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


def _run_pool(
    jobs: Sequence[_Job],
    state: _State,
    n_jobs: int,
    done: Callable[[RegionOutcome], None],
) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    listener = logging.handlers.QueueListener(queue, _Forward())
    listener.start()
    level = logging.getLogger("geodecoupage").getEffectiveLevel()
    pool = ctx.Pool(
        processes=min(n_jobs, len(jobs)),
        initializer=_init_worker,
        initargs=(state, queue, level),
    )
    try:
        for outcome in pool.imap_unordered(_worker, jobs):
            done(outcome)
        pool.close()
    except BaseException:
        pool.terminate()  # SIGTERM: workers leave through _on_sigterm
        raise
    finally:
        pool.join()
        listener.stop()


# ---------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """Result of :func:`audit_regions`.

    Attributes
    ----------
    output
        The batch folder.
    index
        The index table (:func:`rank_regions`), as written to ``index.csv``.
    outcomes
        One :class:`RegionOutcome` per territory, in index order (failed last).
    params_hash
        Hash of the configuration, the data checksums and the version.
    """

    output: Path
    index: pd.DataFrame
    outcomes: tuple[RegionOutcome, ...]
    params_hash: str
    config: AuditConfig

    @property
    def failed(self) -> tuple[RegionOutcome, ...]:
        """The territories that failed."""
        return tuple(o for o in self.outcomes if o.status == "failed")

    def counts(self) -> dict[str, int]:
        """Return the number of territories per status."""
        out = {"done": 0, "skipped": 0, "failed": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out

    def to_json(self) -> str:
        """Return the index and the statuses as stable JSON (no timestamp)."""
        records = json.loads(
            self.index.to_json(orient="records", force_ascii=False, double_precision=10)
        )
        data = {
            "output": str(self.output),
            "params_hash": self.params_hash,
            "counts": self.counts(),
            "failed": {o.code: o.error for o in self.failed},
            "index": records,
        }
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    def summary(self, *, lang: str = "fr") -> str:
        """Return a few lines: counts, then the five least coherent regions."""
        lang = check_lang(lang)
        c = self.counts()
        lines = [
            pick(
                lang,
                fr=f"Audit par région dans {self.output} : {c['done']} audité(s), "
                f"{c['skipped']} déjà complet(s), {c['failed']} en échec.",
                en=f"Batch audit in {self.output}: {c['done']} audited, "
                f"{c['skipped']} already complete, {c['failed']} failed.",
            )
        ]
        ranked = self.index[self.index["rank"].notna()].head(5)
        if not ranked.empty:
            lines.append(
                pick(
                    lang,
                    fr="Régions les moins cohérentes (incohérence moyenne) :",
                    en="Least coherent regions (mean incoherence):",
                )
            )
            for _, r in ranked.iterrows():
                inc = _finite(r["incoherence"])
                shown = "—" if not math.isfinite(inc) else f"{inc:.3f}"
                lines.append(f"  {int(r['rank']):>2}. {r['code']} {r['nom']}: {shown}")
        for o in self.failed:
            lines.append(f"  ✗ {o.code}: {o.error}")
        return "\n".join(lines) + "\n"


def _territories(
    mrc: gpd.GeoDataFrame, regions_layer: gpd.GeoDataFrame | None, config: AuditConfig
) -> list[tuple[str, str, int]]:
    """``(code, nom, n_mrc)`` of the province and every selected region."""
    codes = mrc["regions_code"].astype(str)
    counts = codes.value_counts()
    known = sorted(counts.index)
    wanted = list(config.regions) if config.regions is not None else known
    unknown = [r for r in wanted if r not in counts.index]
    if unknown:
        msg = (
            f"Unknown region code(s) {', '.join(unknown)}; the MRC layer knows: "
            f"{', '.join(known)}."
        )
        raise InvalidParameterError(msg)
    names: dict[str, str] = {}
    if regions_layer is not None and "nom" in regions_layer.columns:
        names = {str(c): str(n) for c, n in regions_layer["nom"].items()}
    out = []
    if config.province:
        nom = pick(config.lang, fr="Ensemble du Québec", en="Whole of Québec")
        out.append((PROVINCE, nom, len(mrc)))
    out += [(r, names.get(r, r), int(counts[r])) for r in sorted(wanted)]
    return out


def _prepare_folder(
    output: Path, params_hash: str, description: Mapping[str, Any], *, overwrite: bool
) -> None:
    """Refuse a folder that holds something else; write ``batch.json`` first."""
    batch = output / BATCH_FILE
    if batch.is_file():
        try:
            previous = json.loads(batch.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        if previous.get("params_hash") != params_hash and not overwrite:
            diff = _describe_difference(previous, description)
            msg = (
                f"{str(output)!r} holds a batch audit made with other parameters "
                f"or data ({diff}). Choose another folder, or pass --overwrite "
                f"(overwrite=True) to replace it."
            )
            raise OutputExistsError(msg)
    elif output.is_dir() and any(output.iterdir()) and not overwrite:
        msg = (
            f"{str(output)!r} is not empty and is not a geodecoupage batch folder "
            f"(no {BATCH_FILE}). Choose an empty or new folder, or pass --overwrite "
            f"(overwrite=True) to write into it."
        )
        raise OutputExistsError(msg)
    current = dict(description) | {"params_hash": params_hash}
    text = json.dumps(current, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if not batch.is_file() or batch.read_text(encoding="utf-8") != text:
        write_text(batch, text, overwrite=True)


def _describe_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    parts = []
    old_cfg, new_cfg = old.get("config") or {}, new.get("config") or {}
    changed = sorted(k for k in new_cfg if old_cfg.get(k) != new_cfg.get(k))
    if changed:
        parts.append("configuration: " + ", ".join(changed))
    old_data, new_data = old.get("data") or {}, new.get("data") or {}
    files = sorted(
        k for k in set(old_data) | set(new_data) if old_data.get(k) != new_data.get(k)
    )
    if files:
        parts.append("data: " + ", ".join(files[:5]) + (" …" if len(files) > 5 else ""))
    if old.get("geodecoupage") != new.get("geodecoupage"):
        parts.append(f"version {old.get('geodecoupage')} → {new.get('geodecoupage')}")
    elif old.get("code") != new.get("code"):
        parts.append("geodecoupage source code changed")
    return "; ".join(parts) or "unreadable batch.json"


def audit_regions(
    output: str | os.PathLike[str],
    *,
    config: AuditConfig | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    population: Any = None,
    jobs: int = 1,
    force: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Audit every administrative region and the province into *output*.

    Parameters
    ----------
    output
        The batch folder (created if needed; see the module docstring).
    config
        Audit parameters (default :class:`AuditConfig`: layers mrc, cisss, rls,
        css; tables mrc; every region and the province).
    data_dir
        Data directory of the layers and the population surface.
    layers
        Layers already read (``{key: GeoDataFrame}``, holding ``"mrc"``); None
        reads them from *data_dir*, and only when a territory needs an audit.
    population
        Population surface already built; None builds it from *data_dir* when
        ``config.population`` is true and a territory needs an audit.
    jobs
        Worker processes (``0``: one per core). Each worker receives the layers
        once; territories are audited in parallel.
    force
        Audit again the territories that are complete with the same parameters.
    overwrite
        Allow a folder that holds something else (another batch's parameters, or
        files that are not a batch): territories whose marker differs are
        audited again and their files replaced.
    progress
        Called in the calling process as ``progress(outcome, n_finished,
        n_total)`` after each territory.

    Returns
    -------
    BatchResult
        The index, written to ``index.csv`` and ``index.html``, and each
        territory's outcome.

    Raises
    ------
    OutputExistsError
        If *output* holds something else and *overwrite* is false.
    InvalidParameterError
        If *jobs* is negative or a region code is unknown.
    LayerUnavailableError
        If a layer file is missing from the data directory.
    """
    config = config if config is not None else AuditConfig()
    if jobs < 0:
        msg = f"jobs must be 0 (one per core) or a positive number, got {jobs}."
        raise InvalidParameterError(msg)
    n_jobs = jobs or (os.cpu_count() or 1)
    out = Path(output)
    # The atlas holds the audited layers and the MRC (regions are sets of MRC).
    atlas_keys = list(dict.fromkeys([*_audited(config), "mrc"]))
    keys = atlas_keys
    if layers is not None:
        missing = [k for k in keys if k not in layers]
        if missing:
            msg = f"audit_regions: layers lacks {', '.join(missing)}."
            raise InvalidParameterError(msg)
        data = _objects_fingerprint(
            layers, keys, population if config.population else None
        )
    else:
        data = data_fingerprint(keys, data_dir=data_dir, population=config.population)
    params_hash = _params_hash(config, data)
    description = {
        "config": config.to_dict() | {"regions": None, "province": None},
        "data": dict(sorted(data.items())),
        "geodecoupage": _version("geodecoupage"),
        "code": code_fingerprint(),
    }
    _prepare_folder(out, params_hash, description, overwrite=overwrite)
    config_text = config.to_toml()
    cfg_path = out / CONFIG_FILE
    if not cfg_path.is_file() or cfg_path.read_text(encoding="utf-8") != config_text:
        write_text(cfg_path, config_text, overwrite=True)

    loaded: dict[str, gpd.GeoDataFrame] = dict(layers) if layers is not None else {}

    def load(key: str) -> gpd.GeoDataFrame:
        if key not in loaded:
            from geodecoupage.layers import read_layer

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loaded[key] = read_layer(key, data_dir=data_dir)
            for w in caught:
                logger.warning("%s: %s", key, w.message)
        return loaded[key]

    regions_layer = None
    if layers is not None:
        regions_layer = layers.get("regions")
    else:
        with contextlib.suppress(GeodecoupageError, OSError):
            regions_layer = load("regions")
    territories = _territories(load("mrc"), regions_layer, config)

    outcomes: dict[str, RegionOutcome] = {}
    todo: list[_Job] = []
    for code, nom, n_mrc in territories:
        folder = out / code
        _sweep_partials(folder)
        marker = None if force else _is_complete(folder, params_hash)
        if marker is not None:
            outcomes[code] = RegionOutcome(code, "skipped", folder, row=marker["row"])
            logger.info(
                "%s (%s): complete with the same parameters, skipped.", code, nom
            )
        else:
            todo.append(_Job(code, nom, n_mrc, folder))
    total = len(territories)
    finished = 0

    def record(outcome: RegionOutcome) -> None:
        nonlocal finished
        finished += 1
        outcomes[outcome.code] = outcome
        if outcome.status == "failed":
            logger.error("%s: failed: %s", outcome.code, outcome.error)
        else:
            logger.info(
                "%s: %s in %.1f s [%d/%d].",
                outcome.code,
                outcome.status,
                outcome.seconds,
                finished,
                total,
            )
        if progress is not None:
            progress(outcome, finished, total)

    for o in list(outcomes.values()):
        record(o)
    if todo:
        from geodecoupage.overlay.atlas import build_atlas

        for key in atlas_keys:
            load(key)
        pop = population
        if config.population and pop is None:
            pop = read_population(data_dir)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            atlas = build_atlas(
                {k: loaded[k] for k in atlas_keys}, **_atlas_kwargs(config, pop)
            )
        for w in caught:
            logger.warning("atlas: %s", w.message)
        logger.info(
            "Province atlas of %s: %d atoms in %.1f s.",
            ", ".join(atlas_keys),
            len(atlas.atoms),
            time.perf_counter() - start,
        )
        mrc = loaded["mrc"]
        state = _State(
            atlas=atlas,
            names=_names({k: loaded[k] for k in atlas_keys}),
            within={
                job.code: None
                if job.code == PROVINCE
                else {"mrc": _region_codes(mrc, job.code)}
                for job in todo
            },
            config=config,
            params_hash=params_hash,
            data=data,
        )
        try:
            if n_jobs <= 1 or len(todo) == 1:
                for job in todo:
                    record(_run_job(job, state))
            else:
                _run_pool(todo, state, n_jobs, record)
        except BaseException:
            for job in todo:
                _sweep_partials(job.folder)
            raise
    order = [code for code, _, _ in territories]
    rows = [outcomes[c].row for c in order if outcomes[c].status != "failed"]
    index = rank_regions(rows)
    _write_index(out, index, config=config, params_hash=params_hash, data=data)
    ordered = [outcomes[c] for c in index["code"]] + [
        outcomes[c] for c in order if outcomes[c].status == "failed"
    ]
    return BatchResult(
        output=out,
        index=index,
        outcomes=tuple(ordered),
        params_hash=params_hash,
        config=config,
    )


# ---------------------------------------------------------------------------
# Index
# ---------------------------------------------------------------------------

_LABELS = {
    "rank": ("rang", "rank"),
    "code": ("code", "code"),
    "nom": ("territoire", "territory"),
    "n_mrc": ("MRC", "MRC"),
    "incoherence": ("incohérence", "incoherence"),
    "nesting_index_area": ("emboîtement (aire)", "nesting (area)"),
    "nesting_index_pop": ("emboîtement (pop.)", "nesting (pop.)"),
    "nmi_area": ("NMI (aire)", "NMI (area)"),
    "n_units": ("unités", "units"),
    "n_split": ("scindées", "split"),
    "split_share": ("part scindée", "split share"),
    "heaviest_table": ("table la plus chargée", "heaviest table"),
    "heaviest_table_nom": ("nom", "name"),
    "heaviest_table_score": ("score", "score"),
    "most_summoned": ("institution la plus convoquée", "most summoned institution"),
    "most_summoned_nom": ("nom ", "name "),
    "folder": ("dossier", "folder"),
}


def _index_csv(index: pd.DataFrame) -> str:
    return index.to_csv(index=False, float_format="%.10g", lineterminator="\n")


def _index_html(
    index: pd.DataFrame,
    *,
    config: AuditConfig,
    params_hash: str,
    data: Mapping[str, str],
) -> str:
    lang = config.lang
    shown = index.copy()
    shown["folder"] = [f"{f}/" if isinstance(f, str) else "" for f in shown["folder"]]
    columns = {k: v[0] if lang == "fr" else v[1] for k, v in _LABELS.items()}
    table = html_table(
        shown.set_index("rank"),
        lang=lang,
        max_rows=None,
        digits=3,
        index=True,
        columns=columns,
    )
    # Links to each territory's folder: the folder cell holds "<code>/".
    for code in index["folder"].dropna():
        esc = html.escape(f"{code}/")
        table = table.replace(
            f"<td>{esc}</td>", f'<td><a href="{esc}summary.json">{esc}</a></td>', 1
        )
    title = pick(lang, fr="Audit par région", en="Audit by region")
    subtitle = pick(
        lang,
        fr=f"Couches : {', '.join(config.layers)} · tables : {config.tables or '—'} "
        f"· seuil {config.threshold:g}",
        en=f"Layers: {', '.join(config.layers)} · tables: {config.tables or '—'} "
        f"· threshold {config.threshold:g}",
    )
    how = pick(
        lang,
        fr="Rang 1 : la région où les couches s'emboîtent le moins. Pour chaque "
        "paire de couches, on garde le meilleur des deux indices d'emboîtement (la "
        "couche fine dans la grossière), pondéré par la population quand elle est "
        "connue, sinon par l'aire ; l'incohérence est 1 moins la moyenne sur les "
        "paires : 0 quand les couches forment une hiérarchie, sinon la part du "
        "territoire située dans des unités que l'autre couche scinde. Chaque "
        "dossier contient les tables de l'audit (summary.json, incoherence.csv, "
        "pairs.csv…). Méthode : docs/methodologie.md.",
        en="Rank 1: the region whose layers nest least. For each pair of layers the "
        "better of the two nesting indices is kept (the finer layer in the "
        "coarser), population-weighted when known, else area-weighted; incoherence "
        "is 1 minus the mean over pairs: 0 when the layers form a hierarchy, "
        "otherwise the share of the territory lying in units the other layer "
        "splits. Each folder holds the audit tables (summary.json, incoherence.csv, "
        "pairs.csv…). Method: docs/methodologie.md.",
    )
    params = {
        **{k: v for k, v in config.to_dict().items() if k != "weights"},
        **{f"weights.{k}": v for k, v in config.to_dict()["weights"].items()},
        "params_hash": params_hash,
    }
    param_rows = pd.DataFrame(
        {"value": [json.dumps(v, ensure_ascii=False) for v in params.values()]},
        index=pd.Index(list(params), name=pick(lang, fr="paramètre", en="parameter")),
    )
    data_rows = pd.DataFrame(
        {"sha256": list(data.values())},
        index=pd.Index(list(data), name=pick(lang, fr="fichier", en="file")),
    )
    sections = [
        f'<section id="index"><h2>{html.escape(title)}</h2>'
        f'<p class="gd-note">{html.escape(how)}</p>'
        f'<div class="gd-scroll">{table}</div></section>',
        '<section id="params"><h2>'
        + pick(lang, fr="Paramètres", en="Parameters")
        + "</h2>"
        + html_table(param_rows, lang=lang, max_rows=None)
        + '<p class="gd-note">'
        + html.escape(
            pick(
                lang,
                fr="Refaire exactement cet audit : geodecoupage audit --all-regions "
                "--config audit.toml -o DOSSIER",
                en="Repeat this audit exactly: geodecoupage audit --all-regions "
                "--config audit.toml -o FOLDER",
            )
        )
        + "</p></section>",
        '<section id="data"><h2>'
        + pick(lang, fr="Données (SHA-256)", en="Data (SHA-256)")
        + "</h2>"
        + html_table(data_rows, lang=lang, max_rows=None)
        + "</section>",
    ]
    toc = " ".join(
        f'<a href="#{a}">{html.escape(t)}</a>'
        for a, t in (
            ("index", pick(lang, fr="Classement", en="Ranking")),
            ("params", pick(lang, fr="Paramètres", en="Parameters")),
            ("data", pick(lang, fr="Données", en="Data")),
        )
    )
    n = int(index["rank"].notna().sum())
    footer = pick(
        lang,
        fr=f"geodecoupage {_version('geodecoupage')} · {fmt_int(n, lang)} régions "
        f"classées",
        en=f"geodecoupage {_version('geodecoupage')} · {fmt_int(n, lang)} regions "
        f"ranked",
    )
    return PAGE.format(
        lang=lang,
        version=html.escape(_version("geodecoupage")),
        title=html.escape(title),
        css=REPORT_CSS,
        subtitle=html.escape(subtitle),
        toc=toc,
        sections="\n".join(sections),
        footer=html.escape(footer),
    )


def _write_index(
    out: Path,
    index: pd.DataFrame,
    *,
    config: AuditConfig,
    params_hash: str,
    data: Mapping[str, str],
) -> None:
    for name, text in (
        ("index.csv", _index_csv(index)),
        (
            "index.html",
            _index_html(index, config=config, params_hash=params_hash, data=data),
        ),
    ):
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text(path, text, overwrite=True)
    logger.info("Index written to %s.", out / "index.csv")
