"""Small folium elements: an HTML control (legend, notes) and map attributions.

Imported lazily by :mod:`geodecoupage.maps.explore` (folium is optional).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Template

from branca.element import MacroElement

__all__ = ["Attribution", "HtmlControl"]


class HtmlControl(MacroElement):
    """A Leaflet control showing fixed HTML (legend, notes, title).

    Parameters
    ----------
    html
        Inner HTML of the control (already escaped by the caller).
    position
        Leaflet corner: ``"topright"``, ``"bottomleft"``...
    css_class
        Class of the control's ``div``, for the page's stylesheet and for tests.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
          .gd-control { background: rgba(255,255,255,0.92); padding: 6px 8px;
            border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.3);
            font: 12px/1.35 system-ui, sans-serif; max-width: 22em; }
          .gd-control h4 { margin: 0 0 4px; font-size: 13px; }
          .gd-control .gd-sw { display: inline-block; width: 14px; height: 10px;
            margin-right: 5px; vertical-align: middle; border: 2px solid; }
          .gd-control .gd-row { padding-left: 21px; text-indent: -21px; }
          .leaflet-container { background: #fbfbf8; }
          .leaflet-control-attribution { max-width: 62%; font-size: 10px;
            line-height: 1.3; }
          .leaflet-tooltip table th { text-align: left; padding-right: 6px;
            vertical-align: top; }
          .leaflet-tooltip { width: max-content; max-width: 34em;
            white-space: normal; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            ctl.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, html: str, *, position: str = "bottomleft", css_class: str = "gd-control"
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "HtmlControl"
        self.html = html
        self.position = position
        self.css_class = f"gd-control {css_class}".strip()


class Attribution(MacroElement):
    """Add one attribution line (HTML) to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution(
            {{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Attribution"
        self.text = text


def add_to(element: Any, parent: Any) -> Any:
    """Add *element* to *parent* and return it (typed helper for mypy)."""
    element.add_to(parent)
    return element


class FitWhenVisible(MacroElement):
    """Fit the map to *bounds* once its container is first visible.

    A map inside a hidden or off-screen ``<iframe>`` (as in the audit report) can
    be initialised with a zero-size container; Leaflet then draws nothing until
    the window is resized. This element re-measures the container and fits the
    bounds the first time it becomes visible, and on window resizes.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = {{ this.bounds|tojson }};
            var fitted = false;
            function refresh() {
                var el = map.getContainer();
                if (!el.clientWidth || !el.clientHeight) { return; }
                map.invalidateSize(false);
                if (!fitted) { map.fitBounds(bounds); fitted = true; }
            }
            window.addEventListener("load", refresh);
            window.addEventListener("resize", refresh);
            if ("IntersectionObserver" in window) {
                new IntersectionObserver(function (entries) {
                    if (entries.some(function (e) { return e.isIntersecting; })) {
                        refresh();
                    }
                }).observe(map.getContainer());
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "FitWhenVisible"
        self.bounds = bounds
