"""What the lab's pages call that is not drawing: scenarios with an analyst's changes, what-if
runs reduced to tables and figures, readable checks of uploaded files, and a decision laid out
officer by officer. The work itself is in ``engine/`` and ``simulator/``; this module only
turns their results into what a page shows (no Streamlit here, so tests call it directly).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import InputError, Problem, redact
from engine.roster import Roster
from engine.rules import Policy, PolicyError, parse_policy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SCENARIOS = DATA / "scenarios"
DEFAULT_POLICY = DATA / "policies" / "default.yaml"

# Summary columns (simulator.metrics.SUMMARY_COLUMNS) in plain words, with what each means.
KPI_COLUMNS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("expected_conversions",), "Funded (expected)",
     "sum over leads of the true chance each funds, given who worked it and how fast"),
    (("ratio_to_bound",), "Of the hindsight best",
     "expected funded loans / the best any assignment could do knowing every draw"),
    (("median_minutes_to_first_contact",), "Median min to call",
     "from the lead's arrival to the officer's first contact attempt, worked leads"),
    (("p90_minutes_to_first_contact",), "9 in 10 called (min)",
     "nine leads in ten worked were called within this many minutes"),
    (("sla_breaches",), "Late offers",
     "offers that ran past their accept-by time (each re-route counts)"),
    (("never_worked",), "Never worked",
     "leads no officer accepted and called by the end of the run"),
)
FUNNEL_COLUMNS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("leads",), "arrived"),
    (("worked",), "worked by an officer"),
    (("reached_and_qualified",), "reached and qualified"),
    (("applications",), "applied"),
    (("conversions",), "funded"),
)


def column(frame: pd.DataFrame, names: Sequence[str]) -> str:
    """The first of ``names`` that ``frame`` has (a column known by an old and a new name)."""
    for name in names:
        if name in frame.columns:
            return name
    raise KeyError(f"none of the columns {', '.join(names)} in the summary")


# ------------------------------------------------------------------------------ scenarios


def shipped_scenarios() -> dict[str, Path]:
    """The scenarios in data/scenarios by name (file stem)."""
    return {p.stem: p for p in sorted(SCENARIOS.glob("*.yaml"))}


def shipped_policies() -> dict[str, str]:
    """The simulator's built-in policies (name -> YAML text)."""
    from simulator.policies import BUILTINS

    return {name: Path(spec.path).read_text(encoding="utf-8") for name, spec in BUILTINS.items()}


@dataclass(frozen=True)
class Changes:
    """An analyst's changes to a scenario: fewer days, a volume surge, an edited roster (CSV
    text in the roster format). None and 1.0 leave the scenario as it is."""

    days: float | None = None
    volume_multiplier: float = 1.0
    roster_csv: str | None = None


def roster_csv_text(scenario: Any) -> str:
    """The scenario's roster file as text (what the officers panel edits)."""
    return Path(scenario.roster_path).read_text(encoding="utf-8")


def parse_roster_text(text: str, source: str) -> list[Any]:
    """Officers from roster CSV text; InputError names row and column as for a file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source
        path.write_text(text, encoding="utf-8")
        from engine.io import load_roster

        return load_roster(path)


def with_changes(scenario: Any, changes: Changes) -> Any:
    """``scenario`` with the analyst's changes applied (ParamError / InputError when one makes
    no sense: a surge of zero, an edited roster with a bad row)."""
    from simulator.errors import ParamError
    from simulator.params import SyntheticStreamParams

    out = scenario
    if changes.days is not None:
        out = replace(out, days=float(changes.days))
    if changes.volume_multiplier != 1.0:
        if not isinstance(out.stream, SyntheticStreamParams):
            raise ParamError("stream.volume_multiplier",
                             "a replayed file has the volume it has; surge a synthetic stream")
        if not np.isfinite(changes.volume_multiplier) or changes.volume_multiplier <= 0:
            raise ParamError("stream.volume_multiplier",
                             f"must be a positive number, got {changes.volume_multiplier}")
        out = replace(out, stream=replace(
            out.stream,
            volume_multiplier=out.stream.volume_multiplier * changes.volume_multiplier))
    if changes.roster_csv is not None:
        officers = parse_roster_text(changes.roster_csv, "edited roster")
        out = replace(out, officers=tuple(officers))
    return out


# ------------------------------------------------------------------------------ what-if


@dataclass(frozen=True)
class WhatIf:
    """A what-if run as a page shows it (plain data: it is cached and pickled)."""

    scenario: str
    policies: tuple[str, ...]
    replications: int
    seed: int
    leads_per_replication: float
    summary: pd.DataFrame
    comparison: pd.DataFrame
    kpis: pd.DataFrame  # one row per policy, plain-word columns
    funnel: pd.DataFrame  # policy, stage, leads
    figures: dict[str, str]  # title -> plotly JSON
    verdict: str  # one sentence: which policy is best, by how much, with its interval
    verdict_detail: str  # whether to trust it, in plain words
    verdict_note: str  # which figure to read and why
    verdict_trusted: bool  # enough replications and an interval above zero


def named_policies(policies: Sequence[tuple[str, str]]) -> list[Any]:
    """(label, YAML text) pairs as the simulator's NamedPolicy; PolicyError names the label."""
    from simulator.policies import NamedPolicy

    return [NamedPolicy(label, parse_policy(text, label), label) for label, text in policies]


