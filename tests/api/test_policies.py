"""/v1/policies: upload with YAML-path errors, activation, A/B split, shadow, dry run."""

from __future__ import annotations

from tests.api.conftest import Api, policy_yaml, use_policy


def test_upload_invalid_policy_names_the_yaml_path(api: Api):
    """A policy that does not load is a 422 whose error is the YAML path."""
    text = policy_yaml().replace("else: {pool: main}", "else: {pool: nowhere}")
    r = api.client.post("/v1/policies", json={"yaml": text}, headers=api.headers())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "else.pool"
    assert "nowhere" in r.json()["errors"][0]["message"]


def test_upload_is_idempotent_and_versions_are_immutable(api: Api):
    """The same file again is a 200; other content under the same version a 409."""
    text = policy_yaml()
    first = api.client.post("/v1/policies", json={"yaml": text}, headers=api.headers())
    again = api.client.post("/v1/policies", json={"yaml": text}, headers=api.headers())
    other = api.client.post("/v1/policies", json={"yaml": text + "description: x\n"},
                            headers=api.headers())
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]


def test_activated_policy_routes_new_leads(api: Api):
    """After activation, leads carry the new policy's name and version."""
    api.officers("A")
    assert api.post_lead().json()["policy"]["name"] == "default"
    use_policy(api, policy_yaml(name="house", version=7))
    lead = api.post_lead().json()
    assert (lead["policy"]["name"], lead["policy"]["version"]) == ("house", "7")
    listed = api.client.get("/v1/policies", headers=api.headers("analyst")).json()
    assert [p["active"] for p in listed["items"]] == [True]


def test_dry_run_says_what_would_change(api: Api):
    """A candidate that broadcasts instead of assigning changes every lead; counts say so."""
    api.officers("A", "B")
    for _ in range(4):
        api.post_lead()
    r = api.client.post("/v1/policies", headers=api.headers(), json={"yaml": policy_yaml(
        name="cand", offer="{mode: broadcast, max_officers: 2, accept_within_s: 600}")})
    pid = r.json()["id"]
    r = api.client.post(f"/v1/policies/{pid}/dry-run", params={"last": 3},
                        headers=api.headers("analyst"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["counts"]["leads"] == 3 and out["counts"]["changed"] == 3
    assert out["counts"]["current"] == {"assigned": 3}
    assert out["counts"]["candidate"] == {"offered": 3}
    assert all(len(x["candidate"]["offered"]) == 2 for x in out["leads"])


def test_dry_run_same_policy_changes_nothing(api: Api):
    """The routing policy against itself: zero changes."""
    api.officers("A", "B")
    pid = use_policy(api, policy_yaml())
    for _ in range(3):
        api.post_lead()
    out = api.client.post(f"/v1/policies/{pid}/dry-run", headers=api.headers()).json()
    assert out["counts"]["changed"] == 0


def test_ab_split_logs_the_arm_and_its_share(api: Api):
    """With an A/B split, each lead records its arm and the arm's probability."""
    api.officers("A", "B")
    use_policy(api, policy_yaml(name="control"))
    r = api.client.post("/v1/policies", headers=api.headers(),
                        json={"yaml": policy_yaml(name="treatment")})
    r = api.client.put("/v1/policies/candidate", headers=api.headers(),
                       json={"policy_id": r.json()["id"], "mode": "ab", "share": 0.5})
    assert r.status_code == 200 and r.json()["mode"] == "ab"
    leads = [api.post_lead().json() for _ in range(40)]
    arms = {(x["policy"]["name"], x["policy"]["arm"], x["policy"]["share"]) for x in leads}
    assert arms == {("control", "active", 0.5), ("treatment", "candidate", 0.5)}


def test_shadow_candidate_is_only_logged(api: Api):
    """In shadow mode the candidate's choice is a history line; the active policy routes."""
    api.officers("A", "B")
    use_policy(api, policy_yaml(name="control"))
    r = api.client.post("/v1/policies", headers=api.headers(), json={"yaml": policy_yaml(
        name="shadowed", offer="{mode: broadcast, max_officers: 2, accept_within_s: 60}")})
    api.client.put("/v1/policies/candidate", headers=api.headers(),
                   json={"policy_id": r.json()["id"], "mode": "shadow"})
    lead = api.post_lead().json()
    assert lead["policy"]["name"] == "control"
    assert lead["assignment"]["status"] == "assigned"
    shadow = [h for h in api.lead(lead["id"])["history"] if h["kind"] == "shadow"]
    assert len(shadow) == 1
    assert shadow[0]["data"]["policy"] == "shadowed"
    assert shadow[0]["data"]["status"] == "offered"


def test_unknown_policy_is_404(api: Api):
    for method, path in (("GET", "/v1/policies/99"), ("POST", "/v1/policies/99/activate"),
                         ("POST", "/v1/policies/99/dry-run")):
        assert api.client.request(method, path, headers=api.headers()).status_code == 404


def test_upload_with_a_control_character_is_422(api: Api):
    """A policy text YAML cannot read at all (a control character) is a 422, never a 500."""
    r = api.client.post("/v1/policies", json={"yaml": "\u001f"}, headers=api.headers())
    assert r.status_code == 422, r.text
    assert "U+001F" in r.text
