"""Lead vendors, web forms and referrals: a JSON or form-encoded post through the source's
map (``vendors/<name>.yaml``, ``web.yaml``, ``referrals/<partner>.yaml``), and the answer in
the shape the vendor expects. Pure functions; adding a vendor is a map file, not code."""

from __future__ import annotations

from typing import Any

from api.sources.mapping import Answer, Mapped, SourceMap, apply_map, read_payload

DEFAULT_CREATED = Answer(status=201, body={"id": "{id}", "status": "{status}"})


def map_post(raw: bytes, content_type: str, m: SourceMap) -> Mapped:
    """A post's body as the canonical lead (``MappingError`` naming each bad field)."""
    return apply_map(m, read_payload(raw, content_type))


def _fill(value: Any, slots: dict[str, str]) -> Any:
    if isinstance(value, str):
        out = value
        for k, v in slots.items():
            out = out.replace("{" + k + "}", v)
        return out
    if isinstance(value, dict):
        return {k: _fill(v, slots) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, slots) for v in value]
    return value


def answer(m: SourceMap, *, lead_id: int, external_id: str | None, status: str,
           repeated: bool) -> tuple[int, dict[str, Any]]:
    """The status and body to answer a stored (or already stored) lead with."""
    slots = {"id": str(lead_id), "external_id": external_id or "", "status": status}
    answers = m.answers
    created = answers.created if answers is not None else DEFAULT_CREATED
    if repeated:
        again = answers.repeated if answers is not None else None
        if again is None:
            return 200, _fill(created.body, slots)
        return again.status, _fill(again.body, slots)
    return created.status, _fill(created.body, slots)


def failure_fields(m: SourceMap, reason: str) -> dict[str, Any]:
    """What the vendor's map adds to a 422 problem body (e.g. LeadConduit's ``outcome``)."""
    if m.answers is None or not m.answers.failed:
        return {}
    out: dict[str, Any] = _fill(m.answers.failed, {"reason": reason})
    return out
