"""``leadroute simulate`` and ``leadroute sweep``: mount with ``register(app)``.

Only wiring: the work is in ``simulator`` (scenario loading, runs, outputs, sweeps).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import fail, out_dir
from engine.errors import InputError
from engine.io import spreadsheet_safe
from engine.rules import PolicyError
from simulator.errors import ParamError, ScenarioError, UsageError
from simulator.params import Scenario
from simulator.policies import BUILTINS, resolve_policies

# what bad input raises (anything else is a bug and keeps its traceback)
_ERRORS = (ScenarioError, PolicyError, InputError, ParamError, UsageError)



def _replay_check(sc: Scenario, out: Path) -> None:
    """A replayed leads file: say how many rows are left out (listed in
    OUT/dropped_rows.txt) and refuse a window that holds none."""
    from simulator.params import ReplayStreamParams
    from simulator.streams import replay_stream

    if not isinstance(sc.stream, ReplayStreamParams):
        return
    try:
        stream = replay_stream(sc.stream, start=sc.start, days=sc.days)
    except _ERRORS as exc:
        fail(str(exc))
        return
    listed = out / "dropped_rows.txt"
    if stream.dropped:
        try:
            listed.write_text("\n".join(str(spreadsheet_safe(line)) for line in stream.dropped)
                              + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"--out {out}: cannot be written: {exc.strerror or exc}")
        typer.echo(f"warning: {len(stream.dropped)} row(s) of {sc.stream.path} left out of the "
                   f"replay, listed in {listed}; the first:", err=True)
        for line in stream.dropped[:5]:
            typer.echo(f"  {line}", err=True)
    elif listed.exists():
        listed.unlink()  # from an earlier run: nothing is left out of this one
    if not len(stream):
        fail(f"{sc.source}: stream.path: {sc.stream.path} has no valid lead from {sc.start} "
              f"for {sc.days:g} days ({len(stream.dropped)} rows left out)")


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True),
                    disable=not enabled or not sys.stderr.isatty(), transient=True)


def simulate(
    scenario: Annotated[Path, typer.Option(help="Scenario YAML (docs/simulator.md).")],
    policy: Annotated[list[str], typer.Option(
        help="A built-in name (" + ", ".join(BUILTINS) + ") or a policy YAML; repeat for "
             "several. The first is the baseline of the report's paired differences.")],
    replications: Annotated[int, typer.Option(min=1, help="Replications (spawned seeds).")] = 5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the replications.")] = 0,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/simulation"),
    events: Annotated[bool, typer.Option(help="Write events.parquet.")] = True,
    history: Annotated[bool, typer.Option(help="Write history.csv.")] = True,
    report: Annotated[bool, typer.Option(help="Write report.html.")] = True,
    bound: Annotated[bool, typer.Option(help="Solve the hindsight bound.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Cores to simulate on (default: every core this process may use). A run "
                    "that goes on for 3 s spreads its replications' bounds and policy runs "
                    "over them; the files written are the same either way.")] = None,
) -> None:
    """Simulate policies on a scenario with common random numbers; writes summary.csv,
    comparison.csv (paired differences, 95% t-intervals), events.parquet, history.csv and
    report.html to OUT. The same seed writes identical data files."""
    from simulator.metrics import verdict
    from simulator.model import RunOptions
    from simulator.outputs import write_outputs
    from simulator.parallel import WorkerFailed, cpu_count
    from simulator.runner import check_policies, check_scenario, run_experiment
    from simulator.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
        world = check_scenario(sc)
        policies = resolve_policies(policy)
        check_policies(sc, policies)
    except _ERRORS as exc:
        fail(str(exc))
        return
    out_dir(out)
    _replay_check(sc, out)
    steps = replications * (len(policies) + 1)
    with _progress(progress) as bar:
        task = bar.add_task(f"simulating {sc.name}", total=steps)
        try:
            exp = run_experiment(sc, policies, replications=replications, seed=seed,
                                 options=RunOptions(record_events=events), with_bound=bound,
                                 progress=lambda _: bar.advance(task), world=world,
                                 workers=workers or cpu_count())
        except (*_ERRORS, WorkerFailed) as exc:
            fail(str(exc))
            return
        bar.update(task, description="writing files")
        try:
            written = write_outputs(exp, out, events=events, history=history, report=report)
        except OSError as exc:
            fail(f"--out {out}: cannot be written: {exc.strerror or exc}")
            return
    summary = exp.summary
    console = Console(stderr=True)
    found = verdict(summary)
    console.print(f"[bold]Verdict[/bold]: {escape(found.text)}", highlight=False)
    console.print(escape(found.read_me), style="dim", highlight=False)
    means = summary.drop(columns=["replication"]).groupby("policy", sort=False).mean()
    table = Table(title=f"{sc.name}: {replications} replication(s), seed {seed} "
                        "(means per replication)")
    for column in ("policy", "expected", "realized", "ratio to bound",
                   "p90 min to contact", "SLA breaches"):
        table.add_column(column, justify="left" if column == "policy" else "right",
                         overflow="fold")  # a long policy label wraps, never cut
    for label, row in means.iterrows():
        ratio = row["ratio_to_bound"]  # NaN without a bound (--no-bound)
        table.add_row(escape(str(label)), f"{row['expected_conversions']:.1f}",
                      f"{row['conversions']:.1f}", f"{ratio:.3f}" if ratio == ratio else "-",
                      f"{row['p90_minutes_to_first_contact']:.1f}", f"{row['sla_breaches']:.0f}")
    console.print(table)
    typer.echo("wrote " + ", ".join(str(p) for p in written), err=True)


def sweep(
    grid: Annotated[Path, typer.Option(help="Grid YAML: scenarios, policies, params, "
                                            "replications, seed (docs/simulator.md).")],
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/sweep"),
    scheduler: Annotated[str | None, typer.Option(
        help="Address of an existing Dask scheduler (tcp://host:8786); by default a local "
             "cluster of --workers processes.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 2,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run policy parameters x scenarios x seeds in parallel on Dask; writes sweep.csv (one
    row per scenario, variant and replication) and sweep_means.csv (means, 95% intervals)."""
    from simulator.outputs import spreadsheet_frame
    from simulator.sweep import load_grid, run_sweep, sweep_means

    try:
        g = load_grid(grid)
    except _ERRORS as exc:
        fail(str(exc))
        return
    out_dir(out)
    with _progress(progress) as bar:
        task = bar.add_task("sweeping", total=len(g.tasks()))
        try:
            frame = run_sweep(g, scheduler=scheduler, workers=workers,
                              progress=lambda done, total: bar.update(task, completed=done))
        except _ERRORS as exc:
            fail(str(exc))
            return
    try:
        spreadsheet_frame(frame).to_csv(out / "sweep.csv", index=False)
        spreadsheet_frame(sweep_means(frame)).to_csv(out / "sweep_means.csv", index=False)
    except OSError as exc:
        fail(f"--out {out}: cannot be written: {exc.strerror or exc}")
    typer.echo(f"wrote {out / 'sweep.csv'} ({len(frame)} rows) and {out / 'sweep_means.csv'}",
               err=True)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``sweep`` commands to the ``leadroute`` app."""
    app.command("simulate")(simulate)
    app.command("sweep")(sweep)
