"""GET /v1/history.csv: production history in the format the scoring model trains on."""

from __future__ import annotations

import csv
import io

from engine.roster import Roster, parse_officer
from engine.scoring.history import history_from_rows
from tests.api.conftest import Api
from tests.conftest import officer_row


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _worked(api: Api) -> list[int]:
    api.officers("A", "B")
    ids = []
    for k, outcome in enumerate(("funded", "lost", None)):
        lead = api.post_lead(first_name="Quinn", email=f"quinn{k}@example.com").json()
        officer = lead["assignment"]["officer_id"]
        api.clock.advance(30)
        api.act(lead["id"], "accept", officer)
        api.act(lead["id"], "outcome", officer, outcome="contacted")
        if outcome == "funded":
            api.act(lead["id"], "outcome", officer, outcome="funded", amount="250000")
        elif outcome == "lost":
            api.act(lead["id"], "outcome", officer, outcome="lost")
        ids.append(lead["id"])
    api.post_lead()  # never accepted: not in the history
    return ids


def test_history_csv_loads_as_a_training_history(api: Api):
    """The export is read by the scoring model's history loader without a problem."""
    ids = _worked(api)
    r = api.client.get("/v1/history.csv", headers=api.headers("analyst"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, rows = _rows(r.text)
    assert [int(x["lead_id"]) for x in rows] == ids
    roster = Roster([parse_officer(officer_row(o)) for o in ("A", "B")])
    history = history_from_rows(header, rows, roster)
    assert len(history) == 3
    assert history.outcomes["funded"].tolist() == [1, 0, 0]
    assert history.outcomes["contacted"].tolist() == [1, 1, 1]
    assert rows[0]["response_delay_s"] == "30.000"


def test_history_csv_masks_contact_details_for_analysts(api: Api):
    """An analyst's export has contact details masked; an admin may ask for them."""
    _worked(api)
    masked = api.client.get("/v1/history.csv", headers=api.headers("analyst")).text
    assert "Quinn" not in masked and "quinn0@example.com" not in masked
    full = api.client.get("/v1/history.csv", params={"contact": "true"},
                          headers=api.headers()).text
    assert "Quinn" in full and "quinn0@example.com" in full


def test_history_csv_contact_needs_admin(api: Api):
    """An analyst asking for contact details is a 403."""
    r = api.client.get("/v1/history.csv", params={"contact": "true"},
                       headers=api.headers("analyst"))
    assert r.status_code == 403


def test_history_csv_closed_only(api: Api):
    """closed_only keeps the funded and lost leads."""
    ids = _worked(api)
    text = api.client.get("/v1/history.csv", params={"closed_only": "true"},
                          headers=api.headers("analyst")).text
    assert [int(x["lead_id"]) for x in _rows(text)[1]] == ids[:2]
