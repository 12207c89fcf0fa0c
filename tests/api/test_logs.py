"""Logs are JSON lines with a request id and never hold personal data."""

from __future__ import annotations

import json
import logging

import pytest

from api.logs import JsonLines
from tests.api.conftest import Api

PERSONAL = ("Marisol", "Quintanilla", "marisol.q@example.com", "3125550177", "555-0177",
            "bad@@mail")


def test_logs_never_hold_contact_details(api: Api, caplog: pytest.LogCaptureFixture):
    """Posting, reading and answering leads, valid or not, logs no name, email or phone."""
    caplog.set_level(logging.DEBUG, logger="leadroute")
    api.officers("A")
    contact = {"first_name": "Marisol", "last_name": "Quintanilla",
               "email": "marisol.q@example.com", "phone": "(312) 555-0177"}
    lead = api.post_lead(**contact).json()
    api.post_lead(**{**contact, "email": "bad@@mail", "zip": "1"})
    api.client.get(f"/v1/leads/{lead['id']}", headers=api.headers())
    api.act(lead["id"], "accept", "A")
    api.client.get("/v1/history.csv", params={"contact": "true"}, headers=api.headers())
    api.work(3600)
    lines = [JsonLines().format(r) for r in caplog.records]
    assert any('"path": "/v1/leads"' in line for line in lines)  # the logs were read
    for line in lines:
        json.loads(line)
        for value in PERSONAL:
            assert value not in line, line


def test_log_lines_carry_the_request_id(api: Api, caplog: pytest.LogCaptureFixture):
    """The request's id (given, or made) is in its log line and its answer."""
    caplog.set_level(logging.INFO, logger="leadroute")
    r = api.client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    lines = [json.loads(JsonLines().format(x)) for x in caplog.records]
    assert any(x.get("request_id") == "abc123" and x.get("status") == 200 for x in lines)
