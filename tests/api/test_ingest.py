"""New leads routed in groups: the same outcome as one transaction per lead."""

from __future__ import annotations

from typing import Any

import pytest

import api.ingest as api_ingest
from api.flow import request_hash
from api.ingest import Ingestor, Job
from api.intake import read_lead
from tests.api.conftest import Api, lead_body


def _job(api: Api, **fields: Any) -> Job:
    runtime = api.client.app.state.runtime  # type: ignore[attr-defined]
    payload, external_id, lead = read_lead(lead_body(**fields), runtime.parser, api.clock())
    return Job(payload, external_id, lead, request_hash(payload), 1, None, api.clock())


def _ingestor(api: Api) -> Ingestor:
    app = api.client.app
    return Ingestor(app.state.db, app.state.runtime)  # type: ignore[attr-defined]


def test_group_links_a_repeat_within_the_group(api: Api):
    """Two leads of one borrower in the same group: the second goes to the first's officer."""
    api.officers("A", "B", "C")
    first, second = _ingestor(api)._store([_job(api, phone="(312) 555-0142"),
                                           _job(api, phone="(312) 555-0142")])
    assert first is not None and second is not None
    assert second.duplicate_of == first.id
    assert second.assignment.officer_id == first.assignment.officer_id


def test_group_leaves_out_a_lead_posted_twice(api: Api):
    """The same source id twice in one group: stored once, the second answer is None."""
    api.officers("A")
    out = _ingestor(api)._store([_job(api, external_id="S-1"), _job(api, external_id="S-1")])
    assert out[0] is not None and out[1] is None


def test_group_rotation_matches_one_by_one(api: Api):
    """A group of six goes round three equal officers twice, as six single posts would."""
    api.officers("A", "B", "C")
    out = _ingestor(api)._store([_job(api) for _ in range(6)])
    officers = [o.assignment.officer_id for o in out if o is not None]
    assert sorted(officers) == ["A", "A", "B", "B", "C", "C"]
    assert officers[:3] == officers[3:]


def test_group_failure_falls_back_to_one_by_one(api: Api, monkeypatch: pytest.MonkeyPatch):
    """When one lead of a group fails, the others are still stored, each on its own."""
    api.officers("A")
    real = api_ingest.arrive

    def failing(tx: Any, row: Any, lead: Any, **kw: Any) -> Any:
        if lead.source == "broken":
            raise RuntimeError("boom")
        return real(tx, row, lead, **kw)

    monkeypatch.setattr(api_ingest, "arrive", failing)
    ingestor = _ingestor(api)
    jobs = [_job(api), _job(api, source="broken"), _job(api)]
    ingestor._queue.put(jobs[0])
    ingestor._queue.put(jobs[1])
    ingestor._queue.put(jobs[2])
    ingestor._queue.put(None)
    ingestor._run()
    assert jobs[0].answer.result() is not None and jobs[2].answer.result() is not None
    with pytest.raises(RuntimeError):
        jobs[1].answer.result()
