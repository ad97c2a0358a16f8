"""Maps and figures: interactive overlap maps (folium), offline HTML, static figures.

folium, branca, matplotlib and xstatic-leaflet are optional (the ``maps`` extra:
``pip install "geodecoupage[maps]"``); they are imported only when a function
needs them, with an install hint if missing.
"""

from __future__ import annotations

from geodecoupage.maps.explore import overlap_map, unit_splits
from geodecoupage.maps.html import html_summary, html_table
from geodecoupage.maps.offline import (
    external_assets,
    leaflet_assets,
    make_self_contained,
    render_html,
    save_map,
)
from geodecoupage.maps.styles import MapStyle, layer_colors, unit_label

__all__ = [
    "MapStyle",
    "external_assets",
    "html_summary",
    "html_table",
    "layer_colors",
    "leaflet_assets",
    "make_self_contained",
    "overlap_map",
    "render_html",
    "save_map",
    "unit_label",
    "unit_splits",
]
