"""``leadroute scenario fit``: a scenario fitted to a lender's own history, for what-ifs.
Wiring only; the work is in ``simulator.fit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import fail, out_dir
from engine.errors import InputError
from simulator.errors import ParamError, ScenarioError, UsageError

scenario_app = typer.Typer(
    help="Scenarios for leadroute simulate fitted to your own history.",
    no_args_is_help=True,
)



@scenario_app.command()
def fit(
    history: Annotated[Path, typer.Option(
        help="History CSV in the format the scoring model trains on (docs/scoring.md): "
             "history.csv of leadroute simulate (one replication and policy) or the API's "
             "GET /v1/history.csv.")],
    officers: Annotated[Path, typer.Option(help="Officer roster CSV (shifts, caps, "
                                                "licences come from it).")],
    out: Annotated[Path, typer.Option(help="Folder for scenario.yaml and the files it names "
                                           "(officers.csv, leads.csv, application_model.json)"
                                           " and arrivals.csv.")],
    leads: Annotated[Path | None, typer.Option(
        help="Every lead received over the history's window, worked or not, in the route "
             "command's input format (e.g. the CRM's lead export). Replayed, and read for "
             "the arrival rates, in place of the history's worked leads: a lead the logging "
             "policy never worked is load every candidate faces (docs/simulator.md).")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="IANA timezone of the arrival seasonality and the window (default: the "
             "roster's most common officer timezone).")] = None,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap fits of the application model: replication k of a run uses fit "
             "k mod B, so the intervals include the model's uncertainty.")] = 20,
    accept_within_s: Annotated[float | None, typer.Option(
        help="The SLA the history was logged under, seconds (default: the logging "
             "policy's, when --logging-policy names one whose rules share one; else read off "
             "the history's waits, which cannot show it where most leads were held before "
             "their first offer).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    name: Annotated[str, typer.Option(help="The scenario's name.")] = "fitted",
    logging_policy: Annotated[str | None, typer.Option(
        help="The routing policy that logged the history (a built-in name or a policy "
             "file). Given, the tied-up share is calibrated by simulating it in the fitted "
             "world until its history reads the real history's time-outs (docs/simulator.md;"
             " one simulation a step); not given, the share is read off the waits alone, "
             "which runs low where timed-out leads end held.")] = None,
    exploration: Annotated[float, typer.Option(
        help="With --logging-policy: the share of leads it routed at random.")] = 0.0,
) -> None:
    """Fit a scenario to a history: arrivals, response times, the contact decay, the
    application and funding stages; writes OUT/scenario.yaml for leadroute simulate."""
    from simulator.fit import FitOptions, fit_scenario, policy_sla, write_scenario

    out_dir(out)
    if not 0.0 <= exploration <= 1.0:
        fail(f"--exploration {exploration:g}: expected a share between 0 and 1")
    if logging_policy is not None:
        from simulator.policies import resolve_policies

        try:  # before the fit: a wrong name should not wait for it
            logged = resolve_policies([logging_policy])[0].policy
        except (UsageError, ParamError, ScenarioError) as exc:
            fail(f"--logging-policy: {exc}")
            return
        if accept_within_s is None:  # the logging policy's own SLA, when its rules share one
            accept_within_s = policy_sla(logged)
    try:
        options = FitOptions(timezone=timezone, bootstrap=bootstrap,
                             accept_within_s=accept_within_s, seed=seed)
    except ValueError as exc:
        fail(str(exc))
        return
    try:
        fitted = fit_scenario(history, officers, options, received_path=leads)
        path = write_scenario(fitted, out, name=name)
        calibrated = ""
        if logging_policy is not None:
            fitted, steps = _calibrated(fitted, path, logging_policy, exploration, seed)
            path = write_scenario(fitted, out, name=name)
            calibrated = f" (calibrated by {steps} simulations of {logging_policy})"
    except (InputError, ParamError, ScenarioError) as exc:
        fail(str(exc))
        return
    r = fitted.response
    give = "--accept-within-s" if logging_policy is not None else \
        "--accept-within-s or --logging-policy"  # a logging policy whose rules differ
    sla = f"{r.accept_within_s:g} s" if r.accept_within_s else \
        f"not seen (give {give}: without it offers are not taken to time out and no " \
        "tied-up share is fitted)"
    typer.echo(
        f"fitted {fitted.rows} worked leads ({fitted.contacted} contacted, "
        f"{fitted.applications} applications, {fitted.funded} funded), {fitted.days} days "
        f"from {fitted.start.isoformat()} ({fitted.timezone}); replays "
        f"{len({lead.lead_id for lead in fitted.leads})} leads received"
        + ("" if leads is not None else " (the history's worked leads: give --leads for "
           "every lead received, worked or not)") + "\n"
        f"  response: median officer {float(sorted(r.median_s)[len(r.median_s) // 2]):.0f} s, "
        f"spread {r.within_sigma:.2f}, load slope {r.load_slope:g}; SLA {sla}, time-outs "
        f"{r.timeout_share:.1%}, tied-up share {r.busy_probability:.1%}{calibrated}\n"
        f"  contact within 5 min by source: " + ", ".join(
            f"{k} {v:.2f}" for k, v in fitted.contact.contact_rate_by_source.items()) + "\n"
        f"  application model: {fitted.application.members} bootstrap fits on "
        f"{fitted.application.rows} contacted leads (C {fitted.application.c:g})\n"
        + (f"  of them, where a policy that routes differently is forecast from few rows: "
           f"{fitted.coverage.text()}\n" if fitted.coverage is not None else "")
        + f"wrote {path}; run: leadroute simulate --scenario {path} --policy ...")


def _calibrated(fitted: Any, path: Path, logging: str, exploration: float, seed: int
                ) -> tuple[Any, int]:
    """``fitted`` with its tied-up share calibrated by simulating ``logging`` in the scenario
    written at ``path`` (``simulator.fit.calibrate_tied_up``), and the simulations run."""
    from dataclasses import replace

    from simulator.fit import calibrate_tied_up
    from simulator.scenario import load_scenario

    calibration = calibrate_tied_up(fitted, load_scenario(path), logging=logging,
                                    exploration=exploration, seed=seed)
    response = replace(fitted.response, busy_probability=calibration.busy_probability)
    return replace(fitted, response=response), len(calibration.steps)
