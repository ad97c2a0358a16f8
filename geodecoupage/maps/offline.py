"""Self-contained HTML: Leaflet inlined from an installed package, no CDN.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from public CDNs. Many
municipal networks (and air-gapped machines) cannot reach them, and a map that
loads nothing shows a blank page. :func:`make_self_contained` rewrites a
``folium.Map`` so that its HTML carries Leaflet's JavaScript and CSS inline
(images as ``data:`` URIs) and links nothing else:

* Leaflet comes from the ``xstatic-leaflet`` package (PyPI, installed with the
  ``maps`` extra: ``pip install "geodecoupage[maps]"``), read with
  :mod:`importlib.resources`; nothing is copied into this repository.
* folium's other default assets (jQuery, Bootstrap, Font Awesome, awesome-markers)
  serve only its marker icons, which geodecoupage maps do not use: they are
  dropped.
* Any other external asset (a folium plugin added by the caller) cannot be
  inlined, so :func:`make_self_contained` raises, naming it, rather than write a
  page that silently needs the network.

:func:`render_html` renders a map and checks the result; :func:`save_map` writes
it atomically.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geodecoupage._io import write_text
from geodecoupage.errors import InvalidParameterError
from geodecoupage.maps._deps import INSTALL_HINT

if TYPE_CHECKING:
    import folium

__all__ = [
    "LeafletAssets",
    "external_assets",
    "leaflet_assets",
    "make_self_contained",
    "render_html",
    "save_map",
]

logger = logging.getLogger(__name__)

ASSET_PACKAGE = "xstatic-leaflet"
_ASSET_MODULE = "xstatic.pkg.leaflet"
#: folium default assets that only serve marker icons; safe to drop.
_DROPPABLE = re.compile(
    r"jquery|bootstrap|glyphicons|fontawesome|font-awesome|awesome[-_.]markers|"
    r"awesome\.rotate",
    re.IGNORECASE,
)
_LEAFLET_CORE = re.compile(r"/leaflet(@[\d.]+)?/dist/leaflet\.(js|css)$")
_EXTERNAL_REF = re.compile(
    r"<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*"
    r"[\"']?((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\((['\"]?)(images/[^)'\"]+)\1\)")


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's JavaScript and CSS, ready to inline.

    Attributes
    ----------
    version
        Leaflet version shipped by the asset package.
    js
        ``leaflet.js`` (minified).
    css
        ``leaflet.css`` with its images inlined as ``data:`` URIs.
    package
        Name of the PyPI package the files were read from.
    """

    version: str
    js: str
    css: str
    package: str = ASSET_PACKAGE

    def html(self) -> str:
        """Return ``<style>`` and ``<script>`` tags holding the assets."""
        js = self.js.replace("</script", "<\\/script")
        css = self.css.replace("</style", "<\\/style")
        return (
            f"<!-- Leaflet {self.version}, inlined from the {self.package} "
            f"package (BSD-2-Clause, (c) Vladimir Agafonkin) -->\n"
            f"<style>{css}</style>\n<script>{js}</script>\n"
        )


@functools.cache
def leaflet_assets() -> LeafletAssets:
    """Return Leaflet's JS and CSS from the installed ``xstatic-leaflet`` package.

    Returns
    -------
    LeafletAssets
        The files, CSS images inlined as ``data:`` URIs.

    Raises
    ------
    ImportError
        If ``xstatic-leaflet`` is not installed (message says how to install it).
    """
    try:
        import importlib

        mod = importlib.import_module(_ASSET_MODULE)
    except ImportError as err:
        msg = (
            f"Self-contained maps need Leaflet's files from the {ASSET_PACKAGE} "
            f"package, which is not installed. {INSTALL_HINT} Or pass "
            f"self_contained=False to link Leaflet from its CDN (needs a network)."
        )
        raise ImportError(msg) from err
    data = resources.files(_ASSET_MODULE).joinpath("data")
    js = data.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = data.joinpath("leaflet.css").read_text(encoding="utf-8")

    def _inline(match: re.Match[str]) -> str:
        img = data.joinpath(match.group(2))
        b64 = base64.b64encode(img.read_bytes()).decode("ascii")
        return f'url("data:image/png;base64,{b64}")'

    css = _CSS_URL.sub(_inline, css)
    version = str(getattr(mod, "VERSION", "unknown"))
    logger.debug("Leaflet %s read from %s", version, ASSET_PACKAGE)
    return LeafletAssets(version=version, js=js, css=css)


