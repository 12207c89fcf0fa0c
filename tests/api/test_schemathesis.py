"""schemathesis over the OpenAPI schema: generated requests to every operation (with an admin
key, so they reach the handlers), well over a thousand in all, and never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from api.security import Scope
from api.settings import Settings
from tests.api.conftest import Api, Clock, make_api

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 40
CASES: list[int] = []  # requests made, over all operations


@pytest.fixture(scope="module")
def app_api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Api]:
    import shutil

    path = tmp_path_factory.mktemp("schemathesis") / "api.db"
    shutil.copy(sqlite_template, path)
    clock = Clock()
    app, _ = make_api(f"sqlite:///{path}", clock)
    with TestClient(app) as client:  # runs the lifespan: the app's state stays set up
        out = Api(client, app.state.db, clock)
        out.keys["admin"] = out.key(Scope.ADMIN)
        out.officers("A", "B", ("C", {"licensed_states": "TX;CA", "max_open": "2"}))
        for _ in range(3):
            client.post("/v1/leads", headers=out.headers(), json={
                "source": "web", "zip": "75201", "loan_purpose": "purchase",
                "loan_program": "conventional", "loan_amount": 250000,
                "email": f"s{_}@example.com"})
        yield out


def _operations() -> list[tuple[str, str]]:
    """Every operation of the schema, as (method, path) (the schema needs no database)."""
    app = create_app(Settings(database_url="sqlite:///:memory:"), worker=False)
    return [(m, p) for p, item in app.openapi()["paths"].items() for m in item]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def operations(app_api: Api) -> dict[tuple[str, str], Any]:
    """The schema's operations, calling the app under test."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_api.client.app)
    found = [op.ok() for op in schema.get_all_operations()]
    return {(op.method.lower(), op.path): op for op in found}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
@pytest.mark.parametrize("key", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_generated_requests_never_get_a_5xx(key: tuple[str, str], mode: GenerationMode,
                                            app_api: Api,
                                            operations: dict[tuple[str, str], Any]) -> None:
    """Whatever the generated request (valid by the schema, or not), the answer is not a
    server error."""
    operation = operations[key]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers=app_api.headers())
        CASES.append(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            response.text[:500])

    try:
        run()
    except Unsatisfiable:  # an operation without inputs has no invalid requests
        pytest.skip(f"no {mode.value} requests to generate for {key[1]}")


def test_generated_requests_were_over_a_thousand() -> None:
    """The run above made at least 1,000 requests (runs after it, in file order)."""
    if not CASES:
        pytest.skip("run with the generated-requests test")
    assert len(CASES) >= 1000, len(CASES)