def run_whatif(scenario: Any, policies: Sequence[tuple[str, str]], *, replications: int,
               seed: int, progress: Callable[[float, str], None] | None = None) -> WhatIf:
    """Every policy on ``scenario`` with common random numbers; ``progress(fraction, step)``
    after each policy run of each replication."""
    from simulator.model import RunOptions
    from simulator.parallel import cpu_count
    from simulator.report import figures
    from simulator.runner import check_policies, check_scenario, run_experiment

    named = named_policies(policies)
    if not named:
        raise ValueError("choose at least one policy")
    world = check_scenario(scenario)
    check_policies(scenario, named)
    total = replications * (len(named) + 1)
    done = [0]

    def step(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(min(done[0] / total, 1.0), label)

    exp = run_experiment(scenario, named, replications=replications, seed=seed,
                         options=RunOptions(record_events=False), progress=step, world=world,
                         workers=cpu_count())
    summary = exp.summary
    comparison = exp.comparison
    return WhatIf(
        scenario=scenario.name, policies=tuple(p.label for p in named),
        replications=replications, seed=seed,
        leads_per_replication=float(summary["leads"].mean()), summary=summary,
        comparison=comparison, kpis=kpi_table(summary), funnel=funnel_table(summary),
        figures={title: fig.to_json() for title, fig in figures(exp).items()},
        **_verdict_fields(summary))


def _verdict_fields(summary: pd.DataFrame) -> dict[str, Any]:
    found = verdict_of(summary)
    return {"verdict": found.headline,
            "verdict_detail": found.text.removeprefix(found.headline).strip(),
            "verdict_note": found.read_me,
            "verdict_trusted": bool(found.trusted and found.separated)}


def kpi_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean over replications of each KPI, one row per policy, plain-word columns."""
    means = summary.drop(columns=["replication"]).groupby("policy", sort=False).mean(
        numeric_only=True)
    out = pd.DataFrame(index=means.index)
    for names, title, _ in KPI_COLUMNS:
        out[title] = means[column(summary, names)]
    return out


def funnel_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Leads at each stage per replication (mean), per policy: policy, stage, leads."""
    means = summary.groupby("policy", sort=False).mean(numeric_only=True)
    rows = [{"policy": policy, "stage": stage, "leads": float(means.loc[policy,
                                                                        column(summary, names)])}
            for policy in means.index for names, stage in FUNNEL_COLUMNS]
    return pd.DataFrame(rows, columns=["policy", "stage", "leads"])


def verdict_of(summary: pd.DataFrame) -> Any:
    """The simulator's verdict on a run (``simulator.metrics.verdict``): the best policy by
    expected conversions, by how much, its interval and whether to trust it."""
    from simulator.metrics import verdict

    return verdict(summary)


# ------------------------------------------------------------------------------ checking files


def problems_frame(exc: InputError | PolicyError | Exception) -> pd.DataFrame:
    """An error as a table a person can read: where, field, value, problem."""
    if isinstance(exc, InputError):
        return pd.DataFrame([{"where": redact(p.where), "field": redact(p.field),
                              "value": p.shown_value, "problem": redact(p.message)}
                             for p in exc.problems],
                            columns=["where", "field", "value", "problem"])
    if isinstance(exc, PolicyError):
        return pd.DataFrame([{"where": exc.source, "field": exc.path, "value": "",
                              "problem": exc.message}],
                            columns=["where", "field", "value", "problem"])
    field = getattr(exc, "field", "")
    return pd.DataFrame([{"where": getattr(exc, "source", ""), "field": field, "value": "",
                          "problem": getattr(exc, "message", str(exc))}],
                        columns=["where", "field", "value", "problem"])


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem("file", name, f"is not UTF-8 text (byte {exc.start})",
                                 name)) from None


