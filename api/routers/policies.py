"""``/v1/policies``: upload (validated; errors carry the YAML path), list, activate, an A/B
or shadow candidate, and a dry run on the last stored leads."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import AdminDep, AnalystDep, DbDep, NowDep, PolicyId, RuntimeDep
from api.dryrun import compare, replay
from api.models import Lead as LeadRow
from api.models import Policy as PolicyRow
from api.problems import ApiProblem
from api.routers.leads import CONFLICT, ERRORS, INVALID, NOT_FOUND
from api.runtime import read_config
from api.schemas import (
    CandidateIn,
    CandidateOut,
    DryRunLead,
    DryRunOut,
    PolicyIn,
    PolicyList,
    PolicyOut,
)
from engine.rules import PolicyError, parse_policy

router = APIRouter(prefix="/v1/policies", tags=["policies"])


def _out(row: PolicyRow, active_id: int | None, candidate_id: int | None, mode: str,
         *, text: bool = False) -> PolicyOut:
    return PolicyOut(id=row.id, name=row.name, version=row.version, sha256=row.sha256,
                     created_at=row.created_at, active=row.id == active_id,
                     candidate=mode if row.id == candidate_id and mode != "off" else None,
                     yaml=row.text if text else None)


@router.post("", status_code=201, response_model=PolicyOut,
             responses={200: {"description": "this very file was uploaded before"},
                        409: {"description": "another file has this name and version"},
                        **ERRORS, **INVALID})
def upload(body: PolicyIn, response: Response, caller: AdminDep, db: DbDep,
           now: NowDep) -> PolicyOut:
    """Store a policy file after validating it as `leadroute policy check` does; a problem
    is a 422 whose error names the YAML path. A policy routes only once activated."""
    if "\x00" in body.yaml:
        raise ApiProblem(422, "the policy is not text", kind="validation",
                         errors=[{"field": "yaml", "message": "contains a NUL character",
                                  "value": None}])
    try:
        policy = parse_policy(body.yaml, source="<upload>")
    except PolicyError as exc:
        raise ApiProblem(422, f"the policy is not valid: {exc.path}: {exc.message}",
                         kind="invalid-policy",
                         errors=[{"field": exc.path, "message": exc.message,
                                  "value": None}]) from None
    if len(policy.name) > 200 or len(policy.version) > 100:
        raise ApiProblem(422, "the policy's name or version is too long", kind="validation",
                         errors=[{"field": "policy", "value": policy.name[:50],
                                  "message": "name up to 200, version up to 100 characters"}])
    digest = hashlib.sha256(body.yaml.encode()).hexdigest()
    try:
        with db.writing() as s:
            row = PolicyRow(name=policy.name, version=policy.version, text=body.yaml,
                            sha256=digest, created_at=now)
            s.add(row)
            s.flush()
            cfg = read_config(s)
            return _out(row, cfg.active_policy_id, cfg.candidate_policy_id,
                        cfg.candidate_mode)
    except IntegrityError:
        pass
    with db.reading() as s:
        found = s.scalar(select(PolicyRow).where(PolicyRow.name == policy.name,
                                                 PolicyRow.version == policy.version))
        if found is None or found.sha256 != digest:
            raise ApiProblem(409, f"policy {policy.name} version {policy.version} exists with "
                                  "other content; raise the version", kind="conflict")
        cfg = read_config(s)
        response.status_code = 200
        return _out(found, cfg.active_policy_id, cfg.candidate_policy_id, cfg.candidate_mode)


@router.get("", response_model=PolicyList, responses=ERRORS)
def list_policies(caller: AnalystDep, db: DbDep, runtime: RuntimeDep) -> PolicyList:
    """Every uploaded policy, which one routes and which is the candidate."""
    with db.reading() as s:
        cfg = read_config(s)
        rows = s.scalars(select(PolicyRow).order_by(PolicyRow.id)).all()
        return PolicyList(items=[_out(r, cfg.active_policy_id, cfg.candidate_policy_id,
                                      cfg.candidate_mode) for r in rows],
                          default_policy=str(runtime.settings.default_policy))


@router.get("/candidate", response_model=CandidateOut, responses=ERRORS)
def get_candidate(caller: AnalystDep, db: DbDep) -> CandidateOut:
    with db.reading() as s:
        cfg = read_config(s)
        return CandidateOut(active_policy_id=cfg.active_policy_id,
                            candidate_policy_id=cfg.candidate_policy_id,
                            mode=cfg.candidate_mode, share=cfg.candidate_share)


@router.put("/candidate", response_model=CandidateOut,
            responses={**ERRORS, **INVALID, **NOT_FOUND})
def set_candidate(body: CandidateIn, caller: AdminDep, db: DbDep) -> CandidateOut:
    """`ab`: the candidate routes `share` of new leads (a fixed draw per lead; the arm's
    probability is logged with each lead and multiplies its propensity in the history
    export). `shadow`: the candidate decides alongside the routing policy on every lead and
    its choice is only logged. `off` (or `policy_id: null`) ends the experiment."""
    with db.writing() as s:
        if body.policy_id is not None and s.get(PolicyRow, body.policy_id) is None:
            raise ApiProblem(404, "no such policy", kind="not-found")
        cfg = read_config(s, lock=True)
        off = body.policy_id is None or body.mode == "off"
        cfg.candidate_policy_id = None if off else body.policy_id
        cfg.candidate_mode = "off" if off else body.mode
        cfg.candidate_share = body.share if body.mode == "ab" and not off else 0.0
        s.flush()
        return CandidateOut(active_policy_id=cfg.active_policy_id,
                            candidate_policy_id=cfg.candidate_policy_id,
                            mode=cfg.candidate_mode, share=cfg.candidate_share)


@router.get("/{policy_id}", response_model=PolicyOut, responses={**ERRORS, **NOT_FOUND})
def get_policy(policy_id: PolicyId, caller: AnalystDep, db: DbDep) -> PolicyOut:
    with db.reading() as s:
        row = s.get(PolicyRow, policy_id)
        if row is None:
            raise ApiProblem(404, "no such policy", kind="not-found")
        cfg = read_config(s)
        return _out(row, cfg.active_policy_id, cfg.candidate_policy_id, cfg.candidate_mode,
                    text=True)


@router.post("/{policy_id}/activate", response_model=PolicyOut,
             responses={**ERRORS, **NOT_FOUND})
def activate(policy_id: PolicyId, caller: AdminDep, db: DbDep) -> PolicyOut:
    """Route new leads with this policy (leads already routed keep theirs for life)."""
    with db.writing() as s:
        row = s.get(PolicyRow, policy_id)
        if row is None:
            raise ApiProblem(404, "no such policy", kind="not-found")
        cfg = read_config(s, lock=True)
        cfg.active_policy_id = policy_id
        if cfg.candidate_policy_id == policy_id:
            cfg.candidate_policy_id, cfg.candidate_mode, cfg.candidate_share = None, "off", 0.0
        s.flush()
        return _out(row, cfg.active_policy_id, cfg.candidate_policy_id, cfg.candidate_mode)


@router.post("/{policy_id}/dry-run", response_model=DryRunOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT})
def dry_run(policy_id: PolicyId, caller: AnalystDep, db: DbDep, runtime: RuntimeDep,
            last: Annotated[int, Query(ge=1, le=5000)] = 200) -> DryRunOut:
    """Replay the last `last` stored leads under the routing policy and under this one,
    from the same empty state in arrival order, and say lead by lead what would change."""
    with db.reading() as s:
        if s.get(PolicyRow, policy_id) is None:
            raise ApiProblem(404, "no such policy", kind="not-found")
        cfg = runtime.config(s)
        roster = runtime.roster(s, cfg.roster_version)
        current = runtime.routing(s, cfg.active_id)
        candidate = runtime.routing(s, policy_id)
        rows = list(s.scalars(select(LeadRow).order_by(LeadRow.id.desc()).limit(last)))
    rows.sort(key=lambda r: (r.created_at, r.id))
    leads = [runtime.lead(r) for r in rows]
    times = [r.created_at for r in rows]
    stored = [{"status": r.first_status, "officer_id": r.officer_id} for r in rows]
    now_rows = replay(leads, times, roster, current)
    new_rows = replay(leads, times, roster, candidate)
    items, counts = compare([r.id for r in rows], stored, now_rows, new_rows)
    name = current.policy
    return DryRunOut(policy_id=policy_id, compared_with=f"{name.name} v{name.version}",
                     leads=[DryRunLead(**i) for i in items], counts=counts)
