"""``engine.frozen.quick_init`` builds what the dataclass's own ``__init__`` builds: the same
fields from the same arguments (positional, keyword, defaults, default factories), fresh
objects from factories, the same errors for wrong arguments, and a frozen object."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from engine.decide import Decision, Explanation, Offer, Status, StepTrace
from engine.domain import Contact, Lead, LoanProgram, LoanPurpose
from engine.frozen import quick_init
from engine.state import EMPTY_DELTA, RotationStep, StateDelta

QUICK = (Contact, Lead, Offer, StepTrace, Explanation, Decision, RotationStep, StateDelta)
AT = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


def _both(cls: type, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    quick = cls(*args, **kwargs)
    plain = object.__new__(cls)
    cls.__dataclass_init__(plain, *args, **kwargs)  # type: ignore[attr-defined]
    return quick, plain


def _fields(obj: Any) -> list[tuple[str, Any]]:
    return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_quick_init_takes_the_dataclass_parameters(cls: type) -> None:
    """The same parameters, in the same order, of the same kinds, with the same defaults
    (a default factory shows as a marker in both)."""
    quick = inspect.signature(cls.__init__).parameters
    plain = inspect.signature(cls.__dataclass_init__).parameters  # type: ignore[attr-defined]
    assert list(quick) == list(plain)
    for name, p in plain.items():
        q = quick[name]
        assert q.kind == p.kind, name
        field = cls.__dataclass_fields__.get(name)  # type: ignore[attr-defined]
        if field is not None and field.default_factory is not dataclasses.MISSING:
            assert q.default is not inspect.Parameter.empty
        else:
            assert q.default == p.default, name


def test_a_lead_is_built_alike_and_stays_frozen() -> None:
    args = ("L1", AT, "web", "60601", "IL", "17031", "America/Chicago", LoanPurpose.PURCHASE,
            LoanProgram.FHA, 250_000.0)
    quick, plain = _both(Lead, *args, credit_score=700, language="es", custom={"k": "v"})
    assert _fields(quick) == _fields(plain) and quick == plain
    assert quick.contact == Contact() and quick.consent == {} and quick.is_veteran is False
    # a default factory gives each object its own value
    other = Lead(*args)
    assert other.consent is not Lead(*args).consent and other.custom == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.lead_id = "L2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="loan_amount_usd"):
        Lead(*args[:-1])
    with pytest.raises(TypeError, match="colour"):
        Lead(*args, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Lead(*args, *range(20))  # more values than fields


def test_the_decision_and_its_parts_are_built_alike() -> None:
    codes = np.array([0, 3, 8], dtype=np.int8)
    in_pool = np.ones(3, dtype=bool)
    pairs = [
        _both(Contact, "A", email="a@example.com"),
        _both(Offer, "assign", ("O1",), 900.0),
        _both(Offer, mode="cascade", officer_ids=("O1", "O2"), accept_within_s=900.0,
              step_s=60.0),
        _both(RotationStep, "main", "O1", 1.5, 2.0),
        _both(StateDelta, "O1", AT, 5, 6, RotationStep("main", "O1", 1.5, 2.0)),
        _both(StateDelta),
    ]
    for quick, plain in pairs:
        assert _fields(quick) == _fields(plain) and quick == plain
    trace, plain_trace = _both(StepTrace, None, in_pool, codes, None, None)
    assert all(a is b for (_, a), (_, b) in zip(_fields(trace), _fields(plain_trace),
                                                strict=True))
    explanation, plain_explanation = _both(Explanation, "p", "1", "round_robin", [], [trace],
                                           None)
    assert _fields(explanation)[:5] == _fields(plain_explanation)[:5]
    assert explanation.notes == [] and explanation.notes is not Explanation(
        "p", "1", "round_robin", [], [], None).notes  # type: ignore[arg-type]
    decision, plain_decision = _both(
        Decision, lead_id="L1", status=Status.HELD, reason="r", officer_id=None, offer=None,
        state_delta=EMPTY_DELTA, explanation=explanation, propensity=1.0, policy="p",
        policy_version="1", priority="normal", hold_until=AT)
    assert _fields(decision) == _fields(plain_decision)
    assert decision.pool is None and decision.pool_weight == 0.0
    assert dataclasses.replace(decision, reason="s").reason == "s"
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.reason = "s"  # type: ignore[misc]


def test_quick_init_refuses_other_classes() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotAParameter:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int
        b: int = dataclasses.field(default=0, kw_only=True)

    for cls in (NoSlots, NotFrozen, PostInit, NotAParameter, KeywordOnly, int):
        with pytest.raises(TypeError):
            quick_init(cls)
