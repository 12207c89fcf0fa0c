"""Delivery of the outbox to real local peers: an aiosmtpd SMTP server and an HTTP receiver
standing in for the SMS API and a CRM's webhook. Every officer offered a lead is told, each
notice is in the lead's history, a failing channel falls back to the next, an outage is
retried with backoff until the notice is delivered, and a notice sent again after a crash
carries the same delivery key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import Lead as LeadRow
from api.models import Outbox, OutboxAttempt
from api.notify.channels import verify
from api.notify.deliver import Deliverer, backoff
from tests.api.conftest import Api, Clock, lead_body, make_api, policy_yaml, use_policy
from tests.api.peers import HttpPeer, SmtpPeer

SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM="  # base64 of "secret-key-for-tests"


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    peer = SmtpPeer().up()
    yield peer
    peer.down()


@pytest.fixture
def http() -> Iterator[HttpPeer]:
    peer = HttpPeer()
    yield peer
    peer.close()


def _api(db_url: str, clock: Clock, smtp: SmtpPeer, http: HttpPeer, **extra: Any
         ) -> Iterator[Api]:
    settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                "smtp_from": "routing@lender.example.com", "smtp_timeout_s": 2.0,
                "sms_base_url": http.url + "/sms", "sms_account_sid": "AC123",
                "sms_auth_token": "token", "sms_from": "+13125550100",
                "webhook_url": http.url + "/hook", "webhook_secret": SECRET,
                "http_timeout_s": 2.0, "outbox_backoff_s": 5.0, "outbox_backoff_max_s": 60.0,
                "outbox_max_attempts": 3, "public_url": "https://leads.lender.example.com",
                **extra}
    app, _ = make_api(db_url, clock, **settings)
    with TestClient(app) as client:
        db = app.state.db
        out = Api(client, db, clock)
        from api.security import Scope
        out.keys = {s.value: out.key(s) for s in (Scope.ADMIN, Scope.INGEST, Scope.ANALYST)}
        yield out


@pytest.fixture
def napi(db_url: str, clock: Clock, smtp: SmtpPeer, http: HttpPeer) -> Iterator[Api]:
    yield from _api(db_url, clock, smtp, http)


def deliverer(api: Api) -> Deliverer:
    d: Deliverer = api.client.app.state.deliverer  # type: ignore[attr-defined]
    return d


def outbox(api: Api) -> list[Outbox]:
    with api.db.reading() as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)))


def attempts(api: Api) -> list[OutboxAttempt]:
    with api.db.reading() as s:
        return list(s.scalars(select(OutboxAttempt).order_by(OutboxAttempt.id)))


def history(api: Api, lead_id: int) -> list[tuple[str, str | None]]:
    return [(h["kind"], h["officer_id"]) for h in api.lead(lead_id)["history"]]


def test_assignment_is_emailed_with_its_key_and_no_borrower_details(napi: Api, smtp: SmtpPeer):
    """One email to the officer's address, Message-ID from the delivery key, the row sent,
    a notice_sent line in the history, and none of the borrower's contact details."""
    napi.officers(("A", {"email": "a@lender.example.com"}))
    lead = napi.post_lead(first_name="Zelda", last_name="Quinteros",
                          phone="(312) 555-0199").json()
    assert deliverer(napi).run_once() == 1
    mails = smtp.received()
    assert [m.to for m in mails] == [["a@lender.example.com"]]
    row = outbox(napi)[0]
    assert row.status == "sent" and row.channels_done == ["email"]
    assert mails[0].message_id == f"<{row.delivery_key}.email@leadroute>"
    assert f"lead {lead['id']}" in mails[0].subject.lower()
    for personal in ("Zelda", "Quinteros", "555-0199", "5550199", "@example.com"):
        assert personal not in mails[0].body + mails[0].subject
    assert f"https://leads.lender.example.com/v1/leads/{lead['id']}" in mails[0].body
    assert ("notice_sent", "A") in history(napi, lead["id"])
    assert deliverer(napi).run_once() == 0  # nothing sent twice


