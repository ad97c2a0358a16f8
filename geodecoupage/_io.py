"""The one place where geodecoupage writes files: atomically, never overwriting.

Every writer (CSV, JSON, GeoPackage, GeoParquet, HTML, PNG) goes through
:func:`atomic_path`: the content is written to a temporary file in the destination
folder and renamed over the destination only when complete, so an interrupted run
leaves either the old file or nothing, never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from geodecoupage.errors import OutputExistsError

__all__ = ["atomic_path", "check_writable", "write_bytes", "write_json", "write_text"]


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Return *path* as a Path, refusing an existing one unless *overwrite*.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        msg = (
            f"Output {str(p)!r} already exists. Choose another path, or pass "
            f"overwrite=True (CLI: --overwrite) to replace it."
        )
        raise OutputExistsError(msg)
    return p


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside *path*; rename it onto *path* on success.

    The temporary file keeps *path*'s suffix so format drivers that look at the
    extension (GeoPackage, Parquet) work. On any exception, including
    KeyboardInterrupt, the temporary file is removed and *path* is untouched.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    """
    dest = check_writable(path, overwrite=overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.stem}.", suffix=f".partial{dest.suffix}", dir=dest.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # let drivers create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            msg = f"The writer for {str(dest)!r} produced no file."
            raise OSError(msg)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _write(
    path: str | os.PathLike[str], writer: Callable[[Path], object], overwrite: bool
) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(path)


def write_bytes(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False
) -> Path:
    """Write *data* to *path* atomically."""
    return _write(path, lambda p: p.write_bytes(data), overwrite)


def write_text(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False
) -> Path:
    """Write UTF-8 *text* to *path* atomically (``\\n`` line endings)."""
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def write_json(
    path: str | os.PathLike[str], obj: Any, *, overwrite: bool = False
) -> Path:
    """Write *obj* as stable JSON (sorted keys, UTF-8, 2-space indent) atomically."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return write_text(path, text, overwrite=overwrite)
