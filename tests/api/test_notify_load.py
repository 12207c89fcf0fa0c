"""A real server under load with the SMTP server down for 10 s in the middle: afterwards
every notice is delivered, exactly once per delivery key, none lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.notify_load import run


@pytest.mark.slow
def test_smtp_outage_loses_nothing_and_sends_nothing_twice(tmp_path: Path):
    """20 leads/s for 25 s, SMTP down from 5 s to 15 s: every lead's notice arrives once."""
    r = run(tmp_path, rate=20, seconds=25, outage=(5, 10), officers=10, settle_s=60)
    assert r.failed_posts == 0
    assert r.posted == 500
    assert r.rows >= r.posted  # one notice at least per lead
    assert r.sent == r.rows
    assert r.keys_received == r.rows
    assert r.duplicates == 0
    assert r.missing == 0
    assert len(r.first_notice_s) == r.posted