def check_roster(data: bytes, name: str) -> list[Any]:
    """An uploaded roster's officers; InputError with every bad row and column."""
    return parse_roster_text(_decode(data, name), Path(name).name or "roster.csv")


@dataclass(frozen=True)
class CheckedLeads:
    leads: list[Any]
    problems: list[Problem]
    rows: int


def check_leads(data: bytes, name: str) -> CheckedLeads:
    """An uploaded leads file parsed row by row: the good leads and every bad row's problems
    (row numbers as in the file)."""
    from engine.io import read_leads
    from engine.leads import LeadParser

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "leads.csv")
        path.write_bytes(data)
        leads: list[Any] = []
        problems: list[Problem] = []
        count = 0
        for row in read_leads(path, LeadParser.default()):
            count += 1
            if row.lead is not None:
                leads.append(row.lead)
            elif row.error is not None:
                problems.extend(row.error.problems)
    return CheckedLeads(leads, problems, count)


def check_history(data: bytes, name: str, officers: Sequence[Any]) -> Any:
    """An uploaded history against a roster (engine.scoring.history.load_history)."""
    from engine.scoring.history import load_history

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "history.csv")
        path.write_bytes(data)
        return load_history(path, Roster(list(officers)))


# ------------------------------------------------------------------------------ policies


def check_policy(text: str, source: str = "draft") -> Policy:
    """A policy from YAML text; PolicyError with the YAML path."""
    return parse_policy(text, source)


def policy_diff(active: str, draft: str, active_name: str = "active",
                draft_name: str = "draft") -> str:
    """A unified diff of two policy texts ('' when they are the same)."""
    import difflib

    return "".join(difflib.unified_diff(active.splitlines(keepends=True),
                                        draft.splitlines(keepends=True),
                                        fromfile=active_name, tofile=draft_name))


# ------------------------------------------------------------------------------ decisions


def lay_out_decision(decision: Any) -> pd.DataFrame:
    """Every officer each step of a decision considered, scored or left out, and why: one row
    per (step, officer in the step's pool), candidates in rank order first; officers outside
    a pool are counted in ``step_summary``."""
    rows: list[dict[str, Any]] = []
    explanation = decision.explanation.to_dict(detail="full")
    for k, step in enumerate(explanation["steps"]):
        pool = step.get("pool", f"step {k + 1}")
        scores = step.get("scores") or []
        for rank, officer in enumerate(step["candidates"]):
            chosen = (decision.officer_id == officer) or (
                decision.offer is not None and officer in decision.offer.officer_ids)
            rows.append({"step": k + 1, "pool": pool, "officer_id": officer,
                         "outcome": "chosen" if chosen else "candidate",
                         "rank": rank + 1,
                         "score": scores[rank] if rank < len(scores) else None,
                         "why": "eligible" + (" and chosen" if chosen else "")})
        for reason, officers in step["excluded"].items():
            for officer in officers:
                rows.append({"step": k + 1, "pool": pool, "officer_id": officer,
                             "outcome": "left out", "rank": None, "score": None,
                             "why": reason.replace("_", " ")})
    return pd.DataFrame(rows, columns=["step", "pool", "officer_id", "outcome", "rank", "score",
                                       "why"])


def decide_lead(lead: Any, officers: Sequence[Any], policy: Policy) -> Any:
    """The engine's decision for ``lead`` at its arrival from an empty routing state."""
    from engine.decide import decide
    from engine.state import RoutingState

    roster = Roster(list(officers))
    state = RoutingState.empty(roster.ids_tuple)
    return decide(lead, roster, policy, state, lead.received_at)


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class ModelCheck:
    """A conversion model trained on a simulated history and checked against the world's
    truth. ``holdout``: metrics on the latest rows (out of time); ``reliability``: bin, mean
    predicted, observed rate, rows; ``effects``: predicted against observed by lead attribute
    on the holdout; ``skill``: each officer's fitted mean p(funded) over the same leads
    against the hidden skill; ``ope``: off-policy estimates against the simulated truths."""

    rows: int
    estimator: str
    calibration: str
    holdout: dict[str, float]
    reliability: pd.DataFrame
    effects: pd.DataFrame
    skill: pd.DataFrame
    skill_rank_correlation: float
    ope: pd.DataFrame


