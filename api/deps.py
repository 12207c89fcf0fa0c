"""Request dependencies, as ``Annotated`` aliases: the database, the runtime caches, the
clock and the caller (an API key with a scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.db import Database
from api.ingest import Ingestor
from api.problems import ApiProblem
from api.runtime import Runtime
from api.security import Caller, KeyCache, RateLimiter, Scope

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer lr_...`")


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_ingestor(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


MAX_ID = 2**63 - 1  # ids are 64-bit integers in the database
LeadId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the lead's id")]
PolicyId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the policy's id")]
DbDep = Annotated[Database, Depends(get_db)]
IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
NowDep = Annotated[datetime, Depends(get_now)]


async def get_caller(request: Request, db: DbDep,
               creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
               ) -> Caller:
    """The key's caller; 401 for a missing or unknown key, 429 over its rate limit."""
    if creds is None or not creds.credentials:
        raise ApiProblem(401, "an API key is required: Authorization: Bearer <key>",
                         kind="unauthorized", headers={"WWW-Authenticate": "Bearer"})
    keys: KeyCache = request.app.state.keys
    known, caller = keys.cached(creds.credentials)
    if not known:
        with db.reading() as session:
            caller = keys.lookup(session, creds.credentials)
    if caller is None:
        raise ApiProblem(401, "the API key is not valid (unknown or revoked)",
                         kind="unauthorized", headers={"WWW-Authenticate": "Bearer"})
    limiter: RateLimiter = request.app.state.limiter
    request.state.rate_headers = limiter.check(caller)
    request.state.key_prefix = caller.prefix
    return caller


def require(*scopes: Scope) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through keys of ``scopes`` (admin always) and answers 403
    otherwise. Dependencies are ``async``: they do no blocking work (a key not in the
    cache is one quick indexed read), and FastAPI would run a plain ``def`` in the thread
    pool, a thread hop per dependency per request."""
    allowed = {Scope.ADMIN, *scopes}

    async def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.scope not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise ApiProblem(403, f"this needs a key with scope {names}; this key is "
                                  f"{caller.scope.value}", kind="forbidden")
        return caller

    return check


AdminDep = Annotated[Caller, Depends(require())]
IngestDep = Annotated[Caller, Depends(require(Scope.INGEST))]
ReaderDep = Annotated[Caller, Depends(require(Scope.ANALYST, Scope.OFFICER))]
AnalystDep = Annotated[Caller, Depends(require(Scope.ANALYST))]
OfficerDep = Annotated[Caller, Depends(require(Scope.OFFICER))]
