"""Audit configuration: every parameter of an audit in one object and one TOML file.

An ``audit.toml`` holds the layers, thresholds and weights of an audit, so that the
same audit can be run again exactly (``geodecoupage audit --config audit.toml``).
The batch audit writes the configuration it used next to its outputs.

>>> cfg = AuditConfig(layers=("mrc", "rls"), tables="mrc", threshold=0.05)
>>> AuditConfig.from_toml_text(cfg.to_toml()) == cfg
True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args

from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import LANGS
from geodecoupage.layers import LAYER_KEYS
from geodecoupage.metrics import DEFAULT_THRESHOLDS, RiskWeights
from geodecoupage.metrics.concertation import Basis

__all__ = ["DEFAULT_BATCH_LAYERS", "AuditConfig", "read_config"]

#: Layers of the batch audit when neither the command line nor the config names any.
DEFAULT_BATCH_LAYERS: tuple[str, ...] = ("mrc", "cisss", "rls", "css")
_WEIGHT_KEYS = ("extra_partner", "straddling_partner", "straddled_share")


def _weights_dict(w: RiskWeights) -> dict[str, Any]:
    return {
        "extra_partner": float(w.extra_partner),
        "straddling_partner": float(w.straddling_partner),
        "straddled_share": float(w.straddled_share),
        "sectors": {k: float(v) for k, v in sorted(w.sectors.items())},
    }


@dataclass(frozen=True)
class AuditConfig:
    """The parameters of an audit (one territory or every region).

    Attributes
    ----------
    layers
        Layer keys compared (at least two).
    tables
        Table layer of the over-concertation risk (e.g. ``"mrc"``), or None.
    threshold
        Significance threshold ``τ`` in ``[0, 0.5)``.
    thresholds
        Thresholds of the sensitivity sweep.
    tolerance_m
        Boundary coincidence tolerance, in metres.
    min_area_m2
        Sliver threshold of the atlas (None: the atlas default).
    population
        Weight by the census population surface when the data has it.
    basis
        Shares of the risk: ``"auto"``, ``"area"`` or ``"population"``.
    weights
        Composite over-concertation weights.
    lang
        Language of the summaries and explanations (``"fr"`` or ``"en"``).
    regions
        Batch audits only: region codes to audit (None: all 17).
    province
        Batch audits only: also audit the whole province.
    """

    layers: tuple[str, ...] = DEFAULT_BATCH_LAYERS
    tables: str | None = "mrc"
    threshold: float = 0.01
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    tolerance_m: float = 100.0
    min_area_m2: float | None = None
    population: bool = True
    basis: Basis = "auto"
    weights: RiskWeights = field(default_factory=RiskWeights)
    lang: str = "fr"
    regions: tuple[str, ...] | None = None
    province: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(str(k) for k in self.layers))
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if self.regions is not None:
            object.__setattr__(
                self, "regions", tuple(str(r).strip().zfill(2) for r in self.regions)
            )
        problems = self._problems()
        if problems:
            msg = "Invalid audit configuration: " + "; ".join(problems) + "."
            raise InvalidParameterError(msg)

    def _problems(self) -> list[str]:
        out = []
        unknown = [k for k in self.layers if k not in LAYER_KEYS]
        if unknown:
            out.append(
                f"unknown layer(s) {', '.join(map(repr, unknown))} (choose from "
                f"{', '.join(LAYER_KEYS)})"
            )
        if len(self.layers) < 2:
            out.append(f"layers needs at least two keys, got {list(self.layers)}")
        if len(set(self.layers)) != len(self.layers):
            out.append(f"layers lists a key twice: {list(self.layers)}")
        if self.tables is not None and self.tables not in LAYER_KEYS:
            out.append(f"tables: unknown layer {self.tables!r}")
        if not (0.0 <= self.threshold < 0.5):
            out.append(f"threshold must be in [0, 0.5), got {self.threshold}")
        bad = [t for t in self.thresholds if not (0.0 <= t < 0.5)]
        if bad or not self.thresholds:
            out.append(f"thresholds must be a non-empty list in [0, 0.5), got {bad}")
        if not (math.isfinite(self.tolerance_m) and self.tolerance_m >= 0):
            out.append(f"tolerance_m must be >= 0, got {self.tolerance_m}")
        if self.min_area_m2 is not None and not (
            math.isfinite(self.min_area_m2) and self.min_area_m2 >= 0
        ):
            out.append(f"min_area_m2 must be >= 0, got {self.min_area_m2}")
        if self.basis not in get_args(Basis):
            out.append(
                f"basis must be one of {', '.join(get_args(Basis))}, got {self.basis!r}"
            )
        if self.lang not in LANGS:
            out.append(f"lang must be one of {', '.join(LANGS)}, got {self.lang!r}")
        if self.regions is not None:
            odd = [r for r in self.regions if not (r.isdigit() and len(r) == 2)]
            if odd:
                out.append(f"regions are two-digit codes such as '06', got {odd}")
        return out

    # -- conversions -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain, JSON-ready data (stable order)."""
        return {
            "layers": list(self.layers),
            "tables": self.tables,
            "threshold": float(self.threshold),
            "thresholds": [float(t) for t in self.thresholds],
            "tolerance_m": float(self.tolerance_m),
            "min_area_m2": None
            if self.min_area_m2 is None
            else float(self.min_area_m2),
            "population": bool(self.population),
            "basis": self.basis,
            "weights": _weights_dict(self.weights),
            "lang": self.lang,
            "regions": None if self.regions is None else list(self.regions),
            "province": bool(self.province),
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "config"
    ) -> AuditConfig:
        """Build a configuration from plain data (the content of a TOML file).

        Missing keys take their defaults; ``tables = "none"`` or ``""`` means no
        over-concertation table layer.

        Raises
        ------
        InvalidParameterError
            On an unknown key, a value of the wrong type, or an invalid value;
            every problem is listed at once.
        """
        known = {f.name for f in fields(cls)}
        problems = [f"unknown key {k!r}" for k in data if k not in known]
        kwargs: dict[str, Any] = {}
        for name in known & set(data):
            value = data[name]
            try:
                kwargs[name] = _coerce(name, value)
            except (TypeError, ValueError) as err:
                problems.append(f"{name}: {err}")
        try:
            config = cls(**kwargs)
        except InvalidParameterError as err:
            problems.append(str(err).removeprefix("Invalid audit configuration: "))
            problems[-1] = problems[-1].rstrip(".")
        if problems:
            msg = (
                f"{source}: " + "; ".join(problems) + ". Valid keys: "
                f"{', '.join(sorted(known))} (see docs/cli.md)."
            )
            raise InvalidParameterError(msg)
        return config

    @classmethod
    def from_toml_text(cls, text: str, *, source: str = "config") -> AuditConfig:
        """Parse TOML text (see :meth:`to_toml`).

        Raises
        ------
        InvalidParameterError
            If the text is not valid TOML or holds an invalid configuration.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            msg = f"{source} is not valid TOML: {err}. Fix the line shown."
            raise InvalidParameterError(msg) from err
        return cls.from_dict(data, source=source)

    def to_toml(self) -> str:
        """Return the configuration as TOML text that :func:`read_config` reads back."""
        d = self.to_dict()
        lines = [
            "# geodecoupage audit configuration",
            "# Re-run exactly: geodecoupage audit --all-regions --config audit.toml "
            "-o DIR",
            "",
        ]
        for key in (
            "layers",
            "tables",
            "threshold",
            "thresholds",
            "tolerance_m",
            "min_area_m2",
            "population",
            "basis",
            "lang",
            "regions",
            "province",
        ):
            value = d[key]
            if value is None:
                if key == "tables":
                    lines.append('tables = "none"')
                else:
                    lines.append(f"# {key} = (default)")
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        weights = d["weights"]
        lines += ["", "[weights]"]
        lines += [f"{k} = {_toml_value(weights[k])}" for k in _WEIGHT_KEYS]
        lines += ["", "[weights.sectors]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in weights["sectors"].items()]
        return "\n".join(lines) + "\n"

    def fingerprint(self, *, exclude: Sequence[str] = ()) -> str:
        """Return the SHA-256 of the canonical JSON of :meth:`to_dict`.

        Parameters
        ----------
        exclude
            Keys left out (the batch leaves out ``regions``: which regions are
            run does not change any region's result).
        """
        d = {k: v for k, v in self.to_dict().items() if k not in exclude}
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Pickled as plain data (worker processes): RiskWeights holds a
        # read-only mapping that pickle refuses.
        return (_from_plain, (self.to_dict(),))

    def merged(self, **changes: Any) -> AuditConfig:
        """Return a copy with *changes* applied (values validated again)."""
        return replace(self, **changes)


def _from_plain(data: dict[str, Any]) -> AuditConfig:
    """Rebuild a configuration from :meth:`AuditConfig.to_dict` (None allowed)."""
    plain = {k: v for k, v in data.items() if v is not None}
    if data.get("tables") is None:
        plain["tables"] = "none"
    return AuditConfig.from_dict(plain)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    msg = f"cannot write {value!r} as TOML"
    raise TypeError(msg)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"expected a number, got {value!r}"
        raise TypeError(msg)
    return float(value)


def _str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    msg = f"expected a list of strings, got {value!r}"
    raise TypeError(msg)


def _coerce(name: str, value: Any) -> Any:
    if name == "layers":
        return _str_list(value)
    if name == "regions":
        if isinstance(value, list) and all(isinstance(v, int | str) for v in value):
            return tuple(str(v).zfill(2) for v in value)
        return _str_list(value)
    if name == "tables":
        if not isinstance(value, str):
            msg = f"expected a layer key or 'none', got {value!r}"
            raise TypeError(msg)
        return None if value.strip().lower() in ("", "none") else value.strip()
    if name in ("threshold", "tolerance_m", "min_area_m2"):
        return _number(value)
    if name == "thresholds":
        if not isinstance(value, list):
            msg = f"expected a list of numbers, got {value!r}"
            raise TypeError(msg)
        return tuple(_number(v) for v in value)
    if name in ("population", "province"):
        if not isinstance(value, bool):
            msg = f"expected true or false, got {value!r}"
            raise TypeError(msg)
        return value
    if name in ("basis", "lang"):
        if not isinstance(value, str):
            msg = f"expected a string, got {value!r}"
            raise TypeError(msg)
        return value
    if name == "weights":
        if not isinstance(value, Mapping):
            msg = "expected a table [weights]"
            raise TypeError(msg)
        extra = set(value) - {*_WEIGHT_KEYS, "sectors"}
        if extra:
            msg = (
                f"unknown key(s) {', '.join(sorted(extra))}; use "
                f"{', '.join(_WEIGHT_KEYS)} and [weights.sectors]"
            )
            raise ValueError(msg)
        sectors = value.get("sectors", {})
        if not isinstance(sectors, Mapping):
            msg = "sectors must be a table of layer key = weight"
            raise TypeError(msg)
        bad = [k for k in sectors if k not in LAYER_KEYS]
        if bad:
            msg = f"sectors: unknown layer(s) {', '.join(bad)}"
            raise ValueError(msg)
        try:
            return RiskWeights(
                **{k: _number(value[k]) for k in _WEIGHT_KEYS if k in value},
                sectors={k: _number(v) for k, v in sectors.items()},
            )
        except InvalidParameterError as err:
            raise ValueError(str(err)) from err
    msg = f"unhandled key {name!r}"  # pragma: no cover - every field is handled
    raise ValueError(msg)


def read_config(path: str | os.PathLike[str]) -> AuditConfig:
    """Read an ``audit.toml`` file.

    Parameters
    ----------
    path
        The TOML file (UTF-8). Keys: ``layers``, ``tables``, ``threshold``,
        ``thresholds``, ``tolerance_m``, ``min_area_m2``, ``population``,
        ``basis``, ``lang``, ``regions``, ``province``, and the tables
        ``[weights]`` / ``[weights.sectors]``.

    Returns
    -------
    AuditConfig
        The configuration; missing keys take their defaults.

    Raises
    ------
    FileNotFoundError
        If *path* does not exist.
    InvalidParameterError
        If the file is not valid TOML or holds unknown keys or invalid values.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        msg = f"{str(p)!r} is not UTF-8 text; save the configuration as UTF-8."
        raise InvalidParameterError(msg) from err
    return AuditConfig.from_toml_text(text, source=str(p))
