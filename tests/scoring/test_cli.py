"""``leadroute model train`` and ``model evaluate`` end to end on a small synthetic history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.model import model_app
from engine.scoring.persistence import load_model
from engine.scoring.synthetic import SyntheticHistory

app = typer.Typer()
app.add_typer(model_app, name="model")
runner = CliRunner()


@pytest.fixture(scope="module")
def files(small_world: SyntheticHistory, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, Path, Path]:
    """(officers, training history, later history) CSVs."""
    folder = tmp_path_factory.mktemp("cli")
    early, late = small_world.split(0.7)
    officers, history = early.write(folder, "train")
    _, later = late.write(folder, "later")
    return officers, history, later


def test_cli_train_then_evaluate_writes_model_card_and_report(
        files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """train writes the .skops model and its card; evaluate prints every figure and writes the
    reliability PNG and metrics JSON."""
    officers, history, later = files
    model = tmp_path / "model.skops"
    result = runner.invoke(app, ["model", "train", "--history", str(history), "--officers",
                                 str(officers), "--out", str(model), "--estimator", "logistic"])
    assert result.exit_code == 0, result.output
    assert "never used (protected characteristics): applicant_race, age, gender" in result.output
    assert model.exists() and (tmp_path / "model.card.json").exists()
    card = json.loads((tmp_path / "model.card.json").read_text())
    assert card["estimator"] == "logistic" and card["calibration"] in ("isotonic", "sigmoid")
    assert len(card["selection"]["candidates"]) == 2
    assert load_model(model).target == "funded"

    report = tmp_path / "report"
    result = runner.invoke(app, ["model", "evaluate", "--history", str(later), "--officers",
                                 str(officers), "--model", str(model), "--report-dir",
                                 str(report)])
    assert result.exit_code == 0, result.output
    for label in ("AUC", "Brier score", "Brier skill score", "ECE (15 bins)",
                  "calibration slope", "calibration intercept"):
        assert label in result.output
    assert "in-sample" not in result.output
    assert (report / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures = json.loads((report / "metrics.json").read_text())
    assert 0.5 < figures["metrics"]["auc"] < 1 and len(figures["reliability"]["count"]) == 15


def test_cli_evaluate_warns_when_scoring_the_training_history(
        files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Evaluating on the file the model was trained on says the figures are in-sample."""
    officers, history, _ = files
    model = tmp_path / "model.skops"
    runner.invoke(app, ["model", "train", "--history", str(history), "--officers", str(officers),
                        "--out", str(model), "--estimator", "logistic", "--calibration",
                        "sigmoid", "--holdout", "0"])
    result = runner.invoke(app, ["model", "evaluate", "--history", str(history), "--officers",
                                 str(officers), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "in-sample" in result.output
    assert (tmp_path / "reliability.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--estimator", "forest"], "estimator must be auto or one of hgb, logistic"),
        (["--target", "revenue"], "expected one of contacted"),
        (["--holdout", "0"], "needs a holdout"),
    ],
)
def test_cli_train_reports_bad_options(files: tuple[Path, Path, Path], tmp_path: Path,
                                       args: list[str], message: str) -> None:
    """Bad options exit with status 2 and a message naming the problem."""
    officers, history, _ = files
    result = runner.invoke(app, ["model", "train", "--history", str(history), "--officers",
                                 str(officers), "--out", str(tmp_path / "m.skops"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_train_reports_bad_history_rows(files: tuple[Path, Path, Path],
                                            tmp_path: Path) -> None:
    """A bad history cell fails with file, row and column in the message."""
    officers, history, _ = files
    lines = history.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("propensity")] = "7"
    lines[3] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["model", "train", "--history", str(bad), "--officers",
                                 str(officers), "--out", str(tmp_path / "m.skops")])
    assert result.exit_code == 2
    assert "bad.csv row 4: propensity='7'" in result.output


def test_cli_evaluate_refuses_a_tampered_model(files: tuple[Path, Path, Path],
                                               tmp_path: Path) -> None:
    """evaluate exits with status 2 for a file without its card, and for one that is not a
    skops file even when told to trust it."""
    officers, history, _ = files
    model = tmp_path / "model.skops"
    model.write_bytes(b"PK not really")
    args = ["model", "evaluate", "--history", str(history), "--officers", str(officers),
            "--model", str(model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "model.card.json is missing" in result.output
    result = runner.invoke(app, [*args, "--trust-unverified"])
    assert result.exit_code == 2
    assert "is not a skops file" in result.output


def test_cli_train_names_file_and_column_when_positives_are_too_few(
        files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """A history with 4 funded rows exits 2 naming the file and the funded column."""
    import csv

    officers, history, _ = files
    with history.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept = [r for r in rows if r["funded"] == "1"][:4] + [r for r in rows
                                                         if r["funded"] == "0"][:400]
    few = tmp_path / "few.csv"
    with few.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    result = runner.invoke(app, ["model", "train", "--history", str(few), "--officers",
                                 str(officers), "--out", str(tmp_path / "m.skops"),
                                 "--estimator", "logistic", "--calibration", "sigmoid",
                                 "--holdout", "0"])
    assert result.exit_code == 2
    assert "few.csv" in result.output and "funded=" in result.output
    assert "n_splits" not in result.output


def test_cli_evaluate_refuses_a_model_without_its_card(files: tuple[Path, Path, Path],
                                                       tmp_path: Path) -> None:
    """Evaluating a model whose card is gone fails (exit 2) unless --trust-unverified."""
    officers, history, later = files
    model = tmp_path / "m.skops"
    runner.invoke(app, ["model", "train", "--history", str(history), "--officers", str(officers),
                        "--out", str(model), "--estimator", "logistic", "--calibration",
                        "sigmoid"])
    (tmp_path / "m.card.json").unlink()
    args = ["model", "evaluate", "--history", str(later), "--officers", str(officers),
            "--model", str(model), "--report-dir", str(tmp_path / "r")]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--trust-unverified" in refused.output
    assert runner.invoke(app, [*args, "--trust-unverified"]).exit_code == 0