def test_every_officer_of_a_broadcast_is_told(napi: Api, smtp: SmtpPeer):
    """A broadcast to three officers: three emails, one to each, each in the history."""
    napi.officers(*[(o, {"email": f"{o.lower()}@lender.example.com"}) for o in "ABC"])
    use_policy(napi, policy_yaml(offer="{mode: broadcast, max_officers: 3, "
                                       "accept_within_s: 600}"))
    lead = napi.post_lead().json()
    deliverer(napi).run_once()
    assert sorted(m.to[0] for m in smtp.received()) == [
        "a@lender.example.com", "b@lender.example.com", "c@lender.example.com"]
    sent = [k for k in history(napi, lead["id"]) if k[0] == "notice_sent"]
    assert sorted(o for _, o in sent) == ["A", "B", "C"]


def test_each_cascade_step_is_told_and_the_lapsed_officer_gets_a_withdrawal(
        napi: Api, smtp: SmtpPeer):
    """A cascade tells the second officer when the first step lapses."""
    napi.officers(*[(o, {"email": f"{o.lower()}@lender.example.com"}) for o in "AB"])
    use_policy(napi, policy_yaml(
        offer="{mode: cascade, max_officers: 2, step_s: 60, accept_within_s: 600}"))
    lead = napi.post_lead().json()
    deliverer(napi).run_once()
    assert len(smtp.received()) == 1
    napi.work(61)
    deliverer(napi).run_once()
    to = [m.to[0] for m in smtp.received()]
    assert len(set(to)) == 2
    kinds = {r.kind for r in outbox(napi)}
    assert "notify" in kinds
    assert sum(1 for k in history(napi, lead["id"]) if k[0] == "notice_sent") == len(to)


def test_a_failing_channel_falls_back_to_the_next(napi: Api, smtp: SmtpPeer, http: HttpPeer):
    """SMS first, the SMS API answers 500: the email goes out, both tries recorded."""
    napi.officers(("A", {"notify": "sms;email", "phone": "+13125550111"}))
    http.status = 500
    napi.post_lead()
    deliverer(napi).run_once()
    assert len(http.received()) == 1 and len(smtp.received()) == 1
    tried = [(a.channel, a.ok, a.error) for a in attempts(napi)]
    assert tried == [("sms", False, "HTTP 500"), ("email", True, None)]
    assert outbox(napi)[0].status == "sent"


def test_sms_goes_to_the_twilio_style_api(napi: Api, http: HttpPeer):
    """The SMS is a form POST to .../Accounts/{sid}/Messages.json with basic auth and the
    delivery key as the idempotency token."""
    napi.officers(("A", {"notify": "sms", "phone": "+13125550111"}))
    napi.post_lead()
    deliverer(napi).run_once()
    (req,) = http.received()
    assert req.path == "/sms/2010-04-01/Accounts/AC123/Messages.json"
    form = req.form()
    assert form["To"] == "+13125550111" and form["From"] == "+13125550100"
    assert req.headers["authorization"].startswith("Basic ")
    assert req.headers["i-twilio-idempotency-token"] == outbox(napi)[0].delivery_key + ".sms"


def test_redundant_delivery_uses_every_channel_and_signs_webhooks(
        db_url: str, clock: Clock, smtp: SmtpPeer, http: HttpPeer):
    """notify_redundant: email, SMS and a webhook whose signature verifies; a changed body
    or an old timestamp does not."""
    for api in _api(db_url, clock, smtp, http, notify_redundant=True):
        api.officers(("A", {"notify": "webhook;sms;email", "phone": "+13125550111"}))
        lead = api.post_lead().json()
        deliverer(api).run_once()
        assert len(smtp.received()) == 1
        hook = next(r for r in http.received() if r.path == "/hook")
        assert verify(SECRET, hook.headers, hook.body, time.time())
        assert not verify(SECRET, hook.headers, hook.body + b" ", time.time())
        assert not verify(SECRET, hook.headers, hook.body, time.time() + 3600)
        assert not verify("whsec_b3RoZXI=", hook.headers, hook.body, time.time())
        data = hook.json()
        assert data["lead_id"] == lead["id"] and data["type"] == "lead.offered"
        assert data["first_action"] in ("call", "write")
        assert sorted(outbox(api)[0].channels_done or []) == ["email", "sms", "webhook"]


