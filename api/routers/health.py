"""``GET /healthz``: the process is up and the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DbDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health,
            responses={503: {"description": "the database cannot be reached"}})
def healthz(db: DbDep) -> Health | JSONResponse:
    """200 when the database is reachable; 503 otherwise."""
    try:
        with db.reading() as s:
            s.execute(text("SELECT 1"))
    except Exception:  # any driver error means: not reachable
        return JSONResponse({"status": "unavailable", "database": db.dialect},
                            status_code=503)
    return Health(status="ok", database=db.dialect)
