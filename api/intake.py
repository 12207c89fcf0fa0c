"""A lead's JSON body read into something storable: every problem at once (the engine's lead
parser names each bad field); protected characteristics dropped before anything is stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from api.problems import invalid
from engine.domain import Lead
from engine.errors import InputError, Problem
from engine.fair_lending import protected_characteristic
from engine.leads import LeadParser, parse_timestamp

MAX_FIELDS = 200
MAX_TEXT = 4000
MAX_NAME = 100
EARLIEST = datetime.fromisoformat("1990-01-01T00:00:00+00:00")
FUTURE_SLACK = timedelta(days=1)
LIMITS = {"lead_id": 200, "source": 100}


@lru_cache(maxsize=4096)
def _protected(name: str) -> bool:
    """Whether a field names a protected characteristic (cached: sources send the same few
    field names again and again)."""
    return protected_characteristic(name) is not None


def read_lead(body: dict[str, Any], parser: LeadParser, now: datetime
              ) -> tuple[dict[str, str], str | None, Lead]:
    """The lead's fields as text (the leads CSV's names; custom fields kept, protected
    characteristics dropped), its external id, and the lead as the engine reads it (with a
    stand-in id). Raises a 422 ``ApiProblem`` listing every problem."""
    problems: list[Problem] = []
    payload: dict[str, str] = {}
    if len(body) > MAX_FIELDS:
        raise invalid([Problem("body", len(body), f"has more than {MAX_FIELDS} fields")])
    for key, value in body.items():
        name = str(key)
        if not name or len(name) > MAX_NAME or not name.isprintable():
            problems.append(Problem(name[:MAX_NAME] or "(empty)", "",
                                    f"is not a usable field name (printable, 1 to {MAX_NAME} "
                                    "characters)"))
            continue
        if _protected(name):
            continue  # never stored, never routed on (fair lending)
        if isinstance(value, dict | list):
            problems.append(Problem(name, "", "expected text, a number or true/false"))
            continue
        text = "" if value is None else ("true" if value else "false") \
            if isinstance(value, bool) else str(value)
        limit = LIMITS.get(name, MAX_TEXT)
        if len(text) > limit:
            problems.append(Problem(name, text[:40] + "...", f"longer than {limit} characters"))
            continue
        if "\x00" in text:
            problems.append(Problem(name, "", "contains a NUL character"))
            continue
        payload[name] = text.strip()
    external_id = payload.pop("lead_id", "") or None
    if not payload.get("received_at"):
        payload["received_at"] = now.isoformat()
    lead: Lead | None = None
    try:
        lead = parser.parse({**payload, "lead_id": "new"}, "")
    except InputError as exc:
        problems.extend(exc.problems)
    received = parse_timestamp(payload.get("received_at", ""))
    if received is not None and not EARLIEST <= received <= now + FUTURE_SLACK:
        problems.append(Problem("received_at", payload["received_at"],
                                "must be after 1990 and not more than a day ahead"))
    if problems or lead is None:
        raise invalid(problems, f"the lead has {len(problems)} invalid field(s)")
    return payload, external_id, lead
