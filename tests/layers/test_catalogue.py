"""The layer catalogue, the data directory and the canonical loader."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geodecoupage.errors import (
    DataIntegrityError,
    DownloadError,
    LayerReadError,
    LayerUnavailableError,
    UnknownLayerError,
)
from geodecoupage.layers import (
    LAYER_KEYS,
    available_layers,
    fetch_layer,
    get_spec,
    read_layer,
    resolve_data_dir,
    specs,
)

EXPECTED_KEYS = {
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
}


def test_catalogue_has_exactly_the_twelve_keys_with_provenance() -> None:
    table = specs()
    assert set(table) == EXPECTED_KEYS == set(LAYER_KEYS)
    for key, spec in table.items():
        assert "CC BY" in spec.attribution, key
        assert spec.licence == "CC-BY-4.0", key
        assert all((spec.vintage, spec.title_fr, spec.title_en)), key
        assert spec.sources, key
        assert spec.download.get("url") or spec.download.get("landing_page"), key
        for src in spec.sources:
            assert "code" in src.fields, key


def test_unknown_layer_lists_valid_keys() -> None:
    with pytest.raises(
        UnknownLayerError,
        match=r"Unknown layer 'mrcs'\. Available layers: regions, mrc",
    ):
        get_spec("mrcs")


def test_data_dir_resolution_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEODECOUPAGE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert resolve_data_dir() == (tmp_path / "env").resolve()
    monkeypatch.delenv("GEODECOUPAGE_DATA")
    monkeypatch.chdir(tmp_path)
    cache = resolve_data_dir()
    assert "geodecoupage" in str(cache)
    assert tmp_path not in cache.parents  # never the working directory


def test_missing_layer_is_unavailable_with_reason(tmp_path: Path) -> None:
    table = available_layers(tmp_path)
    assert not table["available"].any()
    assert table.loc["rls", "reason"].startswith("No file for layer 'rls'")
    with pytest.raises(LayerUnavailableError, match="geodecoupage data fetch rls"):
        read_layer("rls", data_dir=tmp_path)


def test_zero_byte_file_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "qc-regions.geojson").write_bytes(b"")
    with pytest.raises(LayerReadError, match=r"is empty \(0 bytes\)"):
        read_layer("regions", data_dir=tmp_path, verify=False)


def test_changed_file_fails_checksum(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "qc-regions.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}'
    )
    with pytest.raises(DataIntegrityError, match=r"has sha256 .* but the catalogue"):
        read_layer("regions", data_dir=tmp_path)


def test_wrong_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "qc-regions.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {"nom": "x"}, "geometry": {"type": "Polygon", "coordinates": '
        "[[[-72, 46], [-71, 46], [-71, 47], [-72, 46]]]}}]}"
    )
    with pytest.raises(LayerReadError, match="RES_CO_REG, RES_NM_REG missing"):
        read_layer("regions", data_dir=tmp_path, verify=False)


def test_fetch_without_direct_address_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        DownloadError, match=r"no direct download address.*GEODECOUPAGE_DATA"
    ):
        fetch_layer("rls", data_dir=tmp_path)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a folder (no traffic leaves the machine)."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*a: object, **k: object) -> _Quiet:
        return _Quiet(*a, directory=str(root), **k)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_downloads_records_checksum_and_refetches_corrupt_file(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = served
    payload = b'{"type": "FeatureCollection", "features": []}'
    (root / "cs_ang_sda.geojson").write_bytes(payload)
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", f"{base}/cs_ang_sda.geojson")
    data = tmp_path / "data"
    path = fetch_layer("cs_anglo", data_dir=data)
    assert path == data / "downloads" / "cs_anglo" / "cs_ang_sda.geojson"
    assert path.read_bytes() == payload
    assert (path.parent / "cs_ang_sda.geojson.sha256").is_file()
    assert not [
        p
        for p in path.parent.iterdir()
        if "partial" in p.name or p.name.startswith("tmp")
    ]
    # corrupt the cached copy: the next fetch notices and downloads again
    path.write_bytes(b"garbage")
    again = fetch_layer("cs_anglo", data_dir=data)
    assert again.read_bytes() == payload
    # nothing was written outside the data directory
    assert {p.name for p in tmp_path.iterdir()} == {"www", "data"}


def test_fetch_checksum_mismatch_is_integrity_error(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = served
    (root / "cs_ang_sda.geojson").write_bytes(b"tampered")
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", f"{base}/cs_ang_sda.geojson")
    monkeypatch.setitem(spec.download, "sha256", "0" * 64)
    with pytest.raises(
        DataIntegrityError, match="does not match the catalogue's checksum"
    ):
        fetch_layer("cs_anglo", data_dir=tmp_path / "data")


def test_fetch_offline_names_layer_url_and_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("cs_anglo")
    monkeypatch.setitem(spec.download, "url", "http://127.0.0.1:9/cs_ang_sda.geojson")
    with pytest.raises(
        DownloadError, match=r"'cs_anglo'.*127\.0\.0\.1:9.*GEODECOUPAGE_DATA"
    ):
        fetch_layer("cs_anglo", data_dir=tmp_path / "data")
