"""Meta (Facebook) Lead Ads: the subscription handshake, the signed notification, and the
lead fetched from the Graph API mapped to the canonical lead. Pure functions; the HTTP fetch
lives in ``api.sources.fetch``.

- Handshake: ``hub.mode=subscribe`` and ``hub.verify_token`` equal to the configured token
  (constant-time): the challenge, bare; otherwise a refusal (403).
- Notification: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed
  by the app secret, checked on the raw bytes in constant time before the body is parsed.
  Every integer in the body is read as its digits, so a ``leadgen_id`` above 2**53 stays exact.
- Lead: ``{"id", "created_time", "field_data": [{"name", "values": [...]}]}``; names are the
  form's (custom questions are free text), so the map is configuration (``meta.yaml``, and
  per form id under ``forms``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.sources.common import Refused, source_time
from api.sources.mapping import Mapped, MappingError, SourceMap, apply_map, parse_json
from engine.errors import Problem

SIGNATURE_HEADER = "X-Hub-Signature-256"
_ID = re.compile(r"^[0-9]{1,40}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


def handshake(mode: str | None, token: str | None, challenge: str | None,
              verify_token: str | None) -> str:
    """The challenge to answer when the subscription check is ours; ``Refused`` (403)
    otherwise."""
    if not verify_token:
        raise Refused(403, "Meta webhooks are not configured on this server "
                           "(LEADROUTE_META_VERIFY_TOKEN)")
    if mode != "subscribe" or token is None or challenge is None or not hmac.compare_digest(
            token.encode("utf-8"), verify_token.encode("utf-8")):
        raise Refused(403, "the verify token does not match (or hub.mode is not subscribe)")
    if len(challenge) > 200 or not challenge.isprintable():
        raise Refused(403, "hub.challenge is not a short printable value")
    return challenge


def verify_signature(raw: bytes, header: str | None, app_secret: str | None) -> None:
    """Nothing when ``header`` is the HMAC-SHA256 of ``raw`` keyed by ``app_secret``;
    ``Refused``: 401 without a signature, 403 with a wrong one."""
    if not app_secret:
        raise Refused(403, "Meta webhooks are not configured on this server "
                           "(LEADROUTE_META_APP_SECRET)")
    if not header:
        raise Refused(401, f"the {SIGNATURE_HEADER} header is missing")
    m = _SIGNATURE.fullmatch(header.strip())
    if m is None:
        raise Refused(403, f"{SIGNATURE_HEADER} is not sha256=<64 hex digits>")
    expected = hmac.new(app_secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, m[1].lower()):
        raise Refused(403, f"{SIGNATURE_HEADER} does not match the body")


def sign(raw: bytes, app_secret: str) -> str:
    """The header value Meta sends for ``raw`` (tests and tools use it)."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class LeadgenRef:
    """One lead announced by a notification: its ids (exact digits) and when it was made."""

    leadgen_id: str
    page_id: str
    form_id: str
    ad_id: str
    created_time: str

    def to_record(self) -> dict[str, str]:
        return {"leadgen_id": self.leadgen_id, "page_id": self.page_id,
                "form_id": self.form_id, "ad_id": self.ad_id,
                "created_time": self.created_time}


def _id(value: Any, where: str, problems: list[Problem], required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if not text and not required:
        return ""
    if not _ID.fullmatch(text):
        problems.append(Problem(where, text[:40], "expected an id of digits"))
    return text


def parse_notification(raw: bytes) -> list[LeadgenRef]:
    """The leads a (verified) notification announces, in order; changes to other fields are
    skipped. Raises ``MappingError`` naming the place of each bad part."""
    data = parse_json(raw, exact_ints=True)
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise MappingError([Problem("entry", "", "expected {\"object\": \"page\", "
                                    "\"entry\": [...]}")])
    problems: list[Problem] = []
    refs: list[LeadgenRef] = []
    for i, entry in enumerate(data["entry"]):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            problems.append(Problem(f"entry[{i}].changes", "", "expected a list"))
            continue
        for j, change in enumerate(changes):
            where = f"entry[{i}].changes[{j}]"
            if not isinstance(change, dict) or change.get("field") != "leadgen":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                problems.append(Problem(f"{where}.value", "", "expected an object"))
                continue
            ref = LeadgenRef(
                leadgen_id=_id(value.get("leadgen_id"), f"{where}.value.leadgen_id", problems),
                page_id=_id(value.get("page_id", entry.get("id")), f"{where}.value.page_id",
                            problems, required=False),
                form_id=_id(value.get("form_id"), f"{where}.value.form_id", problems,
                            required=False),
                ad_id=_id(value.get("ad_id"), f"{where}.value.ad_id", problems,
                          required=False),
                created_time=str(value.get("created_time") or ""))
            refs.append(ref)
    if problems:
        raise MappingError(problems)
    return refs


def field_data(lead: Mapping[str, Any]) -> dict[str, str]:
    """A Graph lead's answers as name -> text (several values joined by ``;``)."""
    rows = lead.get("field_data")
    if not isinstance(rows, list):
        raise MappingError([Problem("field_data", "", "expected a list of {name, values}")])
    out: dict[str, str] = {}
    problems = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            problems.append(Problem(f"field_data[{i}]", "", "expected {name, values}"))
            continue
        values = row.get("values")
        if not isinstance(values, list):
            values = [] if values is None else [values]
        out[row["name"]] = ";".join(str(v).strip() for v in values
                                    if not isinstance(v, dict | list))
    if problems:
        raise MappingError(problems)
    return out


def map_lead(lead: Mapping[str, Any], ref: LeadgenRef, m: SourceMap) -> Mapped:
    """The Graph API's lead as the canonical lead: answers through the map (``forms``: the
    lead's form id), ``lead_id`` the exact leadgen id, ``received_at`` the lead's
    ``created_time`` (the notification's when the Graph's cannot be read)."""
    mapped = apply_map(m, field_data(lead), ref.form_id or None)
    fields, origin = dict(mapped.fields), dict(mapped.origin)
    fields["lead_id"], origin["lead_id"] = ref.leadgen_id, "leadgen_id"
    made = source_time(str(lead.get("created_time") or "")) or _unix(ref.created_time)
    if made is not None:
        fields["received_at"], origin["received_at"] = made, "created_time"
    for name, value in (("meta_form_id", ref.form_id), ("meta_ad_id", ref.ad_id),
                        ("meta_page_id", ref.page_id)):
        if value:
            fields[name] = value
    return Mapped(fields, origin)


def _unix(text: str) -> str | None:
    from datetime import UTC, datetime

    if not text.isdigit() or len(text) > 12:
        return source_time(text)
    return datetime.fromtimestamp(int(text), UTC).isoformat()
