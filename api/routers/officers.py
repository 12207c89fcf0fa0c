"""``/v1/officers``: the roster (list, create, update), an officer's status and time off.
An officer who goes away while a lead is offered to them has the offer moved on at once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import AdminDep, AnalystDep, DbDep, NowDep, RuntimeDep
from api.flow import Tx, act, lock_lead, try_held
from api.models import Lead as LeadRow
from api.models import LeadOfficer, OfficerState
from api.models import Officer as OfficerRow
from api.problems import ApiProblem, invalid
from api.routers.leads import CONFLICT, ERRORS, INVALID, NOT_FOUND
from api.runtime import Runtime, read_config
from api.schemas import OfficerIn, OfficerOut, OfficerPage, OfficerPatch, StatusIn, TimeOffIn
from api.views import decode_cursor, encode_cursor
from engine.errors import InputError, Problem
from engine.lifecycle import Case, Stage
from engine.roster import OFFICER_COLUMNS, OPTIONAL_OFFICER_COLUMNS, Roster, parse_officers

router = APIRouter(prefix="/v1/officers", tags=["officers"])
COLUMNS = (*OFFICER_COLUMNS, *OPTIONAL_OFFICER_COLUMNS)


def as_row(fields: dict[str, Any]) -> dict[str, str]:
    """Officer fields as the roster CSV's text (lists joined with ``;``)."""
    out: dict[str, str] = {}
    for name in COLUMNS:
        value = fields.get(name)
        if value is None:
            out[name] = ""
        elif isinstance(value, list):
            out[name] = ";".join(str(v) for v in value)
        elif isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        else:
            out[name] = str(value)
    return out


def save_roster(session: Any, changed: list[dict[str, str]], now: datetime) -> None:
    """Check the whole roster with the changed rows (backups must exist, ids are unique),
    then write them and give the roster a new version. 422 with every problem otherwise."""
    existing = {r.officer_id: r for r in session.scalars(select(OfficerRow))}
    rows = {oid: r.row for oid, r in existing.items()}
    rows.update({r["officer_id"]: r for r in changed})
    try:
        Roster(parse_officers(list(rows.values()), source="roster"))
    except InputError as exc:
        raise invalid(exc.problems, "the officer has invalid fields") from None
    except (OverflowError, ValueError) as exc:  # a number too large for the roster's arrays
        raise invalid([Problem("roster", "", f"cannot be compiled: {exc}")]) from None
    for r in changed:
        oid = r["officer_id"]
        found = existing.get(oid)
        if found is None:
            session.add(OfficerRow(officer_id=oid, row=r, created_at=now, updated_at=now))
            session.add(OfficerState(officer_id=oid, open_leads=0, day_key=0, day_count=0,
                                     hour_key=0, hour_count=0, price=0.0, reserved=0))
        else:
            found.row, found.updated_at = r, now
    read_config(session, lock=True).roster_version = secrets.randbits(62)
    session.flush()


def _out(row: OfficerRow, state: OfficerState | None, moved: list[int] | None = None
         ) -> OfficerOut:
    counters = {} if state is None else {
        "open_leads": state.open_leads, "day_count": state.day_count,
        "hour_count": state.hour_count, "reserved": state.reserved,
        "last_assigned_s": state.last_assigned_s}
    return OfficerOut(officer_id=row.officer_id, fields=row.row, state=counters,
                      moved_on=moved or [])


def _away_now(runtime: Runtime, tx: Tx, officer_id: str) -> bool:
    """Whether the officer is away now (status or time off), by the roster just saved."""
    i = tx.roster.index[officer_id]
    officer = tx.roster.officers[i]
    return officer.status.value == "away" or any(p.covers(tx.now) for p in officer.away)


def _after_change(session: Any, runtime: RuntimeDep, now: datetime, officer_id: str
                  ) -> list[int]:
    """Move on the open offers of an officer who is away now; try held leads for one who is
    back. Lead rows are locked before the routing state, as everywhere."""
    offered = list(session.scalars(
        select(LeadRow.id).join(LeadOfficer, LeadOfficer.lead_id == LeadRow.id)
        .where(LeadOfficer.officer_id == officer_id,
               LeadRow.stage == Stage.OFFERED.value).order_by(LeadRow.id)))
    rows = [r for r in (lock_lead(session, i) for i in offered) if r is not None]
    tx = Tx.open(session, runtime, now)
    moved: list[int] = []
    if _away_now(runtime, tx, officer_id):
        for row in rows:
            offer = Case.from_record(row.case).offer
            if row.stage == Stage.OFFERED.value and offer is not None \
                    and officer_id in offer.live():
                act(tx, row, "away", officer_id)
                moved.append(row.id)
    else:
        for _ in range(100):  # back: their free slots may take held leads now
            if not try_held(tx, officer_id):
                break
    tx.finish()
    return moved


