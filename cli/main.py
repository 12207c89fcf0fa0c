"""The ``leadroute`` command line. It only wires the engine (and, later, the simulator, API and
lab) together; no routing logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.api import register as register_api
from cli.common import fail
from cli.model import model_app
from cli.route import route_file
from cli.scenario import scenario_app
from cli.simulate import register as register_simulation
from cli.up import register as register_up
from engine.errors import InputError
from engine.io import load_roster
from engine.roster import Roster
from engine.rules import PolicyError, load_policy, policy_json_schema
from engine.rules.coverage import PoolWarning, pool_warnings

app = typer.Typer(
    name="leadroute",
    help="Route mortgage leads to the loan officer best placed to fund them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Check policy files and export their JSON Schema.",
                         no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(model_app, name="model")
app.add_typer(scenario_app, name="scenario")
register_simulation(app)
register_api(app)
register_up(app)

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"



@app.command()
def route(
    leads: Annotated[Path, typer.Argument(help="Leads CSV (columns in the README).")],
    officers: Annotated[Path, typer.Option(help="Officer roster CSV.")],
    policy: Annotated[Path, typer.Option(help="Policy YAML.")] = DEFAULT_DATA / "policies"
    / "default.yaml",
    out: Annotated[Path, typer.Option(help="Where to write one row per lead.")] = Path(
        "routed.csv"),
    explain: Annotated[str, typer.Option(
        help="Explanation detail: 'full' lists every officer left out by id; 'summary' counts "
             "the officers not licensed in the lead's state instead of listing them.")] = "full",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    model: Annotated[Path | None, typer.Option(
        help="Conversion model (.skops) for scoring methods (greedy, dual_price, "
             "batch_optimal); overrides the policy's routing.params.model.")] = None,
) -> None:
    """Route a file of leads in received_at order, carrying the routing state from lead to lead.

    Writes lead_id, officer_id, status (assigned, offered, held, unassigned, rejected), reason,
    state, county_fips, is_jumbo and explanation (JSON). A rejected row's reason names the bad
    field; the other rows still route.
    """
    if explain not in ("full", "summary"):
        fail(f"--explain must be full or summary, got {explain!r}")
    try:
        summary = route_file(leads, officers, policy, out, detail=explain, progress=progress,
                             model_path=model)
    except (InputError, PolicyError) as exc:
        fail(str(exc))
    else:
        _warn_pools(policy, summary.warnings)
        typer.echo(summary.describe(out), err=True)


def _warn_pools(policy: Path, warnings: list[PoolWarning]) -> None:
    """Pools that name officers not on the roster, or select nobody, on stderr; the second
    kind in capitals, since every lead sent there misses the pool."""
    for w in warnings:
        head = "WARNING" if w.selects_nobody else "warning"
        typer.echo(f"{head}: {policy}: {w}", err=True)


@policy_app.command("check")
def policy_check(
    path: Annotated[Path, typer.Argument(help="Policy YAML to validate.")],
    officers: Annotated[Path | None, typer.Option(
        help="Officer roster CSV: also check that every pool's officer ids and teams are on "
             "it and that every pool selects someone (exit 1 when not).")] = None,
) -> None:
    """Load a policy file and report the first problem with its YAML path (exit 2); with
    --officers, warn about pools that name officers or teams not on the roster or select
    no officer (exit 1)."""
    try:
        pol = load_policy(path)
        roster = Roster(load_roster(officers)) if officers is not None else None
    except (PolicyError, InputError) as exc:
        fail(str(exc))
        return
    summary = (f"{path}: policy {pol.name!r} version {pol.version}: {len(pol.rules)} rules, "
               f"{len(pol.pools)} pools, method {pol.routing.method}")
    warnings = pool_warnings(pol, roster) if roster is not None else []
    _warn_pools(path, warnings)
    if warnings:
        typer.echo(f"{summary}: {len(warnings)} warning(s) on {officers}")
        raise typer.Exit(1)
    typer.echo(f"{summary}: OK" + (f" on {officers}" if officers is not None else ""))


@policy_app.command("schema")
def policy_schema(
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of policy files (point your editor's YAML plugin at it)."""
    text = json.dumps(policy_json_schema(), indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
        return
    try:
        out.write_text(text + "\n")
    except OSError as exc:
        fail(f"{out}: cannot be written: {exc.strerror}")


def main() -> None:  # pragma: no cover - console entry point
    app()
