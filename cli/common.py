"""What every command shares: failing with one line and exit status 2, and an output
folder checked before any work is done."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NoReturn

import typer


def fail(message: str) -> NoReturn:
    """``error: MESSAGE`` on stderr, exit status 2 (bad input or settings)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def out_dir(out: Path) -> None:
    """Create ``--out`` and check it takes files, before any work is done."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file; give a folder for the outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        fail(f"--out {out}: cannot be written: {exc.strerror or exc}")
