"""Shared inputs of the simulator tests: a small world (24 officers, ~130 leads a day for four
days from a Tuesday) built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.crn import replication_seeds
from simulator.model import Inputs
from simulator.params import Scenario
from simulator.policies import BUILTINS, NamedPolicy, resolve_policy
from simulator.runner import build_world, prepare
from simulator.scenario import load_scenario
from simulator.world import World

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parent.parent
SCENARIOS = ROOT / "data" / "scenarios"
SMALL = DATA / "small.yaml"


def available_builtins() -> list[str]:
    """Every built-in policy (each one's method is in the engine: none is skipped)."""
    return list(BUILTINS)


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    return load_scenario(SMALL)


@pytest.fixture(scope="session")
def small_world(small_scenario: Scenario) -> World:
    return build_world(small_scenario)


@pytest.fixture(scope="session")
def small_inputs(small_scenario: Scenario, small_world: World) -> Inputs:
    return prepare(small_scenario, small_world, replication_seeds(11, 1)[0])


@pytest.fixture(scope="session")
def rotation_policies() -> list[NamedPolicy]:
    return [resolve_policy(n) for n in ("round_robin", "rules", "first_to_claim")]
