"""Google Ads lead form webhook: the shared key checked, ``user_column_data`` mapped by
``column_id`` to the canonical lead (custom question ids by configuration,
``google_ads.yaml``, per form id under ``forms``). Pure functions.

The key travels in the body (``google_key``; there is no signature header), so the body is
parsed first and nothing is kept of a delivery whose key is missing (401) or wrong (403,
compared in constant time). Unknown fields are ignored, as Google asks. ``is_test`` marks
Google's "send test data" leads: stored and flagged, not routed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from api.sources.common import Refused, source_time
from api.sources.mapping import Mapped, MappingError, SourceMap, apply_map, parse_json
from engine.errors import Problem

MAX_LEAD_ID = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery whose key matched: the lead as mapped and whether it is a test lead."""

    mapped: Mapped
    is_test: bool


def authenticate(raw: bytes, google_key: str | None) -> dict[str, Any]:
    """The parsed body when its ``google_key`` is ours; ``Refused`` otherwise (a body that
    is not a JSON object carries no key we can trust either: 401)."""
    if not google_key:
        raise Refused(403, "Google Ads webhooks are not configured on this server "
                           "(LEADROUTE_GOOGLE_ADS_KEY)")
    try:
        data = parse_json(raw)
    except MappingError:
        raise Refused(401, "the body is not JSON, so it carries no google_key") from None
    if not isinstance(data, dict):
        raise Refused(401, "the body is not a JSON object, so it carries no google_key")
    key = data.get("google_key")
    if not isinstance(key, str) or not key:
        raise Refused(401, "google_key is missing")
    if not hmac.compare_digest(key.encode("utf-8"), google_key.encode("utf-8")):
        raise Refused(403, "google_key does not match")
    return data


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def map_delivery(data: dict[str, Any], m: SourceMap) -> Delivery:
    """An authenticated body as the canonical lead. Raises ``MappingError`` naming each bad
    field (``user_column_data[2].column_id`` and the like)."""
    problems: list[Problem] = []
    lead_id = data.get("lead_id")
    if not isinstance(lead_id, str | int) or isinstance(lead_id, bool) \
            or not str(lead_id).strip() or len(str(lead_id)) > MAX_LEAD_ID:
        problems.append(Problem("lead_id", str(lead_id)[:40],
                                f"expected the lead's id, 1 to {MAX_LEAD_ID} characters"))
    columns = data.get("user_column_data")
    flat: dict[str, str] = {}
    if not isinstance(columns, list):
        problems.append(Problem("user_column_data", "", "expected a list of {column_id, "
                                                        "string_value}"))
        columns = []
    for i, col in enumerate(columns):
        if not isinstance(col, dict) or not isinstance(col.get("column_id"), str) \
                or not col["column_id"]:
            problems.append(Problem(f"user_column_data[{i}].column_id", "",
                                    "expected a column id"))
            continue
        value = col.get("string_value")
        if value is not None and not isinstance(value, str | int | float):
            problems.append(Problem(f"user_column_data[{i}].string_value", "",
                                    "expected text"))
            continue
        if col["column_id"] in flat:
            problems.append(Problem(f"user_column_data[{i}].column_id", col["column_id"],
                                    "is given more than once"))
            continue
        flat[col["column_id"]] = "" if value is None else str(value)
    if problems:
        raise MappingError(problems)
    form_id = data.get("form_id")
    mapped = apply_map(m, flat, None if form_id is None else str(form_id))
    fields, origin = dict(mapped.fields), dict(mapped.origin)
    fields["lead_id"], origin["lead_id"] = str(lead_id).strip(), "lead_id"
    submitted = source_time(str(data.get("lead_submit_time") or ""))
    if submitted is not None:
        fields["received_at"], origin["received_at"] = submitted, "lead_submit_time"
    for name in ("form_id", "campaign_id", "adgroup_id", "creative_id", "gcl_id",
                 "asset_group_id"):
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            fields[f"google_{name}"] = str(value)[:200]
    if "campaign" not in fields and data.get("campaign_id") is not None:
        fields["campaign"] = f"google_ads-{data['campaign_id']}"[:200]
    return Delivery(Mapped(fields, origin), _flag(data.get("is_test")))