@router.get("", response_model=OfficerPage, responses={**ERRORS, **INVALID})
def list_officers(caller: AnalystDep, db: DbDep,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  cursor: Annotated[str | None, Query(max_length=100)] = None) -> OfficerPage:
    """The roster with each officer's routing counters, by officer id."""
    q = select(OfficerRow, OfficerState).outerjoin(
        OfficerState, OfficerState.officer_id == OfficerRow.officer_id
    ).order_by(OfficerRow.officer_id).limit(limit + 1)
    if cursor is not None:
        q = q.where(OfficerRow.officer_id > decode_cursor(cursor))
    with db.reading() as s:
        rows = s.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return OfficerPage(items=[_out(o, st) for o, st in rows],
                       next=encode_cursor(rows[-1][0].officer_id) if more and rows else None)


@router.get("/{officer_id}", response_model=OfficerOut, responses={**ERRORS, **NOT_FOUND})
def get_officer(officer_id: str, caller: AnalystDep, db: DbDep) -> OfficerOut:
    with db.reading() as s:
        row = s.get(OfficerRow, officer_id)
        if row is None:
            raise ApiProblem(404, "no such officer", kind="not-found")
        return _out(row, s.get(OfficerState, officer_id))


@router.post("", status_code=201, response_model=OfficerOut,
             responses={**ERRORS, **INVALID, 409: {"description": "the id exists"}})
def create_officer(body: OfficerIn, caller: AdminDep, db: DbDep, now: NowDep) -> OfficerOut:
    """Add an officer (fields as in the roster CSV)."""
    row = as_row(body.model_dump())
    with db.writing() as s:
        if s.get(OfficerRow, body.officer_id) is not None:
            raise ApiProblem(409, f"officer {body.officer_id} exists; PATCH it",
                             kind="conflict")
        save_roster(s, [row], now)
        return _out(s.get_one(OfficerRow, body.officer_id),
                    s.get(OfficerState, body.officer_id))


def _update(officer_id: str, changes: dict[str, Any], db: DbDep, runtime: RuntimeDep,
            now: datetime) -> OfficerOut:
    with db.writing() as s:
        found = s.get(OfficerRow, officer_id)
        if found is None:
            raise ApiProblem(404, "no such officer", kind="not-found")
        fields: dict[str, Any] = dict(found.row)
        fields.update(changes)
        save_roster(s, [as_row(fields)], now)
        moved = _after_change(s, runtime, now, officer_id)
        return _out(s.get_one(OfficerRow, officer_id), s.get(OfficerState, officer_id), moved)


@router.patch("/{officer_id}", response_model=OfficerOut,
              responses={**ERRORS, **NOT_FOUND, **INVALID, **CONFLICT})
def update_officer(officer_id: str, body: OfficerPatch, caller: AdminDep, db: DbDep,
                   runtime: RuntimeDep, now: NowDep) -> OfficerOut:
    """Change some of an officer's fields."""
    return _update(officer_id, body.model_dump(exclude_unset=True), db, runtime, now)


@router.post("/{officer_id}/status", response_model=OfficerOut,
             responses={**ERRORS, **NOT_FOUND, **INVALID})
def set_status(officer_id: str, body: StatusIn, caller: AdminDep, db: DbDep,
               runtime: RuntimeDep, now: NowDep) -> OfficerOut:
    """`away`: open offers to the officer move on at once; `active`: back, held leads may
    take their free slots."""
    return _update(officer_id, {"status": body.status}, db, runtime, now)


@router.post("/{officer_id}/time-off", response_model=OfficerOut,
             responses={**ERRORS, **NOT_FOUND, **INVALID})
def add_time_off(officer_id: str, body: TimeOffIn, caller: AdminDep, db: DbDep,
                 runtime: RuntimeDep, now: NowDep) -> OfficerOut:
    """Add time off from `start` to `end`; if it has begun, open offers move on."""
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise invalid([Problem("start", body.start.isoformat(), "needs a UTC offset")])
    if body.end <= body.start:
        raise invalid([Problem("end", body.end.isoformat(), "must be after start")])
    with db.reading() as s:
        found = s.get(OfficerRow, officer_id)
        away = "" if found is None else found.row.get("away", "")
    period = f"{body.start.isoformat()}/{body.end.isoformat()}"
    return _update(officer_id, {"away": f"{away};{period}" if away else period}, db, runtime,
                   now)
