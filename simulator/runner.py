"""Replications with common random numbers: build the world once, then per replication draw
the lead stream and the shared draws, solve the hindsight bound, and run every policy.

``run_experiment`` is the entry point; ``run_replication`` is one unit of work (the sweep
sends those to Dask workers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from engine.domain import Lead
from engine.io import load_roster
from engine.policies import Scorer
from simulator.bound import BoundResult, hindsight_bound
from simulator.clock import OfficerClock
from simulator.crn import Draws, ReplicationSeed, replication_seeds
from simulator.errors import ParamError, ScenarioError
from simulator.forecast import Forecast
from simulator.metrics import SUMMARY_COLUMNS, compare, summarize
from simulator.model import Inputs, RunOptions, RunResult, needs_scorer, simulate
from simulator.parallel import PARALLEL_AFTER_S, run_units
from simulator.params import Scenario, SyntheticStreamParams
from simulator.policies import NamedPolicy
from simulator.streams import LeadStream, replay_stream, stream_states, synthetic_stream
from simulator.world import OracleScorer, World

Progress = Callable[[str], None]


def build_world(scenario: Scenario) -> World:
    """The scenario's world: its roster with hidden traits drawn from the world seed."""
    officers = scenario.officers or load_roster(scenario.roster_path)
    sources: Sequence[str] = ()
    if isinstance(scenario.stream, SyntheticStreamParams):
        sources = tuple(scenario.stream.source_mix)
    try:
        return World.build(scenario.world, officers, scenario.departures, sources)
    except ParamError as exc:  # what only the roster can tell: name the file and YAML path
        at = exc.field if exc.field.startswith("departures") else f"world.{exc.field}"
        raise ScenarioError(at, exc.message, scenario.source) from None


def check_scenario(scenario: Scenario) -> World:
    """Everything about a loaded scenario that only its roster and the reference data can
    tell (officers named by overrides and departures, the stream's states and campaigns),
    checked before any run; ScenarioError with the file and YAML path. Returns the world."""
    world = build_world(scenario)
    if isinstance(scenario.stream, SyntheticStreamParams):
        try:
            stream_states(scenario.stream, _licensed_states(world))
        except ParamError as exc:
            raise ScenarioError(f"stream.{exc.field}", exc.message, scenario.source) from None
    return world


def check_policies(scenario: Scenario, policies: Sequence[NamedPolicy]) -> None:
    """The scenario's overrides of the policies' lead life settings make sense for each
    policy (a stale pool it has, an order its method can compute); ScenarioError names the
    scenario file and ``operations``."""
    from engine.lifecycle import LifecycleSettings

    for named in policies:
        try:
            LifecycleSettings.of(named.policy, scenario.operations.lifecycle)
        except ValueError as exc:
            raise ScenarioError("operations", str(exc), scenario.source) from None


def _licensed_states(world: World) -> list[str]:
    """States some officer is licensed in: a synthetic stream's default footprint."""
    return sorted({lic.state for o in world.roster.officers for lic in o.licenses})


def make_stream(scenario: Scenario, world: World, seed: ReplicationSeed) -> LeadStream:
    """The replication's leads (synthetic: drawn from the seed's lead stream; replay: the
    file, the same in every replication)."""
    if isinstance(scenario.stream, SyntheticStreamParams):
        return synthetic_stream(scenario.stream, start=scenario.start, days=scenario.days,
                                timezone=scenario.timezone,
                                default_states=_licensed_states(world), rng=seed.rng("leads"))
    return replay_stream(scenario.stream, start=scenario.start, days=scenario.days)


def prepare(scenario: Scenario, world: World, seed: ReplicationSeed,
            clock: OfficerClock | None = None) -> Inputs:
    """Everything the policies of one replication share (a fitted world: with the replication's
    bootstrap member of its model)."""
    world = world.for_replication(seed.replication)
    stream = make_stream(scenario, world, seed)
    features = world.features(stream.leads)
    application = world.application_matrix(features)
    value = application * features.funding[:, None]
    response = world.params.response
    draws = Draws.make(seed, len(stream), len(world.roster), response.within_sigma,
                       response.busy_probability, response.busy_mean_s)
    clock = clock or OfficerClock(world.roster, scenario.start, scenario.end_s)
    return Inputs(world, stream, features, application, value, draws, clock, scenario.end_s,
                  scenario.operations.lifecycle, seed.replication)


