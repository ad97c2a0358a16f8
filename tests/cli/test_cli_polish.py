"""The command line as a whole: help with examples, version, exit codes, completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli


def walk(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = [p for p in walk(cli) if p]


def command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_shows_an_example_of_itself(path: tuple[str, ...]) -> None:
    # The example may sit in the command's own help or in its group's help (and,
    # for a group, in the help of one of its commands).
    invocation = "geodecoupage " + " ".join(path)
    res = CliRunner().invoke(cli, [*path, "--help"])
    assert res.exit_code == 0
    helps = [res.output, CliRunner().invoke(cli, [*path[:-1], "--help"]).output]
    cmd = command(path)
    if isinstance(cmd, click.Group):
        helps += [
            CliRunner().invoke(cli, [*path, name, "--help"]).output
            for name in cmd.commands
        ]
    assert any(invocation in h for h in helps), invocation


def test_the_root_lists_every_command_of_the_issue() -> None:
    names = set(cli.commands)
    assert {"layers", "data", "audit", "propose", "map", "report", "version"} <= names


def test_version_command_and_option_agree() -> None:
    expected = version("geodecoupage")
    opt = CliRunner().invoke(cli, ["--version"])
    assert opt.exit_code == 0
    assert expected in opt.output
    text = CliRunner().invoke(cli, ["version"])
    assert text.exit_code == 0
    assert text.output.splitlines()[0] == f"geodecoupage {expected}"
    assert "GEOS" in text.output
    data = json.loads(CliRunner().invoke(cli, ["version", "--format", "json"]).output)
    assert data["geodecoupage"] == expected
    assert {"geopandas", "shapely", "pyproj"} <= set(data["dependencies"])


def test_unknown_command_and_option_are_usage_errors() -> None:
    assert CliRunner().invoke(cli, ["nope"]).exit_code == 2
    assert CliRunner().invoke(cli, ["version", "--nope"]).exit_code == 2


def test_shell_completion_script_and_candidates() -> None:
    # The documented recipe (docs/cli.md): _GEODECOUPAGE_COMPLETE=bash_source.
    script_path = Path(sys.executable).parent / "geodecoupage"
    if not script_path.is_file():
        pytest.skip("the geodecoupage console script is not installed")
    exe = [str(script_path)]
    env = {**os.environ, "_GEODECOUPAGE_COMPLETE": "bash_source"}
    script = subprocess.run(
        exe, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "_GEODECOUPAGE_COMPLETE=bash_complete" in script
    env = {
        **os.environ,
        "_GEODECOUPAGE_COMPLETE": "bash_complete",
        "COMP_WORDS": "geodecoupage ver",
        "COMP_CWORD": "1",
    }
    out = subprocess.run(
        exe, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "plain,version" in out.splitlines()


def test_layers_and_region_options_complete_in_the_shell() -> None:
    from click.shell_completion import ShellComplete

    comp = ShellComplete(cli, {}, "geodecoupage", "_GEODECOUPAGE_COMPLETE")
    layers = comp.get_completions(["audit", "--layers"], "mrc,r")
    assert [c.value for c in layers] == ["mrc,regions", "mrc,rss", "mrc,rls"]
    again = comp.get_completions(["audit", "--layers"], "mrc,")
    assert "mrc,mrc" not in [c.value for c in again]
    region = comp.get_completions(["report", "--region"], "0")
    assert [c.value for c in region] == [f"{i:02d}" for i in range(1, 10)]
