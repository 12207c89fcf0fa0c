"""The simulator's speed against a bare SimPy loop over the same leads, for the code on the
path. It imports the project only inside its functions, so that ``bench_simulator.py
--against REV`` can run it as a script in another checkout (whose code then comes first on
the path) and compare the two in the same minutes.

Run as a script: ``python _simspeed.py SCENARIO SEED POLICY...`` from a checkout's folder
prints, as JSON, the bare loop's and each policy's leads per CPU second (the best of three,
events off).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def bare_simpy_loop(inputs: Any, sla_s: float = 900.0) -> tuple[float, float]:
    """Leads per second (wall, CPU) of the least a SimPy model of this stream does: an
    arrival process, per lead a race between the response and the SLA timeout, and one
    outcome draw."""
    import simpy

    arrival = inputs.stream.arrival_s.tolist()
    response = (inputs.world.traits.median_response_s[0]
                * inputs.draws.response_factor[:, 0]).tolist()
    u = inputs.draws.outcome_u[:, 0].tolist()
    p = inputs.features.contact_base.tolist()
    env = simpy.Environment()
    funded = [0]

    def lead(i: int):  # type: ignore[no-untyped-def]
        yield env.timeout(response[i]) | env.timeout(sla_s)
        funded[0] += u[i] < p[i]

    def arrivals():  # type: ignore[no-untyped-def]
        for i, at in enumerate(arrival):
            if at > env.now:
                yield env.timeout(at - env.now)
            env.process(lead(i))

    started, cpu = time.perf_counter(), time.process_time()
    env.process(arrivals())
    env.run()
    return (len(arrival) / (time.perf_counter() - started),
            len(arrival) / (time.process_time() - cpu))


def rates(scenario_path: Path, seed: int, names: list[str]) -> dict[str, float]:
    """Leads per CPU second of the bare loop and of each policy of ``names`` (one
    replication, events off), each the best of three."""
    from simulator.crn import replication_seeds
    from simulator.model import RunOptions
    from simulator.policies import resolve_policies
    from simulator.runner import build_world, prepare, run_policy
    from simulator.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    rep = replication_seeds(seed, 1)[0]
    inputs = prepare(scenario, build_world(scenario), rep)
    n = len(inputs.stream)
    found = {"bare": max(bare_simpy_loop(inputs)[1] for _ in range(3))}
    for named in resolve_policies(names):
        cpu = []
        for _ in range(3):
            started = time.process_time()
            run_policy(scenario, inputs, named, rep, RunOptions(record_events=False))
            cpu.append(time.process_time() - started)
        found[named.label] = n / min(cpu)
    return found


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the checkout run from, ahead of the installed one
    print(json.dumps(rates(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])))