def test_an_outage_is_retried_with_backoff_until_delivered(
        napi: Api, smtp: SmtpPeer, clock: Clock):
    """SMTP down: the row waits 5 s, then 10 s; once the server is back the notice goes out,
    exactly once."""
    from api.metrics import REGISTRY

    def delay_sum() -> float:
        return REGISTRY.get_sample_value("leadroute_notification_delay_seconds_sum") or 0.0

    before = delay_sum()
    napi.officers("A")
    smtp.down()
    lead = napi.post_lead().json()
    deliverer(napi).run_once()
    row = outbox(napi)[0]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now + timedelta(seconds=5)
    assert deliverer(napi).run_once() == 0  # not due yet
    clock.advance(5)
    deliverer(napi).run_once()
    row = outbox(napi)[0]
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == clock.now + timedelta(seconds=10)
    smtp.up()
    clock.advance(10)
    deliverer(napi).run_once()
    assert outbox(napi)[0].status == "sent"
    assert len(smtp.received()) == 1
    assert delay_sum() - before == pytest.approx(15.0)  # offered, handed over 15 s later
    kinds = [k for k, _ in history(napi, lead["id"])]
    assert kinds.count("notice_failed") == 2 and kinds.count("notice_sent") == 1


def test_a_notice_that_never_gets_through_is_dead(napi: Api, smtp: SmtpPeer, clock: Clock):
    """After outbox_max_attempts rounds the row is dead and the history says so."""
    napi.officers("A")
    smtp.down()
    lead = napi.post_lead().json()
    for _ in range(3):
        deliverer(napi).run_once()
        clock.advance(3600)
    assert outbox(napi)[0].status == "dead"
    assert ("notice_dead", "A") in history(napi, lead["id"])
    assert deliverer(napi).run_once() == 0


def test_a_crash_after_sending_resends_with_the_same_key(napi: Api, smtp: SmtpPeer,
                                                         clock: Clock):
    """A deliverer that sent but died before writing the result: once the lease ends the
    notice is sent again under the same Message-ID, so the receiver can drop the copy."""
    napi.officers("A")
    napi.post_lead()
    d = deliverer(napi)
    claimed = d._claim(clock.now)
    officers, leads = d._context(claimed)
    for c in claimed:
        d._deliver(c, officers.get(c.officer_id), leads.get(c.lead_id))
    # ...and the process dies here: the row stays "sending"
    assert outbox(napi)[0].status == "sending"
    assert d.run_once() == 0  # the lease holds
    clock.advance(napi.client.app.state.settings.outbox_lease_s + 1)  # type: ignore[attr-defined]
    assert d.run_once() == 1
    ids = [m.message_id for m in smtp.received()]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert outbox(napi)[0].status == "sent"


def test_a_late_result_does_not_overwrite_a_newer_claim(napi: Api, clock: Clock):
    """A round whose lease ran out and whose row was claimed again writes nothing."""
    napi.officers("A")
    napi.post_lead()
    d = deliverer(napi)
    first = d._claim(clock.now)
    clock.advance(napi.client.app.state.settings.outbox_lease_s + 1)  # type: ignore[attr-defined]
    second = d._claim(clock.now)
    assert [c.attempt for c in first + second] == [1, 2]
    d._finish(first, clock.now)
    assert outbox(napi)[0].status == "sending"


def test_test_leads_are_never_notified(napi: Api, smtp: SmtpPeer):
    """A lead flagged is_test is stored (closed, not routed): no outbox row, nothing sent."""
    napi.officers("A")
    from api.flow import request_hash
    from api.ingest import Job
    from api.intake import read_lead

    app = napi.client.app
    runtime = app.state.runtime  # type: ignore[attr-defined]
    payload, external_id, lead = read_lead(lead_body("T-1"), runtime.parser, napi.clock())
    out = app.state.ingestor.submit(Job(  # type: ignore[attr-defined]
        payload, external_id, lead, request_hash(payload), None, None, napi.clock(),
        is_test=True))
    assert out is not None
    assert outbox(napi) == []
    deliverer(napi).run_once()
    assert smtp.received() == []
    assert not [h for h in napi.lead(out.id)["history"] if h["kind"].startswith("notice")]
    with napi.db.reading() as s:
        assert s.scalar(select(LeadRow.is_test).where(LeadRow.id == out.id)) is True


