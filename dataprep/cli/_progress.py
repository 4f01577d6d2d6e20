"""The progress options every command that runs work shares (``--quiet``, ``--log-format``)."""

from __future__ import annotations

import argparse


def add_progress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--log-format",
        choices=["auto", "rich", "plain", "json"],
        default="auto",
        help="progress as live bars (rich), lines (plain) or JSON lines on stderr; auto: bars on a terminal",
    )


def progress_style(args: argparse.Namespace) -> bool | str:
    """The ``verbose`` the API takes: False when quiet, else the chosen style."""
    return False if args.quiet else args.log_format
