"""geodecoupage: where Québec's administrative maps disagree."""

from __future__ import annotations

from importlib.metadata import version as _version

__version__ = _version("geodecoupage")
__all__ = ["__version__"]
