"""Keys and scopes on every route: 401 without a valid key, 403 for a scope that may not,
404 for another officer's lead; per-key rate limits."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.models import ApiKey
from api.problems import ApiProblem
from api.security import Scope, key_hash
from api.settings import Settings
from tests.api.conftest import Api

# who may call each operation (admin always may)
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("post", "/v1/leads"): {"ingest"},
    ("get", "/v1/leads"): {"analyst", "officer"},
    ("get", "/v1/leads/{lead_id}"): {"analyst", "officer"},
    ("post", "/v1/leads/{lead_id}/accept"): {"officer"},
    ("post", "/v1/leads/{lead_id}/decline"): {"officer"},
    ("post", "/v1/leads/{lead_id}/outcome"): {"officer"},
    ("get", "/v1/officers"): {"analyst"},
    ("post", "/v1/officers"): set(),
    ("get", "/v1/officers/{officer_id}"): {"analyst"},
    ("patch", "/v1/officers/{officer_id}"): set(),
    ("post", "/v1/officers/{officer_id}/status"): set(),
    ("post", "/v1/officers/{officer_id}/time-off"): set(),
    ("get", "/v1/policies"): {"analyst"},
    ("post", "/v1/policies"): set(),
    ("get", "/v1/policies/candidate"): {"analyst"},
    ("put", "/v1/policies/candidate"): set(),
    ("get", "/v1/policies/{policy_id}"): {"analyst"},
    ("post", "/v1/policies/{policy_id}/activate"): set(),
    ("post", "/v1/policies/{policy_id}/dry-run"): {"analyst"},
    ("get", "/v1/history.csv"): {"analyst"},
    ("get", "/v1/analytics/{report}"): {"analyst"},
    ("post", "/v1/sources/vendors/{vendor}"): {"ingest"},
    ("post", "/v1/sources/web"): {"ingest"},
    ("post", "/v1/sources/referrals/{partner}"): {"ingest"},
    ("get", "/v1/sources/rejected"): set(),
    ("get", "/v1/sources/fetches"): set(),
    ("post", "/v1/sources/fetches/{fetch_id}/retry"): set(),
}
PUBLIC = {("get", "/healthz"), ("get", "/metrics")}
# authenticated by the source's own signature or key, not an API key (test_sources_api.py)
SIGNED = {("get", "/v1/sources/meta/webhook"), ("post", "/v1/sources/meta/webhook"),
          ("post", "/v1/sources/google-ads/webhook")}


def _operations() -> list[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite:///:memory:"), worker=False)
    return [(m, p) for p, item in app.openapi()["paths"].items() for m in item]


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "A" if m[1] == "officer_id" else "1", path)


def test_every_operation_has_a_scope_rule():
    """The table above covers every operation of the OpenAPI schema."""
    assert set(_operations()) - PUBLIC - SIGNED == set(ALLOWED)


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED))
def test_route_without_a_valid_key_is_401(api: Api, method: str, path: str):
    """No key, or an unknown one, is a 401 Problem with WWW-Authenticate."""
    for headers in ({}, {"Authorization": "Bearer lr_admin_not-a-key"},
                    {"Authorization": "Basic Zm9vOmJhcg=="}):
        r = api.client.request(method, _url(path), headers=headers, json={})
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["status"] == 401
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED))
def test_route_with_the_wrong_scope_is_403(api: Api, method: str, path: str):
    """Every scope the operation does not allow gets a 403 Problem."""
    api.officers("A")
    for scope in ("ingest", "officer", "analyst"):
        if scope in ALLOWED[(method, path)]:
            continue
        who = "A" if scope == "officer" else scope
        r = api.client.request(method, _url(path), headers=api.headers(who), json={})
        assert r.status_code == 403, (scope, r.text)
        assert scope in r.json()["detail"]


@pytest.mark.parametrize("action", ["get", "accept", "decline", "outcome"])
def test_another_officers_lead_is_404(api: Api, action: str):
    """An officer key gets a 404 for a lead never offered to its officer, ids not leaked."""
    api.officers("A", ("B", {"licensed_states": "CA"}))
    lead = api.post_lead().json()
    assert lead["assignment"]["officer_id"] == "A"
    if action == "get":
        r = api.client.get(f"/v1/leads/{lead['id']}", headers=api.headers("B"))
    else:
        body = {"outcome": "contacted"} if action == "outcome" else None
        r = api.client.post(f"/v1/leads/{lead['id']}/{action}", json=body,
                            headers=api.headers("B"))
    assert r.status_code == 404
    assert r.json() == {"type": "urn:leadroute:problem:not-found", "title": "Not found",
                        "status": 404, "detail": "no such lead"}


def test_officer_lists_only_their_own_leads(api: Api):
    """An officer key lists the leads offered to its officer, and may not list another's."""
    api.officers("A", "B")
    leads = [api.post_lead().json() for _ in range(4)]
    mine = [x["id"] for x in leads if x["assignment"]["officer_id"] == "A"]
    page = api.client.get("/v1/leads", headers=api.headers("A")).json()
    assert sorted(i["id"] for i in page["items"]) == sorted(mine)
    r = api.client.get("/v1/leads", params={"officer_id": "B"}, headers=api.headers("A"))
    assert r.status_code == 403


