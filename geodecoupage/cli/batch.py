"""``geodecoupage audit --all-regions``: the batch audit, added to ``audit``.

:func:`with_batch` returns the ``audit`` command of :mod:`geodecoupage.cli.audit`
with four more options: ``--all-regions``, ``-j/--jobs``, ``--force`` and
``--config``. Without them the command is unchanged (the original callback runs);
the batch itself is :func:`geodecoupage.reports.batch.audit_regions`.
"""

from __future__ import annotations

import inspect
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli.audit import audit as _audit
from geodecoupage.cli.config import config_from_cli, config_param

logger = logging.getLogger(__name__)

__all__ = ["audit", "with_batch"]

BATCH_HELP = """

\b
Batch (--all-regions): audit each of the 17 administrative regions and the
province into -o DIR, one folder per territory (01 … 17, province) plus
index.csv and index.html ranking the regions. A territory already complete with
the same parameters and data is skipped (--force audits it again), so an
interrupted run resumes where it stopped. Without --layers or --config the
batch audits mrc,cisss,rls,css with tables mrc. DIR/audit.toml repeats the
audit exactly.

\b
  geodecoupage audit --all-regions -o out/
  geodecoupage audit --all-regions -o out/ --jobs 2 --config audit.toml
  geodecoupage audit --all-regions -o out2/ --config out/audit.toml
"""


def _batch_params() -> list[click.Parameter]:
    return [
        click.Option(
            ["--all-regions"],
            is_flag=True,
            default=False,
            help="Audit every administrative region and the province into -o DIR, "
            "with a ranked index.",
        ),
        click.Option(
            ["-j", "--jobs"],
            type=click.IntRange(0),
            default=1,
            show_default=True,
            help="With --all-regions: worker processes (0: one per core).",
        ),
        click.Option(
            ["--force"],
            is_flag=True,
            default=False,
            help="With --all-regions: audit again the territories already complete "
            "with the same parameters.",
        ),
        config_param(),
    ]


def _emit_single(
    result: Any, *, output: Path | None, overwrite: bool, lang: str
) -> None:
    if output is None:
        click.echo(result.to_json(lang=lang), nl=False)
        click.echo(result.summary(lang=lang), err=True, nl=False)
        return
    result.write(output, overwrite=overwrite, lang=lang)
    click.echo(result.summary(lang=lang), nl=False)


def _single_with_config(config: Any, params: dict[str, Any]) -> None:
    """One audit (province or --region) with the parameters of a config file."""
    from geodecoupage._io import check_writable
    from geodecoupage.layers import read_layer
    from geodecoupage.metrics import OUTPUT_FILES
    from geodecoupage.reports.batch import audit_territory
    from geodecoupage.reports.inputs import read_population

    output: Path | None = params["output"]
    if output is not None and not params["overwrite"]:
        for name in OUTPUT_FILES:
            check_writable(output / name, overwrite=False)
    region = params["region"]
    keys = list(
        dict.fromkeys([*config.layers, *([config.tables] if config.tables else [])])
    )
    if region is not None and "mrc" not in keys:
        keys.append("mrc")
    data = {}
    for key in keys:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data[key] = read_layer(key, data_dir=params["data_dir"])
        for w in caught:
            logger.warning("%s: %s", key, w.message)
    population = read_population(params["data_dir"]) if config.population else None
    result = audit_territory(data, config=config, region=region, population=population)
    _emit_single(result, output=output, overwrite=params["overwrite"], lang=config.lang)


