"""Exceptions and warnings raised by geodecoupage.

Every error inherits from :class:`GeodecoupageError` *and* from the built-in that
describes it best, so callers can catch either. Messages say what is wrong, where
(layer, column, first offending codes) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geodecoupage.layers.validate import Issue

__all__ = [
    "AtlasReadError",
    "CoverageError",
    "CoverageWarning",
    "DataIntegrityError",
    "DownloadError",
    "GeodecoupageError",
    "InfeasibleGroupingError",
    "InvalidParameterError",
    "LayerQualityWarning",
    "LayerReadError",
    "LayerUnavailableError",
    "LayerValidationError",
    "MissingCRSError",
    "OutputExistsError",
    "SliverWarning",
    "UnknownLayerError",
]


class GeodecoupageError(Exception):
    """Base class for all geodecoupage errors."""


class UnknownLayerError(GeodecoupageError, LookupError):
    """A layer key that the catalogue does not know."""

    def __str__(self) -> str:  # LookupError would add quotes like KeyError does not
        return str(self.args[0]) if self.args else ""


class LayerUnavailableError(GeodecoupageError, FileNotFoundError):
    """A known layer whose file is not in the data directory."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LayerReadError(GeodecoupageError, ValueError):
    """A file that exists but cannot be read as a polygon layer."""


class AtlasReadError(LayerReadError):
    """A file that cannot be read back as a saved atlas (see ``read_atlas``)."""


class MissingCRSError(GeodecoupageError, ValueError):
    """A layer without a coordinate reference system."""


class DataIntegrityError(GeodecoupageError, ValueError):
    """A data file whose checksum or feature count differs from the catalogue."""


class DownloadError(GeodecoupageError, OSError):
    """A layer that could not be downloaded from its official source."""


class InvalidParameterError(GeodecoupageError, ValueError):
    """A parameter outside its documented range or choices."""


class InfeasibleGroupingError(GeodecoupageError, ValueError):
    """Grouping constraints that no partition can satisfy."""


class CoverageError(GeodecoupageError, ValueError):
    """A layer that shares no territory with the layers it is compared with."""


class OutputExistsError(GeodecoupageError, FileExistsError):
    """An output path that exists and may not be overwritten."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LayerValidationError(GeodecoupageError, ValueError):
    """A layer with one or more blocking problems, all listed in the message."""

    def __init__(self, name: str, issues: Sequence[Issue]) -> None:
        self.name = name
        self.issues = tuple(issues)
        lines = [f"Layer {name!r} has {len(self.issues)} blocking problem(s):"]
        lines += [f"  - [{i.code}] {i.message}" for i in self.issues]
        super().__init__("\n".join(lines))


class LayerQualityWarning(UserWarning):
    """A non-blocking quality problem in a layer (overlaps, gaps, repairs)."""


class SliverWarning(UserWarning):
    """Sliver area above what the overlay parameters expect."""


class CoverageWarning(UserWarning):
    """Layers that do not cover the same territory."""