def test_officer_cannot_answer_for_another(api: Api):
    """An officer key naming another officer in the body is a 403."""
    api.officers("A", "B")
    lead = api.post_lead().json()
    who = lead["assignment"]["officer_id"]
    other = "B" if who == "A" else "A"
    r = api.act(lead["id"], "accept", who, officer_id=other)
    assert r.status_code == 403


def test_admin_must_name_the_officer_who_answers(api: Api):
    """An admin accepting for an officer names them; without, 422."""
    api.officers("A")
    lead = api.post_lead().json()
    r = api.act(lead["id"], "accept", "admin")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "officer_id"
    assert api.act(lead["id"], "accept", "admin", officer_id="A").status_code == 200


def test_keys_are_stored_as_hashes(api: Api):
    """The database holds the SHA-256 of each key, never the key."""
    with api.db.reading() as s:
        rows = s.scalars(select(ApiKey)).all()
    stored = {r.key_sha256 for r in rows}
    for key in api.keys.values():
        assert key_hash(key) in stored
        assert all(key not in (r.key_sha256, r.prefix) for r in rows)
        assert key.startswith("lr_") and len(key) > 40


def test_revoked_key_is_401(db_url: str, clock):
    """A revoked key stops working."""
    app = create_app(Settings(database_url=db_url, worker_in_server=False), clock=clock,
                     worker=False)
    with TestClient(app) as client:
        api = Api(client, app.state.db, clock)
        key = api.key(Scope.ANALYST)
        with api.db.writing() as s:
            s.scalars(select(ApiKey)).one().revoked_at = clock.now
        r = client.get("/v1/leads", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401


def test_rate_limit_is_429_with_retry_after(api: Api):
    """Over its limit a key gets 429 with Retry-After and RateLimit fields; others are not
    affected."""
    slow = api.key(Scope.ANALYST, rate_limit="3/minute")
    headers = {"Authorization": f"Bearer {slow}"}
    codes = [api.client.get("/v1/leads", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api.client.get("/v1/leads", headers=headers)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert r.json()["type"].endswith("rate-limited")
    assert api.client.get("/v1/leads", headers=api.headers("analyst")).status_code == 200


def test_healthz_needs_no_key(api: Api):
    """/healthz answers 200 with the database reachable."""
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, clock):
    """/healthz answers 503 when the database cannot be opened."""
    url = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'x.db'}"
    app = create_app(Settings(database_url=url, worker_in_server=False), clock=clock,
                     worker=False)
    with TestClient(app) as client:
        r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"


REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_reason() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} cannot be reached ({type(exc).__name__})"
    return None


def _limited_twice(storage: str) -> list[int]:
    """Two servers (two limiters, as two processes have) share one key limited to 3 a
    minute; each answers two requests in turn."""
    from api.security import Caller, RateLimiter

    caller = Caller(7, "lr_test", Scope.ANALYST, None, "3/minute")
    one, two = RateLimiter("100/minute", storage), RateLimiter("100/minute", storage)
    codes = []
    for limiter in (one, two, one, two):
        try:
            limiter.check(caller)
            codes.append(200)
        except ApiProblem as exc:
            codes.append(exc.status)
    return codes


def test_rate_limit_in_memory_is_per_process():
    """memory:// (the default) counts per server process, as docs/api.md says."""
    assert _limited_twice("memory://") == [200, 200, 200, 200]


def test_rate_limit_shared_storage_counts_across_processes():
    """A shared storage (Redis) makes the limit hold across server processes."""
    reason = _redis_reason()
    if reason is not None:
        pytest.skip(reason)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    assert _limited_twice(REDIS_URL) == [200, 200, 200, 429]


def test_rate_limit_storage_that_cannot_work_is_refused_at_start():
    """A storage URI that cannot be used names the setting and the value."""
    from api.security import RateLimiter

    with pytest.raises(ValueError, match="LEADROUTE_RATE_LIMIT_STORAGE='nowhere://x'"):
        RateLimiter("10/minute", "nowhere://x")
    with pytest.raises(ValueError, match="does not answer"):
        RateLimiter("10/minute", "redis://127.0.0.1:1/0")