def test_a_test_lead_that_reaches_the_lifecycle_is_still_not_sent(napi: Api, smtp: SmtpPeer):
    """Belt and braces: should a lead flagged is_test ever be routed, its notices are in the
    history marked as not sent, and no outbox row is written."""
    from api.flow import Tx, carry_out
    from engine.lifecycle import Notify, Step

    napi.officers("A")
    lid = napi.post_lead().json()["id"]
    before = len(outbox(napi))
    with napi.db.writing() as s:
        row = s.get(LeadRow, lid)
        assert row is not None
        row.is_test = True
        tx = Tx.open(s, napi.client.app.state.runtime, napi.clock())  # type: ignore[attr-defined]
        from engine.lifecycle import Case

        case = Case.from_record(row.case)
        carry_out(tx, row, Step(case, (Notify("A", napi.clock(), "assign"),), None))
        tx.finish()
    assert len(outbox(napi)) == before
    notes = [h["detail"] for h in napi.lead(lid)["history"] if h["kind"] == "notice"]
    assert any("test lead: not sent" in n for n in notes)


def test_no_channel_configured_is_recorded_and_retried(db_url: str, clock: Clock,
                                                       smtp: SmtpPeer, http: HttpPeer):
    """Without SMTP settings an email-only officer's notice waits, with the reason."""
    for api in _api(db_url, clock, smtp, http, smtp_host=""):
        api.officers("A")
        api.post_lead()
        deliverer(api).run_once()
        row = outbox(api)[0]
        assert row.status == "pending"
        assert row.last_error == "email: email is not configured"


def test_backoff_doubles_up_to_its_cap():
    """5, 10, 20, 40, then the 60 s cap."""
    assert [backoff(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff(10_000, 5, 60) == 60


def test_delivery_logs_carry_no_personal_data(napi: Api, smtp: SmtpPeer,
                                              caplog: pytest.LogCaptureFixture):
    """The delivery's log lines name ids and channels, never the officer's or borrower's
    address."""
    napi.officers(("A", {"email": "secret.officer@lender.example.com"}))
    caplog.set_level("DEBUG", logger="leadroute")
    napi.post_lead(email="hidden.borrower@example.com")
    deliverer(napi).run_once()
    text = caplog.text
    assert "secret.officer" not in text and "hidden.borrower" not in text


def test_a_malformed_webhook_secret_fails_at_start_without_showing_it():
    """whsec_ followed by something that is not base64 stops the app at start, and the
    error names the setting, not the secret."""
    from api.notify.channels import senders
    from api.settings import Settings

    with pytest.raises(ValueError, match="LEADROUTE_WEBHOOK_SECRET") as err:
        senders(Settings(webhook_secret="whsec_!!hunter2!!"))
    assert "hunter2" not in str(err.value)


def test_redundant_delivery_retries_only_the_channel_that_failed(
        db_url: str, clock: Clock, smtp: SmtpPeer, http: HttpPeer):
    """Email and SMS asked for, the SMS API failing: the email goes once; the next rounds try
    the SMS alone; after the last round the notice counts as sent (the email reached the
    officer) and the SMS failures stay in the attempts."""
    for api in _api(db_url, clock, smtp, http, notify_redundant=True):
        api.officers(("A", {"notify": "email;sms", "phone": "+13125550111"}))
        http.status = 503
        api.post_lead()
        for _ in range(3):
            deliverer(api).run_once()
            clock.advance(3600)
        assert len(smtp.received()) == 1
        assert len([r for r in http.received() if r.path.startswith("/sms")]) == 3
        row = outbox(api)[0]
        assert row.status == "sent" and row.channels_done == ["email"]
        assert [(a.channel, a.ok) for a in attempts(api)] == [
            ("email", True), ("sms", False), ("sms", False), ("sms", False)]
