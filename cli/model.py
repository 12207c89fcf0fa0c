"""``leadroute model train`` and ``leadroute model evaluate``: the conversion model from the
command line. Wiring only; the work is in ``engine.scoring``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from cli.common import fail
from engine.errors import InputError
from engine.io import load_roster
from engine.roster import Roster

model_app = typer.Typer(
    help="Train and evaluate the conversion model, p(funded | lead, officer).",
    no_args_is_help=True,
)



HistoryOption = Annotated[Path, typer.Option(
    help="History CSV: one row per routed lead with officer_id, assigned_at, policy, "
         "policy_version, propensity, officer_open_leads, response_delay_s and the outcome "
         "stages (docs/scoring.md).")]
OfficersOption = Annotated[Path, typer.Option(help="Officer roster CSV.")]


@model_app.command()
def train(
    history: HistoryOption,
    officers: OfficersOption,
    out: Annotated[Path, typer.Option(help="Where to write the model (.skops); the model card "
                                           "goes beside it as .card.json.")],
    target: Annotated[str, typer.Option(help="Outcome to predict: contacted, application, "
                                             "funded or lost.")] = "funded",
    estimator: Annotated[str, typer.Option(help="auto (chosen on the holdout), hgb or "
                                                "logistic.")] = "auto",
    calibration: Annotated[str, typer.Option(help="auto (chosen on the holdout), isotonic or "
                                                  "sigmoid.")] = "auto",
    holdout: Annotated[float, typer.Option(help="Fraction of the latest rows held out to choose "
                                                "and report; 0 to skip.")] = 0.2,
    ipw: Annotated[bool, typer.Option(help="Weight rows by inverse logged propensity.")] = False,
    ipw_clip: Annotated[float, typer.Option(help="Largest inverse-propensity weight.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seed for fold splits.")] = 0,
    drop_unknown_officers: Annotated[bool, typer.Option(
        help="Skip history rows whose officer is not on the roster instead of failing.")
    ] = False,
) -> None:
    """Fit the model on a history and save it with its model card."""
    # imported here: scikit-learn and skops take seconds to import, and every other
    # command would pay for them
    from engine.scoring import load_history, model_card, save_model, train_model

    try:
        roster = Roster(load_roster(officers))
        hist = load_history(history, roster, target=target,
                            drop_unknown_officers=drop_unknown_officers)
        result = train_model(hist, estimator=estimator, calibration=calibration,
                             holdout_fraction=holdout, rng=np.random.default_rng(seed),
                             target=target, ipw=ipw, ipw_clip=ipw_clip)
    except (InputError, ValueError) as exc:
        fail(str(exc))
        return
    card = model_card(result, hist)
    written = save_model(result.model, out, card)
    model = result.model
    typer.echo(f"trained on {len(hist)} rows of {history.name} (target {target}, base rate "
               f"{model.base_rate_:.4f}): {model.estimator} + {model.calibration} calibration")
    if hist.excluded_columns:
        typer.echo("never used (protected characteristics): " + ", ".join(hist.excluded_columns))
    for cand in result.candidates:
        m = cand.metrics
        typer.echo(f"  holdout {cand.estimator:<8} {cand.calibration:<8} Brier {m.brier:.5f} "
                   f"AUC {m.auc:.4f} ECE {m.ece:.4f} slope {m.calibration_slope:.3f}")
    typer.echo(f"wrote {out} and {written.name}")


@model_app.command()
def evaluate(
    history: HistoryOption,
    officers: OfficersOption,
    model: Annotated[Path, typer.Option(help="Model file (.skops) from `model train`.")],
    report_dir: Annotated[Path | None, typer.Option(
        help="Folder for reliability.png and metrics.json (default: beside the model).")
    ] = None,
    drop_unknown_officers: Annotated[bool, typer.Option(
        help="Skip history rows whose officer is not on the roster instead of failing.")
    ] = False,
    trust_unverified: Annotated[bool, typer.Option(
        help="Load a model file whose card (and so its SHA-256) is missing.")] = False,
) -> None:
    """Score the logged pairs of a history; print AUC, Brier, Brier skill, ECE (15 bins) and
    calibration slope and intercept; write a reliability plot."""
    from engine.scoring import (
        ModelFileError,
        card_path,
        evaluate_model,
        load_card,
        load_history,
        load_model,
    )
    from engine.scoring.metrics import base_rate_drift
    from engine.scoring.report import write_report

    try:
        fitted = load_model(model, trust_unverified=trust_unverified)
        roster = Roster(load_roster(officers))
        hist = load_history(history, roster, target=fitted.target,
                            drop_unknown_officers=drop_unknown_officers)
    except (InputError, ModelFileError) as exc:
        fail(str(exc))
        return
    metrics, p = evaluate_model(fitted, hist)
    card = load_card(model) or {}
    trained_on = (card.get("training") or {}).get("data_sha256")
    in_sample = bool(trained_on) and trained_on == hist.sha256
    typer.echo(f"{model.name} on {history.name} (target {fitted.target}):")
    typer.echo(metrics.describe())
    if in_sample:
        typer.echo("note: this is the history the model was trained on; the figures are "
                   "in-sample and optimistic. The card's holdout figures are out-of-time.")
    drift = base_rate_drift(fitted.base_rate_, fitted.n_train_, metrics.base_rate, metrics.n)
    if drift is not None:
        typer.echo(f"warning: {drift}", err=True)
    directory = report_dir if report_dir is not None else model.parent
    png, js = write_report(directory, hist.y, p, metrics,
                           extra={"model": model.name, "history": history.name,
                                  "history_sha256": hist.sha256, "in_sample": in_sample,
                                  "card": card_path(model).name,
                                  "warnings": [] if drift is None else [drift]},
                           title=f"{model.name} on {history.name}")
    typer.echo(f"wrote {png} and {js}")