def _progress_reporter(total_hint: int | None = None) -> tuple[Any, Any]:
    """Return ``(callback, close)``: a progress bar on a terminal, else log lines."""
    ctx = click.get_current_context()
    quiet = ctx.meta.get("geodecoupage.verbosity", 0) < 0
    if sys.stderr.isatty() and not quiet:
        bars: list[Any] = []

        def bar_cb(outcome: Any, done: int, total: int) -> None:
            if not bars:
                bar: Any = click.progressbar(
                    length=total,
                    label="Audit des régions",
                    file=sys.stderr,
                    show_pos=True,
                    item_show_func=lambda o: None if o is None else str(o),
                )
                bar.__enter__()
                bars.append(bar)
            bars[0].update(1, f"{outcome.code} {outcome.status}")

        def bar_close() -> None:
            for bar in bars:
                bar.__exit__(None, None, None)

        return bar_cb, bar_close

    def line_cb(outcome: Any, done: int, total: int) -> None:
        if quiet and outcome.status != "failed":
            return
        extra = f": {outcome.error}" if outcome.error else ""
        took = f" in {outcome.seconds:.1f} s" if outcome.status == "done" else ""
        click.echo(
            f"[{done}/{total}] {outcome.code} {outcome.status}{took}{extra}", err=True
        )

    return line_cb, lambda: None


def _batch(config: Any, params: dict[str, Any], *, jobs: int, force: bool) -> None:
    from geodecoupage.reports.batch import audit_regions

    output: Path | None = params["output"]
    if output is None:
        msg = "--all-regions writes one folder per region: give it with -o DIR."
        raise click.UsageError(msg)
    if params["region"] is not None:
        msg = (
            "--region and --all-regions exclude each other; to audit some regions "
            'only, list them in the config file (regions = ["06", "13"]).'
        )
        raise click.UsageError(msg)
    callback, close = _progress_reporter()
    try:
        result = audit_regions(
            output,
            config=config,
            data_dir=params["data_dir"],
            jobs=jobs,
            force=force,
            overwrite=params["overwrite"],
            progress=callback,
        )
    finally:
        close()
    click.echo(result.summary(lang=config.lang), nl=False)
    if result.failed:
        names = ", ".join(o.code for o in result.failed)
        msg = (
            f"{len(result.failed)} territory(ies) failed ({names}); the others are "
            f"in {str(output)!r}. Fix the cause shown above and run the same "
            f"command again: complete territories are skipped."
        )
        raise click.ClickException(msg)


def with_batch(cmd: click.Command) -> click.Command:
    """Return a copy of the ``audit`` command *cmd* extended with the batch options.

    Raises
    ------
    TypeError
        If *cmd* has no callback.
    """
    original = cmd.callback
    if original is None:  # pragma: no cover - click commands always have one
        msg = "with_batch needs a command with a callback"
        raise TypeError(msg)

    def callback(**params: Any) -> Any:
        ctx = click.get_current_context()
        all_regions = params.pop("all_regions")
        jobs = params.pop("jobs")
        force = params.pop("force")
        config_path = params.pop("config_path")
        if params.get("territory") is not None and (all_regions or config_path):
            msg = (
                "--territory audits one territory (the province or --region), "
                "not with --all-regions or --config."
            )
            raise click.UsageError(msg)
        if params.get("atlas_path") is not None and (all_regions or config_path):
            msg = (
                "--atlas audits one territory (the province or --region) in a saved "
                "atlas, not with --all-regions or --config: the batch builds its "
                "province atlas once itself."
            )
            raise click.UsageError(msg)
        if not all_regions:
            if jobs != 1 or force:
                msg = "--jobs and --force go with --all-regions."
                raise click.UsageError(msg)
            if config_path is None:
                return original(**params)
            config = config_from_cli(ctx, config_path, params)
            return _single_with_config(config, params)
        config = config_from_cli(ctx, config_path, params)
        return _batch(config, params, jobs=jobs, force=force)

    return click.Command(
        name=cmd.name,
        callback=callback,
        params=[*cmd.params, *_batch_params()],
        help=inspect.cleandoc(cmd.help or "") + BATCH_HELP,
        epilog=cmd.epilog,
        short_help=cmd.short_help,
        options_metavar=cmd.options_metavar,
        add_help_option=cmd.add_help_option,
        no_args_is_help=cmd.no_args_is_help,
        hidden=cmd.hidden,
        deprecated=cmd.deprecated,
        context_settings=cmd.context_settings,
    )


#: ``audit`` with ``--all-regions``, ``--jobs``, ``--force`` and ``--config``.
audit = with_batch(_audit)