def forecaster(scenario: Scenario, inputs: Inputs, seed: ReplicationSeed) -> Forecast:
    """The demand forecast of one replication (see ``Forecast``)."""
    states = _licensed_states(inputs.world)
    end_s = inputs.end_s

    stream = scenario.stream

    def synthetic(until_s: float) -> tuple[list[Lead], np.ndarray, float]:
        if not isinstance(stream, SyntheticStreamParams):
            raise RuntimeError("internal invariant broken: a synthetic forecast of a replay")
        covers_s = max(until_s, end_s + 86400.0)
        sample = synthetic_stream(stream, start=scenario.start, days=covers_s / 86400.0,
                                  timezone=scenario.timezone, default_states=states,
                                  rng=seed.rng("forecast"), id_prefix="F")
        return list(sample.leads), sample.arrival_s, covers_s

    def replayed(until_s: float) -> tuple[list[Lead], np.ndarray, float]:
        week = 7 * 86400.0
        stream = inputs.stream
        return ([_shift(lead, week) for lead in stream.leads], stream.arrival_s + week,
                np.inf)

    return Forecast(synthetic if isinstance(scenario.stream, SyntheticStreamParams)
                    else replayed)


def _shift(lead: Lead, seconds: float) -> Lead:
    return replace(lead, lead_id=f"F-{lead.lead_id}",
                   received_at=lead.received_at + timedelta(seconds=seconds))


def scorer_for(policy: NamedPolicy, inputs: Inputs) -> Scorer | None:
    """The world's oracle for scoring methods, unless the policy names its own model file."""
    if not needs_scorer(policy.policy) or policy.policy.routing.params.get("model"):
        return None
    return OracleScorer(inputs.world, inputs.stream.leads, inputs.features, inputs.value,
                        inputs.stream.arrival_s, inputs.clock)


def run_policy(scenario: Scenario, inputs: Inputs, named: NamedPolicy, seed: ReplicationSeed,
               options: RunOptions | None = None) -> RunResult:
    """One policy over one replication's inputs, with the scorer and demand forecast its
    method needs."""
    forecast = forecaster(scenario, inputs, seed) \
        if named.policy.selector.reprice_every_s is not None else None
    return simulate(inputs, named.policy, label=named.label, options=options,
                    scorer=scorer_for(named, inputs), forecast=forecast)


@dataclass
class ReplicationResult:
    """One replication: the shared inputs, the bound and every policy's run."""

    inputs: Inputs
    bound: BoundResult | None
    runs: list[RunResult]
    summary: list[dict[str, Any]] = field(default_factory=list)


BOUND = -1  # the part of a replication that is its hindsight bound; a policy's run is its index


def run_replication(scenario: Scenario, world: World, policies: Sequence[NamedPolicy],
                    seed: ReplicationSeed, *, options: RunOptions | None = None,
                    with_bound: bool = True, clock: OfficerClock | None = None,
                    progress: Progress | None = None) -> ReplicationResult:
    """Every policy over one replication, with the same stream and draws (CRN)."""
    inputs = prepare(scenario, world, seed, clock)
    found = []
    for part in (BOUND, *range(len(policies))):
        found.append(_run_part(scenario, inputs, policies, seed, options, with_bound, part))
        if progress:
            progress(_part_label(policies, part))
    return _replication_result(inputs, found[0], found[1:])


def _run_part(scenario: Scenario, inputs: Inputs, policies: Sequence[NamedPolicy],
              seed: ReplicationSeed, options: RunOptions | None, with_bound: bool,
              part: int) -> BoundResult | RunResult | None:
    """One part of a replication: its hindsight bound (``BOUND``; None without one) or
    policy ``part``'s run."""
    if part == BOUND:
        return hindsight_bound(inputs) if with_bound else None
    return run_policy(scenario, inputs, policies[part], seed, options)


