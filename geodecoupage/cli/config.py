"""``--config audit.toml``: the audit parameters from a file, the command line on top.

Precedence, for each parameter: an option given on the command line, then the
configuration file, then the default of
:class:`~geodecoupage.reports.config.AuditConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from geodecoupage.reports.config import AuditConfig, read_config

__all__ = ["CLI_KEYS", "config_from_cli", "config_option", "config_param"]

#: Command-line options that map onto :class:`AuditConfig` fields.
CLI_KEYS: tuple[str, ...] = (
    "layers",
    "tables",
    "threshold",
    "min_area_m2",
    "tolerance_m",
    "population",
    "lang",
)

_CONFIG_DECLS = ("--config", "config_path")
_CONFIG_ATTRS: dict[str, Any] = {
    "type": click.Path(exists=True, dir_okay=False, path_type=Path),
    "default": None,
    "metavar": "FILE.toml",
    "help": "Audit parameters (layers, tables, thresholds, weights) from a TOML "
    "file; options given on the command line take precedence. A batch writes the "
    "one it used as DIR/audit.toml.",
}


def config_param() -> click.Option:
    """Return a new ``--config FILE.toml`` option (for commands built in code)."""
    return click.Option(list(_CONFIG_DECLS), **_CONFIG_ATTRS)


#: The ``--config FILE.toml`` option as a decorator.
config_option = click.option(*_CONFIG_DECLS, **_CONFIG_ATTRS)


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def config_from_cli(
    ctx: click.Context, path: Path | None, params: Mapping[str, Any]
) -> AuditConfig:
    """Return the configuration of *path* (or the defaults) with the options the
    user typed on the command line applied on top.

    Raises
    ------
    InvalidParameterError
        If the file or the combination is invalid (the CLI exits with 1).
    """
    base = read_config(path) if path is not None else AuditConfig()
    changes: dict[str, Any] = {}
    for key in CLI_KEYS:
        if key in params and _given(ctx, key):
            value = params[key]
            if key == "layers" and value is not None:
                value = tuple(value)
            changes[key] = value
    return base.merged(**changes) if changes else base