def _walk(element: Any) -> list[Any]:
    out = [element]
    for child in list(getattr(element, "_children", {}).values()):
        out.extend(_walk(child))
    return out


def _raw_element(html: str) -> Any:
    from branca.element import Element

    class RawHtml(Element):
        """An element that renders its HTML verbatim (no Jinja parsing)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self._name = "RawHtml"
            self.text = text

        def render(self, **kwargs: Any) -> str:
            return self.text

    return RawHtml(html)


def make_self_contained(m: folium.Map) -> folium.Map:
    """Make *m* render as one HTML file that needs no network.

    Leaflet is inlined from the ``xstatic-leaflet`` package; folium's icon-only
    defaults (jQuery, Bootstrap, Font Awesome, awesome-markers) are dropped. The
    map is changed in place (folium maps are built by mutation) and returned.

    Parameters
    ----------
    m
        A folium map, possibly with layers and controls already added.

    Returns
    -------
    folium.Map
        The same map.

    Raises
    ------
    InvalidParameterError
        If an element of the map needs an external asset that cannot be
        inlined (for example a folium plugin): the message names it.
    ImportError
        If ``xstatic-leaflet`` is not installed.
    """
    assets = leaflet_assets()
    root: Any = m.get_root()
    unknown: list[str] = []
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            kept: list[tuple[str, str]] = []
            for name, url in links:
                if _LEAFLET_CORE.search(url) or _DROPPABLE.search(url):
                    continue
                unknown.append(f"{type(element).__name__}: {url}")
                kept.append((name, url))
            # instance attribute: folium's add_js_link mutates the class list
            setattr(element, attr, kept)
    if unknown:
        msg = (
            "Cannot make the map self-contained: these elements need assets "
            "from the network that geodecoupage cannot inline: "
            + "; ".join(unknown)
            + ". Remove them, or pass self_contained=False (the page will then "
            "need Internet access)."
        )
        raise InvalidParameterError(msg)
    header = root.header
    for name, child in list(header._children.items()):
        # links left by an earlier render of the same map
        if type(child).__name__ in {"JavascriptLink", "CssLink"}:
            url = getattr(child, "url", "")
            if _LEAFLET_CORE.search(url) or _DROPPABLE.search(url):
                del header._children[name]
    header.add_child(_raw_element(assets.html()), name="leaflet_inline", index=0)
    return m


def external_assets(html: str) -> list[str]:
    """Return the external URLs that *html* would load (scripts, styles, images).

    Plain ``<a href>`` links are not loads and are not returned.
    """
    return [m.group(1) for m in _EXTERNAL_REF.finditer(html)]


_FOLIUM_ID = re.compile(r"(?<=_)([0-9a-f]{32})(?![0-9a-f])")


def _stable_ids(page: str) -> str:
    """Replace folium's random element ids by counters (same map, same bytes)."""
    seen: dict[str, str] = {}

    def repl(match: re.Match[str]) -> str:
        old = match.group(1)
        if old not in seen:
            seen[old] = f"{len(seen) + 1:032x}"
        return seen[old]

    return _FOLIUM_ID.sub(repl, page)


def render_html(
    m: folium.Map, *, self_contained: bool = True, stable_ids: bool = True
) -> str:
    """Render *m* to a complete HTML page.

    Parameters
    ----------
    m
        The map.
    self_contained
        Inline Leaflet and refuse any external asset (default). With False,
        folium's CDN links are kept.
    stable_ids
        Number folium's random element ids in order of appearance, so the same
        map always renders to the same bytes.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    InvalidParameterError
        If *self_contained* and the page would still load something from the
        network.
    """
    if self_contained:
        make_self_contained(m)
    html: str = m.get_root().render()
    if stable_ids:
        html = _stable_ids(html)
    if self_contained:
        leftovers = external_assets(html)
        if leftovers:
            msg = (
                "The rendered map still loads external assets: "
                + ", ".join(sorted(set(leftovers)))
                + ". Remove the element that adds them, or pass "
                "self_contained=False."
            )
            raise InvalidParameterError(msg)
    return html


def save_map(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    self_contained: bool = True,
) -> Path:
    """Write *m* as one HTML file, atomically.

    Parameters
    ----------
    m
        The map.
    path
        Destination ``.html`` file.
    overwrite
        Replace an existing file.
    self_contained
        See :func:`render_html`.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    InvalidParameterError
        See :func:`render_html`.
    """
    html = render_html(m, self_contained=self_contained)
    out = write_text(path, html, overwrite=overwrite)
    logger.info("Map written to %s (%.1f MB)", out, len(html.encode()) / 1e6)
    return out