def _part_label(policies: Sequence[NamedPolicy], part: int) -> str:
    """What a part is called in progress reports."""
    return "bound" if part == BOUND else policies[part].label


def _replication_result(inputs: Inputs, bound: Any, runs: Sequence[Any]) -> ReplicationResult:
    """A replication's result from its parts, with each run's summary row."""
    result = ReplicationResult(inputs, bound, list(runs))
    result.summary = [summarize(inputs, run, bound) for run in runs]
    return result


def _unit(scenario: Scenario, world: World, policies: Sequence[NamedPolicy],
          options: RunOptions | None, with_bound: bool, clock: OfficerClock,
          seeds: Sequence[ReplicationSeed], unit: tuple[int, int]
          ) -> BoundResult | RunResult | None:
    """One unit of ``run_experiment`` as a worker process runs it: a part of a replication,
    on the replication's inputs (prepared once per replication and kept for the worker's
    next unit of it)."""
    replication, part = unit
    inputs = _WORKER_INPUTS.get(replication)
    if inputs is None:
        _WORKER_INPUTS.clear()
        inputs = _WORKER_INPUTS[replication] = prepare(scenario, world, seeds[replication],
                                                       clock)
    return _run_part(scenario, inputs, policies, seeds[replication], options, with_bound, part)


_WORKER_INPUTS: dict[int, Inputs] = {}


@dataclass
class Experiment:
    """All replications of all policies of one scenario."""

    scenario: Scenario
    world: World
    policies: list[NamedPolicy]
    replications: list[ReplicationResult]
    seed: int

    @property
    def summary(self) -> pd.DataFrame:
        rows = [row for rep in self.replications for row in rep.summary]
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

    @property
    def comparison(self) -> pd.DataFrame:
        return compare(self.summary)


def run_experiment(scenario: Scenario, policies: Sequence[NamedPolicy], *, replications: int,
                   seed: int, options: RunOptions | None = None, with_bound: bool = True,
                   progress: Progress | None = None, world: World | None = None,
                   workers: int = 1, parallel_after_s: float = PARALLEL_AFTER_S) -> Experiment:
    """``replications`` replications (spawned from ``seed``) of every policy; ``world``: the
    scenario's world when the caller has built it (``check_scenario``). With ``workers``
    above 1, a run that goes on for ``parallel_after_s`` seconds spreads its units (each
    replication's bound and each policy's run over it) over up to that many cores
    (``simulator.parallel.run_units``); the results are the same either way."""
    check_policies(scenario, policies)
    world = world or build_world(scenario)
    clock = OfficerClock(world.roster, scenario.start, scenario.end_s)
    seeds = replication_seeds(seed, replications)
    prepared: dict[int, Inputs] = {}

    def inputs_of(replication: int) -> Inputs:
        found = prepared.get(replication)
        if found is None:
            found = prepared[replication] = prepare(scenario, world, seeds[replication], clock)
        return found

    def reported(unit: tuple[int, int], _: object = None) -> None:
        if progress:
            progress(_part_label(policies, unit[1]))

    def here(unit: tuple[int, int]) -> BoundResult | RunResult | None:
        replication, part = unit
        found = _run_part(scenario, inputs_of(replication), policies, seeds[replication],
                          options, with_bound, part)
        reported(unit)
        return found

    def describe(unit: tuple[int, int]) -> str:
        replication, part = unit
        what = "the hindsight bound" if part == BOUND else f"policy {policies[part].label}"
        return f"replication {replication}, {what},"

    units = [(r, part) for r in range(replications) for part in (BOUND, *range(len(policies)))]
    done = run_units(units, here, (_unit, (scenario, world, tuple(policies), options,
                                           with_bound, clock, tuple(seeds))),
                     workers=workers, parallel_after_s=parallel_after_s, on_done=reported,
                     describe=describe)
    found = dict(zip(units, done, strict=True))
    results = [_replication_result(inputs_of(r), found[(r, BOUND)],
                                   [found[(r, part)] for part in range(len(policies))])
               for r in range(replications)]
    return Experiment(scenario, world, list(policies), results, seed)
