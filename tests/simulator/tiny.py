"""Tiny hand-made worlds for mechanism tests: officers and leads spelled out, responses
deterministic (no spread, no load or hour effect, no notification latency)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from engine.rules import Policy, parse_policy
from simulator.crn import replication_seeds
from simulator.model import Inputs, RunOptions, RunResult, simulate
from simulator.runner import build_world, prepare
from simulator.scenario import load_scenario
from simulator.streams import ROUTE_COLUMNS
from tests.conftest import OFFICER_DEFAULTS, lead_row

START = "2025-03-04T09:00:00-06:00"  # a Tuesday, 09:00 in Chicago


def tiny_inputs(tmp_path: Path, officers: dict[str, dict[str, Any]],
                leads: list[dict[str, Any]], *, medians: dict[str, float] | None = None,
                operations: str = "{drain_days: 1}", days: float = 1,
                start: str = START) -> Inputs:
    """Inputs of a world with ``officers`` (id -> roster fields over the test defaults) and
    ``leads`` (lead fields over the test defaults, with ``received_at``), each officer's
    response taking exactly ``medians[id]`` seconds."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / "officers.csv", "w", newline="") as fh:
        fields = [*OFFICER_DEFAULTS, "officer_id", "backup_officer_id"]
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for oid, spec in officers.items():
            writer.writerow({**OFFICER_DEFAULTS, "officer_id": oid, "backup_officer_id": "",
                             **{k: str(v) for k, v in spec.items()}})
    with open(tmp_path / "leads.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for k, spec in enumerate(leads):
            writer.writerow({c: "" for c in ROUTE_COLUMNS} | lead_row(f"T{k + 1}", **spec))
    overrides = "\n".join(f"      {oid}: {{median_response_s: {s}}}"
                          for oid, s in (medians or {}).items())
    (tmp_path / "tiny.yaml").write_text(f"""
scenario: tiny
start: {start}
days: {days}
timezone: America/Chicago
roster: officers.csv
world:
  seed: 1
  skills:
    overrides:
{overrides or '      {}'}
  response:
    within_sigma: 0
    busy_probability: 0
    load_slope: 0
    hour_multipliers: [{', '.join(['1'] * 24)}]
    notification_latency_s: {{email: 0, sms: 0, webhook: 0, push: 0}}
stream: {{kind: replay, path: leads.csv}}
operations: {operations}
""".replace("overrides:\n      {}", "overrides: {}"))
    scenario = load_scenario(tmp_path / "tiny.yaml")
    return prepare(scenario, build_world(scenario), replication_seeds(0, 1)[0])


def policy(routing: str = "{method: round_robin}", body: str = "pools:\n  main: {everyone: "
           "true}\nelse: {pool: main}\n") -> Policy:
    return parse_policy(f"policy: tiny\nversion: 1\nrouting: {routing}\n{body}", "tiny")


def run(inputs: Inputs, pol: Policy) -> RunResult:
    return simulate(inputs, pol, options=RunOptions(record_events=True))


def events(inputs: Inputs, result: RunResult, lead: int = 0) -> list[tuple[float, str, str]]:
    """(seconds after the lead's arrival, event, officer id) of one lead."""
    from simulator.model import EVENT_NAMES

    assert result.events is not None
    ev = result.events
    ids = inputs.world.roster.ids_tuple
    at = inputs.stream.arrival_s[lead]
    rows = np.flatnonzero(ev["lead"] == lead)
    return [(round(float(ev["t_s"][r] - at), 6), EVENT_NAMES[ev["event"][r]],
             ids[ev["officer"][r]] if ev["officer"][r] >= 0 else "") for r in rows]



