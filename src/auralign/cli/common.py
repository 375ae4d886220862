"""What every command shares: one console, one-line errors instead of tracebacks, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from auralign.errors import AuralignError

console = Console(stderr=True)  # progress, notices and errors
stdout = Console()  # results meant to be read or piped
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn an AuralignError (a user's mistake or a missing resource) into one red line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AuralignError as error:
            console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    """One JSON object on stdout (never mixed with progress output, which goes to stderr)."""
    sys.stdout.write(json.dumps(obj, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
