"""Shared builders: small rosters, leads and policies that tests spell out in a line."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.domain import Lead, Officer
from engine.leads import LeadParser
from engine.roster import Roster, parse_officer
from engine.rules import Policy, parse_policy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

# A Tuesday, 15:00 UTC = 10:00 in Chicago, 11:00 in New York, 08:00 in Los Angeles.
TUESDAY_15_UTC = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)

OFFICER_DEFAULTS: dict[str, str] = {
    "name": "Officer", "nmls_id": "1000", "licensed_states": "TX", "languages": "en",
    "specialties": "", "max_open": "", "daily_cap": "", "hourly_cap": "",
    "timezone": "America/Chicago", "work_hours": "", "weight": "1", "team": "main",
    "status": "active", "email": "lo@lender.example.com", "phone": "", "notify": "email",
}

LEAD_DEFAULTS: dict[str, str] = {
    "received_at": "2025-03-04T15:00:00+00:00", "source": "web_form", "first_name": "Pat",
    "last_name": "Doe", "email": "pat@example.com", "phone": "(312) 555-0134",
    "zip": "75201",  # Dallas, TX (Dallas County 48113)
    "loan_purpose": "purchase", "loan_program": "conventional", "loan_amount": "300000",
    "property_value": "400000", "credit_score": "720", "language": "en", "is_veteran": "false",
}


def officer_row(officer_id: str, **fields: Any) -> dict[str, str]:
    row = dict(OFFICER_DEFAULTS, officer_id=officer_id)
    row.update({k: str(v) for k, v in fields.items()})
    return row


def make_officer(officer_id: str, **fields: Any) -> Officer:
    return parse_officer(officer_row(officer_id, **fields), f"test officer {officer_id}")


def make_roster(*specs: tuple[str, dict[str, Any]] | str) -> Roster:
    """``make_roster("A", ("B", {"weight": 3}))``: officers with the defaults above."""
    officers = []
    for spec in specs:
        oid, fields = (spec, {}) if isinstance(spec, str) else spec
        officers.append(make_officer(oid, **fields))
    return Roster(officers)


def lead_row(lead_id: str = "L1", **fields: Any) -> dict[str, str]:
    row = dict(LEAD_DEFAULTS, lead_id=lead_id)
    row.update({k: str(v) for k, v in fields.items()})
    return row


def make_lead(lead_id: str = "L1", **fields: Any) -> Lead:
    return LeadParser.default().parse(lead_row(lead_id, **fields), "test lead")


def make_policy(rules: str = "", pools: str = "main: {everyone: true}",
                routing: str = "{method: weighted_round_robin}", tail: str = "else: {pool: main}",
                extra: str = "") -> Policy:
    """A policy from YAML fragments (each a YAML value, indented as a block when multi-line)."""
    def block(text: str) -> str:
        return "\n".join("  " + line for line in text.strip().splitlines())

    text = f"policy: test\nversion: 1\nrouting: {routing}\npools:\n{block(pools)}\n"
    if rules.strip():
        text += f"rules:\n{block(rules)}\n"
    text += f"{tail}\n{extra}"
    return parse_policy(text, "test.yaml")


@pytest.fixture
def default_policy() -> Policy:
    from engine.rules import load_policy

    return load_policy(DATA / "policies" / "default.yaml")


@pytest.fixture(scope="session")
def default_policy_file() -> Policy:
    """The shipped default policy, loaded once (hypothesis tests reuse it across examples)."""
    from engine.rules import load_policy

    return load_policy(DATA / "policies" / "default.yaml")


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    """Write ``rows`` (e.g. from ``lead_row`` / ``officer_row``) as a CSV file with ``header``
    (default: the first row's keys; columns not in it are left out)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, header or list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small conversion model (logistic, sigmoid-calibrated) trained on a synthetic history
    of 12 officers and saved with skops: the file a policy's ``routing.params.model`` names."""
    import numpy as np

    from engine.scoring import save_model, train_model
    from engine.scoring.synthetic import make_synthetic_history

    synth = make_synthetic_history(np.random.default_rng(5), n_leads=3000, n_officers=12)
    result = train_model(synth.history(), estimator="logistic", calibration="sigmoid",
                         rng=np.random.default_rng(6))
    path = tmp_path_factory.mktemp("model") / "model.skops"
    save_model(result.model, path)
    return path