def check_model(scenario: Any, policy_text: str, *, seed: int = 0,
                ope_candidate: str | None = None, exploration: float = 0.5,
                progress: Callable[[float, str], None] | None = None) -> ModelCheck:
    """Simulate a history of ``scenario`` under the policy, train the conversion model on it
    (engine.scoring.train_model, latest 20% held out), and check it against the world; with
    ``ope_candidate`` (a policy's YAML), also estimate that policy off-policy from a logging run
    (simulator.ope.evaluate) and set the estimates beside the simulated truths."""
    from scipy import stats

    from engine.scoring.history import load_history
    from engine.scoring.metrics import reliability_table
    from engine.scoring.training import train_model
    from simulator.outputs import history_frame
    from simulator.runner import check_scenario, run_experiment

    def say(fraction: float, step: str) -> None:
        if progress is not None:
            progress(fraction, step)

    named = named_policies([("logging", policy_text)])
    world = check_scenario(scenario)
    say(0.05, "simulating a history")
    exp = run_experiment(scenario, named, replications=1, seed=seed, with_bound=False,
                         world=world)
    frame = history_frame(exp)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        frame.to_csv(path, index=False)
        history = load_history(path, world.roster)
    say(0.35, "training the model")
    result = train_model(history, holdout_fraction=0.2, rng=np.random.default_rng(seed))
    model = result.model
    _, late = history.time_split(0.2)
    y = late.with_target(model.target).y
    p = model.predict_history(late)
    table = reliability_table(y, p)
    reliability = pd.DataFrame({"mean_predicted": table.mean_p,
                                "observed": table.observed, "rows": table.count})
    reliability = reliability[reliability["rows"] > 0].reset_index(drop=True)
    effects = _effects(late.leads, y, p)
    say(0.6, "officer skill against the truth")
    leads = list(exp.replications[0].inputs.stream.leads)[:200]
    fitted = officer_means(model, leads, world.roster)
    skill = pd.DataFrame({"officer_id": list(world.roster.ids_tuple),
                          "hidden_skill": world.traits.skill,
                          "fitted_mean_p_funded": fitted})
    rho = float(stats.spearmanr(skill["hidden_skill"], skill["fitted_mean_p_funded"]).statistic)
    ope = pd.DataFrame()
    if ope_candidate is not None:
        from simulator.ope import evaluate

        say(0.7, "off-policy estimates")
        candidate = named_policies([("candidate", ope_candidate)])[0]
        ope = evaluate(scenario, candidate, named[0], exploration=exploration,
                       replications=1, seed=seed)
    say(1.0, "done")
    holdout = result.holdout.to_dict() if result.holdout is not None else {}
    return ModelCheck(rows=len(history), estimator=model.estimator,
                      calibration=model.calibration,
                      holdout={k: float(v) for k, v in holdout.items()
                               if isinstance(v, int | float)},
                      reliability=reliability, effects=effects, skill=skill,
                      skill_rank_correlation=rho, ope=ope)


def officer_means(model: Any, leads: Sequence[Any], roster: Roster) -> np.ndarray:
    """(M,) each officer's mean predicted chance over ``leads``, each lead scored at its own
    arrival (the model reads the lead's age and the officers' hours at the decision time)."""
    rows = [model.predict_matrix([lead], roster, now=lead.received_at)[0] for lead in leads]
    return np.mean(rows, axis=0) if rows else np.zeros(len(roster))


