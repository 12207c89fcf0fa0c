"""Forged Meta notifications and wrong-key Google Ads deliveries mixed into real ones:
nothing of a forged delivery is stored, and no answer is a 5xx."""

from __future__ import annotations

import collections
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.models import Lead as LeadRow
from api.models import RejectedDelivery, SourceFetch
from tests.api.conftest import Clock, make_api
from tests.api.sources_fault import fault_mix
from tests.api.sources_peers import GraphStandIn, source_settings


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    g = GraphStandIn().start()
    yield g
    g.stop()


def run_mix(tmp_path: Path, template: Path, clock: Clock, graph: GraphStandIn, forged: int,
            real: int) -> None:
    deliveries, leads = fault_mix(forged_meta=forged, wrong_google=forged, real_meta=real,
                                  real_google=real)
    graph.leads.update(leads)
    path = tmp_path / "fault.db"
    shutil.copy(template, path)
    app, _ = make_api(f"sqlite:///{path}", clock, **source_settings(graph.url))
    from api.routers.officers import as_row, save_roster
    from tests.conftest import officer_row

    with TestClient(app) as client:
        with app.state.db.writing() as s:
            save_roster(s, [as_row(officer_row("LO1")), as_row(officer_row("LO2"))], clock())
        statuses: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter)
        for d in deliveries:
            r = client.post(d.path, content=d.body, headers=d.headers)
            statuses[d.kind][r.status_code] += 1
        while app.state.fetcher.run_once():
            pass
        with app.state.db.reading() as s:
            externals = set(s.scalars(select(LeadRow.external_id)))
            fetches = s.scalar(select(func.count()).select_from(SourceFetch))
            rejected = s.scalar(select(func.count()).select_from(RejectedDelivery))
    assert all(code < 500 for c in statuses.values() for code in c), statuses
    assert set(statuses["forged-meta"]) <= {401, 403}, statuses["forged-meta"]
    assert set(statuses["wrong-key-google"]) <= {401, 403}, statuses["wrong-key-google"]
    assert statuses["real-meta"] == {200: real} and statuses["real-google"] == {200: real}
    assert len(externals) == 2 * real and fetches == real and rejected == 0
    assert not any(e.startswith("G-FAKE") for e in externals)
    assert sum(1 for e in externals if e.startswith("G-REAL")) == real


def test_forged_deliveries_store_nothing_small(tmp_path: Path, sqlite_template: Path,
                                               clock: Clock, graph: GraphStandIn):
    """Every kind of forgery (each in several copies) among real deliveries: none stored,
    none a 5xx, every real one stored."""
    run_mix(tmp_path, sqlite_template, clock, graph, forged=40, real=5)


@pytest.mark.slow
def test_1000_forged_meta_and_1000_wrong_key_google_store_nothing(
        tmp_path: Path, sqlite_template: Path, clock: Clock, graph: GraphStandIn):
    """1,000 forged Meta notifications and 1,000 wrong-key Google deliveries among 100 real
    ones: zero stored, zero 5xx."""
    run_mix(tmp_path, sqlite_template, clock, graph, forged=1000, real=50)
