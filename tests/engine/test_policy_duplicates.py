"""routing.duplicates: the window within which a repeat lead is linked to an earlier one."""

from __future__ import annotations

import pytest

from engine.rules import PolicyError
from tests.conftest import make_policy


def test_duplicates_window_defaults_to_seven_days():
    """A policy that says nothing links repeat leads within seven days."""
    assert make_policy().routing.duplicates.window_s == 7 * 86400


def test_duplicates_window_is_read_from_the_policy():
    """routing.duplicates.window_s sets the window; 0 turns linking off."""
    policy = make_policy(routing="{method: round_robin, duplicates: {window_s: 0}}")
    assert policy.routing.duplicates.window_s == 0


@pytest.mark.parametrize(("value", "message"), [
    ("-1", "expected a number of seconds from 0"),
    ("abc", "valid number"),
    ("{window_s: 10, days: 2}", "unknown key"),
])
def test_duplicates_window_refuses_bad_values_at_its_path(value, message):
    """A negative, non-numeric or misspelt setting is refused at routing.duplicates."""
    body = value if value.startswith("{") else f"{{window_s: {value}}}"
    with pytest.raises(PolicyError) as err:
        make_policy(routing=f"{{method: round_robin, duplicates: {body}}}")
    assert err.value.path.startswith("routing.duplicates")
    assert message in str(err.value)
