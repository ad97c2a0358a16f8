"""Maps and figures: interactive overlap maps (folium), offline HTML, static figures.

folium, branca, matplotlib and xstatic-leaflet are optional (the ``maps`` extra:
``pip install "geodecoupage[maps]"``); they are imported only when a function
needs them, with an install hint if missing.
"""

from __future__ import annotations

from geodecoupage.maps.explore import explore_atlas, explore_grouping, overlap_map
from geodecoupage.maps.figures import (
    figure_data_uri,
    figure_svg,
    matrix_figure,
    overlap_figure,
    save_figure,
    sensitivity_figure,
)
from geodecoupage.maps.html import html_summary, html_table
from geodecoupage.maps.offline import (
    external_assets,
    leaflet_assets,
    make_self_contained,
    render_html,
    save_map,
)
from geodecoupage.maps.splits import UnitSplit, split_ranking, unit_splits
from geodecoupage.maps.styles import MapStyle, layer_colors, unit_label

__all__ = [
    "MapStyle",
    "UnitSplit",
    "explore_atlas",
    "explore_grouping",
    "external_assets",
    "figure_data_uri",
    "figure_svg",
    "html_summary",
    "html_table",
    "layer_colors",
    "leaflet_assets",
    "make_self_contained",
    "matrix_figure",
    "overlap_figure",
    "overlap_map",
    "render_html",
    "save_figure",
    "save_map",
    "sensitivity_figure",
    "split_ranking",
    "unit_label",
    "unit_splits",
]
