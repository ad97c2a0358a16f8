"""Optional imports for maps and figures, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["INSTALL_HINT", "import_optional"]

INSTALL_HINT = (
    'Install the map extra: pip install "geodecoupage[maps]" '
    "(folium, branca, matplotlib, xstatic-leaflet)."
)


def import_optional(name: str, *, purpose: str = "Maps") -> ModuleType:
    """Import the optional module *name* or raise an ImportError saying how to get it.

    Raises
    ------
    ImportError
        If *name* cannot be imported; the message names the package and the
        ``pip install "geodecoupage[maps]"`` command.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        top = name.split(".")[0]
        msg = (
            f"{purpose} need the optional package {top!r}, which is not "
            f"installed. {INSTALL_HINT}"
        )
        raise ImportError(msg) from err
