"""Every notebook's code cells run, in order, from the project root (no kernel needed)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    """A walkthrough that no longer runs is a broken document."""
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    cells = json.loads(path.read_text())["cells"]
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"{path.name} cell {number}", "exec"), namespace)


def test_notebooks_exist():
    """The walkthroughs are there to be run."""
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"
    assert os.path.isdir(ROOT / "notebooks")
