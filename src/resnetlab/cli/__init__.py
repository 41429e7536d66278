"""The `resnetlab` command: one thin subcommand per verb, each in its own module here.

A subcommand module exposes register(subparsers), which adds its parser and sets
func=run(args) -> exit code. The library never imports this package.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from resnetlab import __version__
from resnetlab.analysis.plots import MissingPlots
from resnetlab.cli import (
    analyze,
    bench,
    convert,
    data,
    demo,
    evaluate,
    export,
    models,
    predict,
    reproduce,
    train,
    weights,
)
from resnetlab.io import Notice, WriteError

# The subcommand modules, in the order `resnetlab --help` lists them.
COMMANDS = [demo, models, convert, data, train, evaluate, predict, export, reproduce, analyze,
            bench, weights]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnetlab",
        description="Deep residual networks (He et al. 2015): build, train, reproduce, ship.",
    )
    parser.add_argument("--version", action="version", version=f"resnetlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the raw command line, for commands that re-launch themselves
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _one_line(args.command, warnings.showwarning)
        return _run(args)


def _one_line(command: str, default):
    """resnetlab's own notices as one line on stderr, like its errors; other warnings as
    Python shows them."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, Notice):
            print(f"resnetlab {command}: warning: {message}", file=file or sys.stderr,
                  flush=True)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def _run(args) -> int:
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError,
            WriteError, MissingPlots) as e:
        if os.environ.get("RESNETLAB_DEBUG"):
            raise
        print(f"resnetlab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"resnetlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
