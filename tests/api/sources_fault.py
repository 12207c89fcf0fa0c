"""The fault mix for the source endpoints: forged Meta notifications and wrong-key Google
Ads deliveries shuffled among real ones. Used by ``test_sources_fault.py`` (in process) and
``benchmarks/bench_sources_fault.py`` (a uvicorn server), which both count what was stored."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.sources.meta import sign
from tests.api.sources_peers import APP_SECRET, GOOGLE_KEY

RECORDED = Path(__file__).parent / "data" / "sources"
META_PATH = "/v1/sources/meta/webhook"
GOOGLE_PATH = "/v1/sources/google-ads/webhook"


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: str  # real-meta, real-google, forged-meta, wrong-key-google
    path: str
    body: bytes
    headers: dict[str, str]


def _notification(leadgen_id: int) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": 153125381133, "time": 1741100280,
        "changes": [{"field": "leadgen", "value": {
            "ad_id": 0, "form_id": 2710185729164881, "leadgen_id": leadgen_id,
            "created_time": 1741100280, "page_id": 153125381133}}]}]}).encode()


def _flip_last(signature: str) -> str:
    """The signature with its last hex digit changed (always a different one)."""
    return signature[:-1] + ("1" if signature[-1] == "0" else "0")


def graph_lead(leadgen_id: int) -> dict[str, Any]:
    lead: dict[str, Any] = json.loads((RECORDED / "meta_graph_lead.json").read_bytes())
    lead["id"] = str(leadgen_id)
    for f in lead["field_data"]:
        if f["name"] == "email":
            f["values"] = [f"meta{leadgen_id}@example.com"]
        if f["name"] == "phone_number":
            f["values"] = []
    return lead


def _google(lead_id: str, key: str | None) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((RECORDED / "google_ads_lead.json").read_bytes())
    body["lead_id"] = lead_id
    for c in body["user_column_data"]:
        if c["column_id"] == "EMAIL":
            c["string_value"] = f"{lead_id.lower()}@example.com"
        if c["column_id"] == "PHONE_NUMBER":
            c["string_value"] = ""
    if key is None:
        body.pop("google_key")
    else:
        body["google_key"] = key
    return body


def fault_mix(seed: int = 11, forged_meta: int = 1000, wrong_google: int = 1000,
              real_meta: int = 50, real_google: int = 50
              ) -> tuple[list[Delivery], dict[str, dict[str, Any]]]:
    """The deliveries, shuffled, and the Graph stand-in's leads (the forged notifications'
    ids are served too, so a forged one that got through would make a lead)."""
    rng = random.Random(seed)
    out: list[Delivery] = []
    leads: dict[str, dict[str, Any]] = {}
    base = 2**60  # above 2**53: exactness matters
    json_type = {"Content-Type": "application/json"}
    for i in range(real_meta):
        raw = _notification(base + i)
        leads[str(base + i)] = graph_lead(base + i)
        out.append(Delivery("real-meta", META_PATH, raw,
                            {**json_type, "X-Hub-Signature-256": sign(raw, APP_SECRET)}))
    for i in range(forged_meta):
        lid = base + 10_000 + i
        raw = _notification(lid)
        leads[str(lid)] = graph_lead(lid)
        forgeries = [
            {},  # unsigned
            {"X-Hub-Signature-256": sign(raw, "guessed-secret")},
            {"X-Hub-Signature-256": sign(_notification(base), APP_SECRET)},  # another body
            {"X-Hub-Signature-256": _flip_last(sign(raw, APP_SECRET))},
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            {"X-Hub-Signature": "sha1=" + "0" * 40},  # the old header alone
            {"X-Hub-Signature-256": sign(raw, APP_SECRET).upper()},  # SHA256= prefix
            {"X-Hub-Signature-256": "sha256=" + sign(raw, APP_SECRET)},
        ]
        out.append(Delivery("forged-meta", META_PATH, raw,
                            {**json_type, **forgeries[i % len(forgeries)]}))
    for i in range(real_google):
        out.append(Delivery("real-google", GOOGLE_PATH,
                            json.dumps(_google(f"G-REAL-{i}", GOOGLE_KEY)).encode(), json_type))
    for i in range(wrong_google):
        keys: list[str | None] = [None, "", GOOGLE_KEY[:-1], GOOGLE_KEY + " ",
                                  GOOGLE_KEY.lower(), "x" * 5000, GOOGLE_KEY + "\u200b"]
        choice = i % (len(keys) + 2)
        if choice < len(keys):
            raw = json.dumps(_google(f"G-FAKE-{i}", keys[choice])).encode()
        elif choice == len(keys):
            raw = json.dumps(_google(f"G-FAKE-{i}", GOOGLE_KEY)).encode()[:-5]  # cut short
        else:
            body = _google(f"G-FAKE-{i}", None)
            body["google_key"] = [GOOGLE_KEY]  # the key, but not as text
            raw = json.dumps(body).encode()
        out.append(Delivery("wrong-key-google", GOOGLE_PATH, raw, json_type))
    rng.shuffle(out)
    return out, leads
