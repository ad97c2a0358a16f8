"""Where geodecoupage looks for data: argument, then environment, then user cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["ENV_VAR", "resolve_data_dir"]

ENV_VAR = "GEODECOUPAGE_DATA"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory to use.

    Resolution order: the *data_dir* argument (CLI ``--data-dir``), then the
    ``GEODECOUPAGE_DATA`` environment variable, then the per-user cache folder
    (``platformdirs.user_cache_dir("geodecoupage")/data``). Never the current
    working directory. The folder need not exist yet.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_cache_dir("geodecoupage")) / "data"
