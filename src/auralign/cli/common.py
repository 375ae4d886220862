"""What every command shares: one console, one-line errors instead of tracebacks, JSON output, and
outputs that never destroy anything (refused when they exist unless `--force`, written atomically)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from auralign.errors import AuralignError

console = Console(stderr=True)  # progress, notices and errors
stdout = Console()  # results meant to be read or piped
F = TypeVar("F", bound=Callable[..., Any])
FORCE = typer.Option(False, "--force", help="Replace an existing output.")
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MMAP_THRESHOLD_BYTES = 1 << 20


def bound_heap_growth() -> None:
    """Serve allocations of 1 MiB or more from mmap, so that freed encoder batches go back to the system.

    glibc otherwise raises this threshold (up to 32 MiB) after the first big free; the batches then come
    from the heap, which small long-lived objects made between batches pin, and peak RSS grows with the
    audio's length (a 1-hour `classify`: 1.8 GB instead of 1.2 GB). Does nothing without glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def _positive_seconds(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be a positive number of seconds, got {value:g}")
    return value


MAX_SECONDS = typer.Option(
    None, "--max-seconds", callback=_positive_seconds,
    help="Fail files longer than this (decoded seconds; read from the header before decoding when the "
         "format declares a length). Default: no limit.")


def shown(value: object) -> str:
    """A path or label as printable rich text: markup escaped, undecodable name bytes as \\xNN."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return escape(text)


def os_error_line(error: OSError) -> str:
    """`cannot write out.npz: No space left on device` rather than a traceback."""
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error))
    return f"{shown(error.filename)}: {reason}" if error.filename is not None else shown(reason)


def user_errors(func: F) -> F:
    """Turn an AuralignError (a user's mistake or a missing resource) or an OSError (read-only or full
    disk, a name too long) into one red line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AuralignError as error:
            message = shown(error)
        except OSError as error:
            message = os_error_line(error)
        console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    """One strict JSON object on stdout (never mixed with progress output, which goes to stderr).

    NaN and infinities are refused (`allow_nan=False`): a non-finite result is a per-file failure
    upstream, so one reaching here is a bug, not something to print as invalid JSON."""
    sys.stdout.write(json.dumps(obj, default=_json_default, allow_nan=False) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def check_output(out: Path, inputs: Sequence[Path] = (), *, force: bool = False) -> None:
    """Refuse to write `out` over one of the `inputs` (even with --force), or over anything without --force."""
    target = _resolved(out)
    for item in inputs:
        if _resolved(item) == target:
            raise AuralignError(f"output {shown(out)} is also an input; choose another output")
    if not force and (out.exists() or out.is_symlink()):
        raise AuralignError(f"{shown(out)} already exists; use --force to replace it")


def check_output_folder(out: Path, *, force: bool = False) -> None:
    """Refuse a folder output that exists and is not empty, unless --force."""
    if out.exists() and not out.is_dir():
        raise AuralignError(f"{shown(out)} exists and is not a folder")
    if not force and out.is_dir() and any(out.iterdir()):
        raise AuralignError(f"{shown(out)} is not empty; use --force to replace it")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop: compare as given
        return path.absolute()


@contextlib.contextmanager
def atomic_file(out: Path) -> Iterator[Path]:
    """A temporary path beside `out`, renamed onto it only if the block succeeds (else removed), so a
    full disk or a kill never leaves a half-written output or destroys the previous one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp" + out.suffix, dir=out.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, out)
    except OSError as error:
        if error.filename is None:  # a write through a handle names no file: name the output
            error.filename = str(out)
        raise
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` that replaces it only once the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        _replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(new: Path, out: Path) -> None:
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)