def _effects(leads: Sequence[Any], y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Mean predicted and observed outcome by source, loan program, purpose and credit band."""
    def band(score: Any) -> str:
        if score is None:
            return "missing"
        for low, name in ((740, "740+"), (680, "680-739"), (620, "620-679")):
            if score >= low:
                return name
        return "<620"

    rows = []
    attributes = {
        "source": lambda lead: str(lead.source),
        "loan_program": lambda lead: str(getattr(lead.loan_program, "value", lead.loan_program)),
        "loan_purpose": lambda lead: str(getattr(lead.loan_purpose, "value", lead.loan_purpose)),
        "credit_band": lambda lead: band(lead.credit_score),
    }
    for attribute, value_of in attributes.items():
        values = np.array([value_of(lead) for lead in leads])
        for value in sorted(set(values)):
            mask = values == value
            rows.append({"feature": attribute, "value": value, "leads": int(mask.sum()),
                         "mean_predicted": float(p[mask].mean()),
                         "observed": float(y[mask].mean())})
    return pd.DataFrame(rows, columns=["feature", "value", "leads", "mean_predicted",
                                       "observed"])


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~$:"})


def plain(text: object) -> str:
    """``text`` shown as written in Streamlit's Markdown: a file name, a policy name or an
    error message cannot become a link, an image, a formula or a colour directive."""
    return str(text).translate(_MARKDOWN)


def scenario_fit_available() -> bool:
    """Whether this installation fits scenarios to histories (``simulator.fit``)."""
    import importlib.util

    return importlib.util.find_spec("simulator.fit") is not None


def fit_scenario_from(history: bytes, roster: bytes, folder: Path,
                      received: bytes | None = None) -> Any:
    """A scenario fitted to an uploaded history and roster by ``simulator.fit`` (the work of
    ``leadroute scenario fit``), written to ``folder`` and loaded for the what-if.
    ``received``: every lead received, worked or not (``--leads``), replayed in place of the
    history's worked leads."""
    import importlib

    from simulator.scenario import load_scenario

    fit = importlib.import_module("simulator.fit")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.csv").write_bytes(history)
    (folder / "officers.csv").write_bytes(roster)
    received_path = None
    if received is not None:
        received_path = folder / "received.csv"
        received_path.write_bytes(received)
    fitted = fit.fit_scenario(folder / "history.csv", folder / "officers.csv",
                              received_path=received_path)
    return load_scenario(fit.write_scenario(fitted, folder / "fitted", name="fitted"))


# ------------------------------------------------------------------------------ policy form

SCORING_METHODS = ("greedy", "dual_price", "batch_optimal")


@dataclass(frozen=True)
class RoutingForm:
    """The Policy editor's routing fields."""

    name: str
    version: str
    method: str
    offer_mode: str
    accept_within_s: int
    after_hours: str
    after_hours_pool: str
    held_order: str
    epsilon: float
    objective: str


@dataclass(frozen=True)
class RuleForm:
    """One rule as the form shows it; ``condition`` is the ``if`` in one line of YAML."""

    name: str
    condition: str
    pool: str
    fallback: tuple[str, ...]
    priority: str


def _section(tree: dict[str, Any], key: str) -> dict[str, Any]:
    value = tree.get(key)
    return dict(value) if isinstance(value, dict) else {}


def one_line(value: Any) -> str:
    """A YAML value on one line (flow style), as the form's text fields show it."""
    import yaml

    return str(yaml.safe_dump(value, default_flow_style=True, sort_keys=False,
                              allow_unicode=True, width=10_000)).strip().removesuffix("...")\
        .strip()


def rules_of(tree: dict[str, Any]) -> list[RuleForm]:
    """The policy's rules as form rows (a rule that is not a mapping is left to the YAML)."""
    out = []
    for rule in tree.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        then = _section(rule, "then")
        fallback = then.get("fallback") or []
        out.append(RuleForm(
            name=str(rule.get("name", "")), condition=one_line(rule.get("if", {})),
            pool=str(then.get("pool", "")),
            fallback=tuple(str(f) for f in fallback if isinstance(f, str)),
            priority=str(then.get("priority", "normal"))))
    return out


def edit_policy(tree: dict[str, Any], routing: RoutingForm, pools: dict[str, str],
                rules: list[RuleForm]) -> dict[str, Any]:
    """The policy tree with the form's values written in; everything the form does not show
    is kept. A pool or condition that is not YAML is a PolicyError at its path (the engine
    then checks the whole policy)."""
    import yaml

    new = dict(tree)
    new["policy"], new["version"] = routing.name, routing.version
    r = _section(tree, "routing")
    r["method"] = routing.method
    r["offer"] = {**_section(r, "offer"), "mode": routing.offer_mode,
                  "accept_within_s": routing.accept_within_s}
    r["after_hours"] = {"action": routing.after_hours,
                        **({"pool": routing.after_hours_pool}
                           if routing.after_hours == "pool" else {})}
    r["lifecycle"] = {**_section(r, "lifecycle"), "held_order": routing.held_order}
    p = _section(r, "params")
    p.pop("epsilon", None)
    p.pop("objective", None)
    if routing.method in SCORING_METHODS:
        p["objective"] = routing.objective
        if routing.epsilon > 0:
            p["epsilon"] = routing.epsilon
    if p:
        r["params"] = p
    else:
        r.pop("params", None)
    new["routing"] = r

    def parsed(text: str, at: str) -> Any:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(at, f"is not YAML: {str(exc).splitlines()[0]}", "form") from None

    if pools:
        new["pools"] = {name: parsed(text, f"pools.{name}") for name, text in pools.items()}
    old_rules = [rule for rule in tree.get("rules") or [] if isinstance(rule, dict)]
    if rules and len(rules) == len(old_rules):
        written = []
        for k, (form, old) in enumerate(zip(rules, old_rules, strict=True)):
            then = _section(old, "then")
            then["pool"] = form.pool
            if form.fallback:
                then["fallback"] = list(form.fallback)
            else:
                then.pop("fallback", None)
            then["priority"] = form.priority
            written.append({**old, "name": form.name,
                            "if": parsed(form.condition, f"rules[{k}].if"), "then": then})
        new["rules"] = written
    return new
