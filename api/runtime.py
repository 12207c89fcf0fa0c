"""What every transaction needs besides its rows: the roster, the policies and their
lifecycles, compiled once and reused while they do not change.

The roster is rebuilt when ``config.roster_version`` changes (every officer change sets a new
random version, so a rolled-back change never leaves a stale roster behind its number);
policies never change once uploaded (a new version is a new row), so they are cached by id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Config
from api.models import Lead as LeadRow
from api.models import Officer as OfficerRow
from api.models import Policy as PolicyRow
from api.settings import Settings
from engine.decide import policy_scorer
from engine.domain import Lead
from engine.leads import LeadParser
from engine.lifecycle import Lifecycle
from engine.policies import Scorer
from engine.roster import Roster, parse_officers
from engine.rules import Policy, load_policy, parse_policy


@dataclass(frozen=True, slots=True)
class Routing:
    """A policy as the API uses it: its database id (None: the default file)."""

    policy_id: int | None
    policy: Policy
    scorer: Scorer | None


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Which policies route now (``config`` row 1)."""

    active_id: int | None
    candidate_id: int | None
    mode: str  # off, ab, shadow
    share: float
    roster_version: int
    prices_set_s: float | None = None


_c = Config.__table__.c
_READ_CONFIG = select(_c.active_policy_id, _c.candidate_policy_id, _c.candidate_mode,
                      _c.candidate_share, _c.roster_version, _c.prices_set_s).where(_c.id == 1)


def read_config(session: Session, *, lock: bool = False) -> Config:
    """Config row 1 (created when missing)."""
    q = select(Config).where(Config.id == 1)
    if lock:
        q = q.with_for_update()
    row = session.scalar(q)
    if row is None:
        row = Config(id=1, candidate_mode="off", candidate_share=0.0, roster_version=0)
        session.add(row)
        session.flush()
    return row


class Runtime:
    """Caches shared by the requests and the worker of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parser = LeadParser.default()
        self._lock = threading.Lock()
        self._roster: tuple[int, Roster] | None = None
        self._routings: dict[int | None, Routing] = {}
        self._lives: dict[tuple[int, int | None], Lifecycle] = {}
        self._leads: OrderedDict[tuple[int, str], Lead] = OrderedDict()

    # -- configuration -----------------------------------------------------------------

    def config(self, session: Session) -> RoutingConfig:
        row = session.execute(_READ_CONFIG).first()
        if row is None:
            made = read_config(session)
            return RoutingConfig(made.active_policy_id, made.candidate_policy_id,
                                 made.candidate_mode, made.candidate_share,
                                 made.roster_version, made.prices_set_s)
        return RoutingConfig(*row)

    def roster(self, session: Session, version: int | None = None) -> Roster:
        """The roster as this transaction sees it."""
        if version is None:
            version = self.config(session).roster_version
        with self._lock:
            cached = self._roster
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = session.scalars(select(OfficerRow).order_by(OfficerRow.officer_id)).all()
        roster = Roster(parse_officers([r.row for r in rows], source="officers table"))
        with self._lock:
            self._roster = (version, roster)
            self._lives = {k: v for k, v in self._lives.items() if k[0] == version}
        return roster

    def routing(self, session: Session, policy_id: int | None) -> Routing:
        """A stored policy (or the default file for None), compiled once."""
        with self._lock:
            found = self._routings.get(policy_id)
        if found is not None:
            return found
        if policy_id is None:
            policy = load_policy(self.settings.default_policy)
        else:
            row = session.get(PolicyRow, policy_id)
            if row is None:
                raise LookupError(f"policy {policy_id} does not exist")
            policy = parse_policy(row.text, source=f"<policy {policy_id}>")
        found = Routing(policy_id, policy, policy_scorer(policy))
        with self._lock:
            self._routings[policy_id] = found
        return found

    def lifecycle(self, roster: Roster, version: int, routing: Routing) -> Lifecycle:
        key = (version, routing.policy_id)
        with self._lock:
            life = self._lives.get(key)
        if life is None:
            life = Lifecycle.for_policy(roster, routing.policy, scorer=routing.scorer)
            with self._lock:
                self._lives[key] = life
        return life

    # -- leads -------------------------------------------------------------------------

    def remember(self, row: LeadRow, lead: Lead) -> None:
        """Keep a lead parsed elsewhere (on arrival) for ``lead``."""
        with self._lock:
            self._leads[(row.id, row.request_sha256)] = lead

    def lead(self, row: LeadRow) -> Lead:
        """The engine's ``Lead`` of a stored lead (parsed once; ``lead_id`` is its id)."""
        key = (row.id, row.request_sha256)
        with self._lock:
            found = self._leads.get(key)
            if found is not None:
                self._leads.move_to_end(key)
                return found
        lead = self.parse(row.payload, row.id)
        with self._lock:
            self._leads[key] = lead
            if len(self._leads) > 20_000:
                self._leads.popitem(last=False)
        return lead

    def parse(self, payload: dict[str, Any], lead_id: int | str) -> Lead:
        return self.parser.parse({**payload, "lead_id": str(lead_id)}, f"lead {lead_id}")


def utc_now() -> datetime:
    return datetime.now(UTC)
