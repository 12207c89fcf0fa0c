"""API keys, scopes and per-key rate limits.

A key is ``lr_`` + its scope + ``_`` + 32 random bytes (256 bits) in URL-safe base64, e.g.
``lr_ingest_3q...``: the prefix says what it is; the key is shown once and only its SHA-256 is
stored (a random key needs no slow password hash), compared in constant time. Scopes:
``ingest`` posts leads; ``officer`` sees and acts on its own officer's leads; ``analyst``
reads leads, officers, policies and the history export; ``admin`` does everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiKey
from api.problems import ApiProblem

log = logging.getLogger("leadroute.security")

class Scope(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    OFFICER = "officer"
    ANALYST = "analyst"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id, scope, officer (officer keys) and rate limit."""

    key_id: int
    prefix: str
    scope: Scope
    officer_id: str | None
    rate_limit: str | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(scope: Scope) -> str:
    return f"lr_{scope.value}_{secrets.token_urlsafe(32)}"


def create_key(session: Session, scope: Scope, now: datetime, *, officer_id: str | None = None,
               name: str = "", rate_limit: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key's hash; returns the row and the key (never stored)."""
    if scope is Scope.OFFICER and not officer_id:
        raise ValueError("an officer key needs the officer's id (--officer)")
    if scope is not Scope.OFFICER and officer_id:
        raise ValueError("only officer keys name an officer")
    if rate_limit is not None:
        parse_rate_limit(rate_limit)
    key = new_key(scope)
    row = ApiKey(prefix=key[: len(f"lr_{scope.value}_") + 6], key_sha256=key_hash(key),
                 scope=scope.value, officer_id=officer_id, name=name, rate_limit=rate_limit,
                 created_at=now)
    session.add(row)
    session.flush()
    return row, key


def parse_rate_limit(text: str) -> RateLimitItem:
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"rate limit {text!r}: expected N/second, N/minute or N/hour") \
            from None


class KeyCache:
    """Known keys by hash for a few seconds (a revoked key stops working within ``ttl_s``)."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._found: dict[str, tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Caller | None]:
        """(known, caller) from the cache alone; ``known`` False means: look it up."""
        with self._lock:
            hit = self._found.get(key_hash(key))
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def lookup(self, session: Session, key: str) -> Caller | None:
        digest = key_hash(key)
        now = time.monotonic()
        with self._lock:
            hit = self._found.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == digest))
        caller = None
        if row is not None and row.revoked_at is None \
                and hmac.compare_digest(row.key_sha256, digest):
            caller = Caller(row.id, row.prefix, Scope(row.scope), row.officer_id,
                            row.rate_limit)
        with self._lock:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[digest] = (now, caller)
        return caller


class RateLimiter:
    """A sliding window per key (two fixed-window counters weighted, as ``limits`` does it:
    constant work per request). ``storage``: a ``limits`` storage URI; ``memory://`` counts
    in this process (with several workers each keeps its own count, so the limit applies per
    worker), ``redis://host:6379`` shares one count among every worker and server. Should the
    shared storage be unreachable, requests are let through and the failure logged: a rate
    limit that fails closed would turn a cache outage into an API outage."""

    def __init__(self, default: str, storage: str = "memory://") -> None:
        self.default = parse_rate_limit(default)
        self._limiter = SlidingWindowCounterRateLimiter(_storage(storage))
        self._items: dict[str, RateLimitItem] = {}

    def check(self, caller: Caller) -> dict[str, str]:
        """Count a request; raise 429 with Retry-After when over the limit. Returns the
        RateLimit headers to send."""
        item = self.default
        if caller.rate_limit:
            item = self._items.get(caller.rate_limit) or self._items.setdefault(
                caller.rate_limit, parse_rate_limit(caller.rate_limit))
        ident = str(caller.key_id)
        try:
            allowed = self._limiter.hit(item, ident)
            stats = self._limiter.get_window_stats(item, ident)
        except Exception:  # the shared storage is away: let the request through
            log.warning("rate limit storage unreachable; request not counted")
            return {}
        reset_s = max(1, math.ceil(stats.reset_time - time.time()))
        window_s = item.get_expiry()
        headers = {"RateLimit-Policy": f'"default";q={item.amount};w={window_s}',
                   "RateLimit": f'"default";r={stats.remaining};t={reset_s}'}
        if not allowed:
            raise ApiProblem(429, f"rate limit of {item.amount} requests per {window_s} s "
                                  f"for this key reached; retry in {reset_s} s",
                             kind="rate-limited",
                             headers={**headers, "Retry-After": str(reset_s)})
        return headers


def _storage(uri: str) -> Storage:
    """The ``limits`` storage named by ``uri`` (LEADROUTE_RATE_LIMIT_STORAGE), checked now."""
    try:
        found = storage_from_string(uri)
    except Exception as exc:  # ConfigurationError, or the backend's client not installed
        raise ValueError(f"LEADROUTE_RATE_LIMIT_STORAGE={uri!r} cannot be used: {exc}") from exc
    if not isinstance(found, Storage):  # an async storage (async+redis://): not for us
        raise ValueError(f"LEADROUTE_RATE_LIMIT_STORAGE={uri!r}: use a synchronous storage")
    if not isinstance(found, MemoryStorage) and not found.check():
        raise ValueError(f"LEADROUTE_RATE_LIMIT_STORAGE={uri!r}: the storage does not answer")
    return found
