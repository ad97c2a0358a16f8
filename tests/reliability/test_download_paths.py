"""Downloads never write outside the data directory, whatever the spec says.

``tests/layers/test_catalogue.py`` covers checksums, a corrupted cache fetched
again and offline errors with a loopback server. Here the catalogue entry is
hostile: its ``filename`` (or the last part of its URL) tries to leave
``<data_dir>/downloads/<key>/``. Every case must end in a
:class:`~geodecoupage.errors.DownloadError` (or a file inside that folder), and
nothing may appear outside the data directory. No traffic leaves the machine.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geodecoupage.errors import DownloadError
from geodecoupage.layers import fetch_layer, get_spec

PAYLOAD = b'{"type": "FeatureCollection", "features": []}'


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server answering every path with the same small GeoJSON."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "layer.geojson").write_bytes(PAYLOAD)

    class Handler(_Quiet):
        def translate_path(self, path: str) -> str:
            return str(www / "layer.geojson")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


HOSTILE_NAMES = [
    "../../../escaped.geojson",  # up out of downloads/<key>/ and the data dir
    "../../../../outside/escaped.geojson",
    "{sandbox}/absolute-escaped.geojson",  # an absolute path
    "sub/../../../../escaped.geojson",
    "..",
]


def _fetch(data: Path) -> tuple[Path | None, DownloadError | None]:
    try:
        return fetch_layer("cs_anglo", data_dir=data), None
    except DownloadError as err:
        return None, err


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_filename_never_writes_outside_the_data_directory(
    name: str,
    served: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = tmp_path / "sandbox"
    data = sandbox / "a" / "b" / "data"  # room above the data dir to escape into
    data.mkdir(parents=True)
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", f"{served}/cs_ang_sda.geojson")
    monkeypatch.setitem(spec.download, "filename", name.format(sandbox=sandbox))
    before = _tree(sandbox)
    path, err = _fetch(data)
    if err is not None:
        assert "cs_anglo" in str(err)
        assert "boundaries/cs_anglo.toml" in str(err)  # where to fix it
    else:
        assert path is not None
        assert (data / "downloads" / "cs_anglo") in path.resolve().parents
    outside = {
        p
        for p in _tree(sandbox) - before
        if not (sandbox / p).resolve().is_relative_to(data.resolve())
    }
    assert outside == set()


def test_url_ending_in_dot_dot_is_refused_or_stays_inside(
    served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", f"{served}/x/..")
    monkeypatch.setitem(spec.download, "filename", "")
    data = tmp_path / "data"
    data.mkdir()
    path, err = _fetch(data)
    if err is None:
        assert path is not None
        assert (data / "downloads" / "cs_anglo") in path.resolve().parents
    assert {p.name for p in tmp_path.iterdir()} == {"www", "data"}


def test_a_plain_filename_still_downloads_inside(
    served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", f"{served}/cs_ang_sda.geojson")
    monkeypatch.setitem(spec.download, "filename", "plain name.geojson")
    path, err = _fetch(tmp_path / "data")
    assert err is None
    assert path == tmp_path / "data" / "downloads" / "cs_anglo" / "plain name.geojson"
    assert path.read_bytes() == PAYLOAD
