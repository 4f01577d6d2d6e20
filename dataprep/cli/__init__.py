"""The ``dataprep`` command. Each subcommand is a module of this package with ``register``.

A module ``dataprep/cli/<name>.py`` defines ``register(subparsers)`` which adds its parser
and sets ``func`` (taking the parsed args, returning an exit code). Adding a command is
adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from dataprep import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataprep", description="Turn raw text into LLM pretraining data.")
    parser.add_argument("--version", action="version", version=f"dataprep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        # Errors a user can fix: say what is wrong without a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
