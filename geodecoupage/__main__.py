"""``python -m geodecoupage``: the command line."""

from geodecoupage.cli.main import cli

if __name__ == "__main__":
    cli()
