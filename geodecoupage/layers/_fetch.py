"""Download missing layers from their official source, with checksums."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from geodecoupage._io import write_text
from geodecoupage.errors import DataIntegrityError, DownloadError
from geodecoupage.layers._datadir import ENV_VAR, resolve_data_dir
from geodecoupage.layers._loader import file_sha256, locate
from geodecoupage.layers._registry import get_spec

logger = logging.getLogger(__name__)

__all__ = ["fetch_layer"]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def fetch_layer(
    key: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = False,
) -> Path:
    """Make sure layer *key* has a file in the data directory; download it if not.

    A file already present (the local mirror, or an earlier download) is kept
    unless *force*. Downloads go to ``<data_dir>/downloads/<key>/`` through a
    temporary file renamed when complete (pooch), so an interrupted download
    leaves nothing behind. The file's sha256 is checked against the catalogue when
    it has one; otherwise it is recorded beside the file (``.sha256``) at the first
    download and checked at every later fetch, so a corrupted cached file is
    detected and downloaded again. Nothing is written outside the data directory.

    Returns
    -------
    pathlib.Path
        The layer's file.

    Raises
    ------
    UnknownLayerError
        If *key* is not a catalogue key.
    DownloadError
        If the layer has no direct download address, its catalogue file name is
        not a plain file name (``..``, a folder, an absolute path), or the
        download fails (for example offline); the message names the layer, the
        address and the environment variable that points at a local mirror.
    DataIntegrityError
        If the downloaded file's checksum differs from the catalogue's.
    """
    import pooch

    spec = get_spec(key)
    root = resolve_data_dir(data_dir)
    found = locate(key, root)
    url = spec.download.get("url")
    target_dir = root / "downloads" / key
    if found.path is not None and not force:
        in_downloads = target_dir in found.path.parents
        sidecar = _sidecar(found.path)
        if not (in_downloads and sidecar.is_file()):
            return found.path
        recorded = sidecar.read_text(encoding="utf-8").strip()
        if file_sha256(found.path) == recorded:
            return found.path
        logger.warning(
            "%s: cached file %s is corrupted; fetching again", key, found.path
        )
        found.path.unlink()  # a corrupted copy is never served again
    if not url:
        page = spec.download.get("landing_page", "(no address known)")
        msg = (
            f"Layer {key!r} has no direct download address: its producer publishes it "
            f"behind a web page ({page}). Download the file there, put it in "
            f"{str(root)!r} (any sub-folder; expected names: "
            f"{', '.join(s.path for s in spec.sources)}), or set {ENV_VAR} to a "
            f"folder that has it."
        )
        raise DownloadError(msg)
    filename = spec.download.get("filename") or url.rsplit("/", 1)[-1]
    if filename in ("", ".", "..") or Path(filename).name != filename:
        msg = (
            f"Layer {key!r}: the catalogue's download file name {filename!r} is not "
            f"a plain file name and would be written outside {str(target_dir)!r}. "
            f"Fix 'filename' (or the address) in boundaries/{key}.toml."
        )
        raise DownloadError(msg)
    known = spec.download.get("sha256")
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / filename
    if force and dest.exists():
        dest.unlink()
    try:
        fetched = pooch.retrieve(
            url,
            known_hash=f"sha256:{known}" if known else None,
            fname=filename,
            path=target_dir,
            progressbar=progress,
        )
    except ValueError as err:  # pooch: hash mismatch
        msg = (
            f"Layer {key!r}: the file downloaded from {url} does not match the "
            f"catalogue's checksum ({err}). The source changed; report it or use a "
            f"local mirror ({ENV_VAR})."
        )
        raise DataIntegrityError(msg) from err
    except Exception as err:  # network errors come from requests/urllib
        msg = (
            f"Layer {key!r}: download from {url} failed ({type(err).__name__}: {err}). "
            f"Check the network, or set {ENV_VAR} (or --data-dir) to a folder that "
            f"already has the layer's file."
        )
        raise DownloadError(msg) from err
    path = Path(fetched)
    write_text(_sidecar(path), file_sha256(path) + "\n", overwrite=True)
    return path
