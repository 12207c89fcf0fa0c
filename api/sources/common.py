"""What every source adapter shares: the refusal of a delivery that cannot be trusted, and a
source's time of receipt read leniently (a time we cannot read is replaced by ours, never a
reason to lose a lead)."""

from __future__ import annotations

import re

from engine.leads import parse_timestamp

_BASIC_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


class Refused(Exception):
    """A delivery that is not authentic (no signature or key: 401; a wrong one: 403).
    Nothing of it is stored."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def source_time(text: str) -> str | None:
    """A source's timestamp as ISO 8601 with an offset (``2015-11-12T15:27:06+0000`` gains
    its colon; a space instead of ``T`` is read too), or None when it is not one."""
    t = text.strip()
    if not t:
        return None
    t = _BASIC_OFFSET.sub(r"\1:\2", t)
    if len(t) > 10 and t[10] == " ":
        t = t[:10] + "T" + t[11:]
    moment = parse_timestamp(t)
    return None if moment is None else moment.isoformat()
