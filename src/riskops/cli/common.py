"""Shared CLI helpers: settings from options, and errors as a message plus an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from riskops.config import Settings
from riskops.errors import RiskopsError

err_console = Console(stderr=True)

EXIT_INPUT = 2  # bad input: a message names the field and the reason
EXIT_UNAVAILABLE = 3  # a dependency (database, Redis) cannot be reached


def settings_from(**overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


@contextmanager
def fail_on_error() -> Iterator[None]:
    try:
        yield
    except RiskopsError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
        for p in exc.problems:
            err_console.print(f"  [red]{escape(p.field)}[/]: {escape(p.reason)}")
        raise typer.Exit(EXIT_UNAVAILABLE if exc.status == 503 else EXIT_INPUT) from None


def read_text_file(path: Path) -> str:
    """A UTF-8 text file, or a message naming it and the reason and exit code 2."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err_console.print(f"[bold red]error:[/] {path}: cannot read: {exc}")
        raise typer.Exit(EXIT_INPUT) from None
