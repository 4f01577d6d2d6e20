"""The ``dataprep`` command. Each subcommand is a module of this package with ``register``.

A module ``dataprep/cli/<name>.py`` defines ``register(subparsers)`` which adds its parser
and sets ``func`` (taking the parsed args, returning an exit code). Adding a command is
adding a file. Command modules import what their command needs (pyarrow, polars, ray) inside
``func``: ``dataprep --help`` and ``dataprep <command> --help`` load none of it.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import pkgutil
import sys
import tempfile
import time
import traceback
from typing import Any, NoReturn

from dataprep import __version__


class _Parser(argparse.ArgumentParser):
    """Help and usage are this package's own text; an error quotes the user's words (a URI with
    credentials), so it is redacted. Subcommand parsers are of this class too (argparse's default)."""

    def error(self, message: str) -> NoReturn:
        from dataprep.core.storage import redact_secrets  # imports pyarrow: only when there is an error

        super().error(redact_secrets(message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dataprep", description="Turn raw text into LLM pretraining data.")
    parser.add_argument("--version", action="version", version=f"dataprep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


class _Redacting(io.TextIOBase):
    """A terminal stream that never shows a credential, whatever a message quotes (a URI)."""

    def __init__(self, stream: Any) -> None:
        from dataprep.core.storage import redact_secrets  # imports pyarrow: only once a command runs

        self.stream = stream
        self.redact = redact_secrets

    def write(self, text: str) -> int:
        self.stream.write(self.redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help, --version and errors print and exit here
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Redacting(sys.stdout), _Redacting(sys.stderr)
    try:
        return _run(args)
    finally:
        sys.stdout, sys.stderr = streams


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:  # a run stopped by SIGINT/SIGTERM says so itself, with its exit code
        print(str(exc) or "interrupted", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        # Errors a user can fix: say what is wrong without a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - no traceback reaches the user: it goes to a log file
        log = getattr(exc, "log_path", None) or _write_log(exc)
        print(f"error: {_one_line(exc)}\n  (full traceback in {log})", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    """The first line of the message; the type too, unless the engine already worded it."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if hasattr(exc, "log_path") else f"{type(exc).__name__}: {first}".rstrip(": ")


def _write_log(exc: BaseException) -> str:
    """The traceback of a failure outside any run directory, in a log file of its own."""
    from dataprep.core.storage import redact_secrets

    folder = os.path.join(tempfile.gettempdir(), "dataprep-logs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"error-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log")
    with open(path, "w") as f:
        f.write(redact_secrets("".join(traceback.format_exception(exc))))
    return path
