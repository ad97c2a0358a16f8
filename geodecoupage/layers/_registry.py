"""The layer catalogue: one TOML spec per layer in ``boundaries/``.

A spec says what the layer is (titles, producer, licence, attribution, vintage),
where its file may be found in the data directory (one or more ``[[source]]``
entries, tried in order: the local mirror's copy first, then the official detailed
file a user may have), how its fields map to the canonical schema, how many units it
has, and the sha256 of the file it was checked against.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from geodecoupage.errors import UnknownLayerError

__all__ = [
    "LAYER_KEYS",
    "LayerSpec",
    "SourceSpec",
    "boundaries_dir",
    "get_spec",
    "specs",
]

#: Every layer key, in the order used for listings.
LAYER_KEYS: tuple[str, ...] = (
    "regions",
    "mrc",
    "municipalites",
    "rss",
    "cisss",
    "rls",
    "clsc",
    "css",
    "cs_anglo",
    "cs_statut",
    "mtl_arrondissements",
    "mtl_quartiers",
)


@dataclass(frozen=True)
class SourceSpec:
    """One way to find and read a layer's file in the data directory."""

    path: str  # relative path or glob ("**/munic_s.shp") below the data directory
    fields: dict[str, str]  # canonical -> source column ("code", "nom")
    description: str = ""
    sha256: str | None = None
    source_crs: str | None = None
    features: int | None = None
    expected_count: int | None = None  # units after standardisation, if not the layer's
    parents: dict[str, str] = field(default_factory=dict)  # "<key>_code" -> column
    extra: dict[str, str] = field(default_factory=dict)  # kept columns -> column
    code_width: int | None = None  # zero-pad codes to this width
    processor: str | None = None  # named special treatment (see _processors)


@dataclass(frozen=True)
class LayerSpec:
    """What the catalogue knows about one layer."""

    key: str
    title_fr: str
    title_en: str
    producer: str
    licence: str
    attribution: str
    vintage: str
    tiles: bool
    sources: tuple[SourceSpec, ...]
    expected_count: int | None = None
    notes: str = ""
    download: dict[str, str] = field(default_factory=dict)
    derive: dict[str, Any] = field(default_factory=dict)

    def title(self, lang: str = "fr") -> str:
        """Return the layer's title in *lang*."""
        return self.title_fr if lang == "fr" else self.title_en


def boundaries_dir() -> Path:
    """Return the folder holding the layer specs (installed or source tree)."""
    installed = files("geodecoupage").joinpath("_boundaries")
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[2] / "boundaries"


def _parse(data: dict[str, Any]) -> LayerSpec:
    sources = tuple(SourceSpec(**s) for s in data.pop("source", []))
    return LayerSpec(sources=sources, **data)


@cache
def specs() -> dict[str, LayerSpec]:
    """Return every layer spec, keyed by layer key, in :data:`LAYER_KEYS` order."""
    folder = boundaries_dir()
    found: dict[str, LayerSpec] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            spec = _parse(tomllib.load(fh))
        if spec.key != path.stem:
            msg = f"Spec {path} declares key {spec.key!r}; rename the file or the key."
            raise ValueError(msg)
        found[spec.key] = spec
    missing = [k for k in LAYER_KEYS if k not in found]
    if missing:
        msg = f"Layer specs missing from {folder}: {', '.join(missing)}."
        raise FileNotFoundError(msg)
    return {k: found[k] for k in LAYER_KEYS}


def get_spec(key: str) -> LayerSpec:
    """Return the spec of layer *key*.

    Raises
    ------
    UnknownLayerError
        If *key* is not a catalogue key; the message lists the valid keys.
    """
    table = specs()
    if key not in table:
        msg = f"Unknown layer {key!r}. Available layers: {', '.join(LAYER_KEYS)}."
        raise UnknownLayerError(msg)
    return table[key]
