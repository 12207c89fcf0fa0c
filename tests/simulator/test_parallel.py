"""Replications on several cores (simulator.parallel): the same results as one after another,
in seed order; a worker's failure raised here, never a hang; short runs stay in process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import simulator.parallel
import simulator.runner
from simulator.crn import ReplicationSeed, replication_seeds
from simulator.model import RunOptions
from simulator.outputs import write_outputs
from simulator.parallel import WorkerFailed, run_units
from simulator.params import Scenario
from simulator.policies import resolve_policies
from simulator.runner import run_experiment
from simulator.world import World

# Module-level, so that a worker process imports them by name. In this process, the first
# replication waits until a worker has taken one (``marker``), so that the workers are handed
# some of the replications however slowly they start.


def _taken(parent: int, marker: str, seed: ReplicationSeed) -> None:
    if os.getpid() != parent:
        Path(marker).touch()
    elif seed.replication == 0:
        deadline = time.monotonic() + 120
        while not Path(marker).exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def draw(parent: int, marker: str, seed: ReplicationSeed) -> tuple[int, int, float]:
    """A replication's stand-in: its number, the process it ran in, a number from its seed."""
    _taken(parent, marker, seed)
    return seed.replication, os.getpid(), float(seed.rng("leads").random())


def fail_in_worker(parent: int, marker: str, seed: ReplicationSeed) -> int:
    _taken(parent, marker, seed)
    if os.getpid() != parent:
        raise ValueError(f"replication {seed.replication}: no such officer 'LO-9'")
    return seed.replication


class Unpicklable(Exception):
    def __init__(self, what: str, why: str) -> None:  # args that pickle cannot rebuild it from
        super().__init__(f"{what}: {why}")


def fail_unpicklable(parent: int, marker: str, seed: ReplicationSeed) -> int:
    _taken(parent, marker, seed)
    if os.getpid() != parent:
        raise Unpicklable("officer", "gone")
    return seed.replication


def die_in_worker(parent: int, marker: str, seed: ReplicationSeed) -> int:
    _taken(parent, marker, seed)
    if os.getpid() != parent:
        os._exit(3)  # the worker process dies (as when killed or out of memory)
    return seed.replication


def _both(function: Callable[..., Any], marker: Path) -> tuple[
        Callable[[ReplicationSeed], Any], tuple[Callable[..., Any], tuple[Any, ...]]]:
    """``run_units``' two ways to run ``function``: here, and in a worker."""
    shared = (os.getpid(), str(marker))
    return (lambda seed: function(*shared, seed)), (function, shared)


def _named(seed: ReplicationSeed) -> str:
    return f"replication {seed.replication}"


@pytest.fixture(autouse=True)
def cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four cores, whatever the machine has: these tests hold the mechanism, and workers are
    capped at the cores (``test_workers_are_capped_at_the_cores``)."""
    monkeypatch.setattr(simulator.parallel, "cpu_count", lambda: 4)


def test_workers_are_capped_at_the_cores(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    started: list[int] = []
    real = simulator.parallel.ProcessPoolExecutor

    def counted(helpers: int, *args: Any, **kwargs: Any) -> Any:
        started.append(helpers)
        return real(helpers, *args, **kwargs)

    monkeypatch.setattr(simulator.parallel, "ProcessPoolExecutor", counted)
    monkeypatch.setattr(simulator.parallel, "cpu_count", lambda: 1)
    (tmp_path / "taken").touch()
    seeds = replication_seeds(7, 4)
    results = run_units(seeds, *_both(draw, tmp_path / "taken"), workers=64,
                        parallel_after_s=0.0)
    assert started == [] and {r[1] for r in results} == {os.getpid()}
    monkeypatch.setattr(simulator.parallel, "cpu_count", lambda: 2)
    results = run_units(seeds, *_both(draw, tmp_path / "capped"), workers=64,
                        parallel_after_s=0.0)
    assert started == [1]  # one worker beside this process, not 63
    assert [r[0] for r in results] == [0, 1, 2, 3]


def test_workers_give_the_same_results_in_seed_order(tmp_path: Path) -> None:
    seeds = replication_seeds(7, 6)
    (tmp_path / "alone").touch()
    alone = run_units(seeds, *_both(draw, tmp_path / "alone"), workers=1)
    assert {r[1] for r in alone} == {os.getpid()}
    spread = run_units(seeds, *_both(draw, tmp_path / "spread"), workers=3,
                       parallel_after_s=0.0)
    assert [r[0] for r in spread] == list(range(6))
    assert [r[2] for r in spread] == [r[2] for r in alone]
    assert spread[0][1] == os.getpid()  # the first is run here
    assert len({r[1] for r in spread}) >= 2  # and some in workers


def test_short_runs_stay_in_this_process(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a short run")

    monkeypatch.setattr(simulator.parallel, "ProcessPoolExecutor", no_pool)
    seeds = replication_seeds(7, 4)
    (tmp_path / "taken").touch()
    results = run_units(seeds, *_both(draw, tmp_path / "taken"), workers=2)
    assert {r[1] for r in results} == {os.getpid()}
    one = run_units(seeds[:1], *_both(draw, tmp_path / "taken"), workers=2,
                    parallel_after_s=0.0)
    assert [r[0] for r in one] == [0]


def test_inputs_that_cannot_be_pickled_are_simulated_here(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for inputs it cannot be given")

    monkeypatch.setattr(simulator.parallel, "ProcessPoolExecutor", no_pool)
    (tmp_path / "taken").touch()
    run_here, (function, shared) = _both(draw, tmp_path / "taken")
    results = run_units(replication_seeds(7, 3), run_here, (function, (*shared,
                        threading.Lock())), workers=2, parallel_after_s=0.0)
    assert [r[0] for r in results] == [0, 1, 2]


def test_a_workers_exception_is_raised_here(tmp_path: Path) -> None:
    seeds = replication_seeds(1, 4)
    with pytest.raises(ValueError, match=r"replication \d: no such officer 'LO-9'"):
        run_units(seeds, *_both(fail_in_worker, tmp_path / "a"), workers=2,
                  parallel_after_s=0.0, describe=_named)
    with pytest.raises(WorkerFailed,
                       match=r"replication \d failed in a worker process: "
                             "Unpicklable: officer: gone"):
        run_units(seeds, *_both(fail_unpicklable, tmp_path / "b"), workers=2,
                  parallel_after_s=0.0, describe=_named)


def test_a_worker_that_stops_hands_its_unit_back(tmp_path: Path) -> None:
    """A worker killed (out of memory, say) in the middle of a unit: this process runs that
    unit and the rest itself, and says so."""
    seeds = replication_seeds(1, 4)
    with pytest.warns(RuntimeWarning, match="a worker process stopped .*finished in this "
                                            "process, with the same results"):
        results = run_units(seeds, *_both(die_in_worker, tmp_path / "c"), workers=2,
                            parallel_after_s=0.0, describe=_named)
    assert results == [0, 1, 2, 3]


class Unloadable:
    """Pickles here, but cannot be loaded in a worker: the worker cannot start."""

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _explode, ()


def _explode() -> None:
    raise RuntimeError("cannot be loaded in a worker")


def test_workers_that_cannot_start_leave_the_work_here(tmp_path: Path) -> None:
    (tmp_path / "taken").touch()
    run_here, (function, shared) = _both(draw, tmp_path / "taken")
    with pytest.warns(RuntimeWarning, match="unable to start"):
        results = run_units(replication_seeds(7, 4), lambda s: (time.sleep(0.3), run_here(s))[1],
                            (function, (*shared, Unloadable())), workers=2,
                            parallel_after_s=0.0)
    assert [r[0] for r in results] == [0, 1, 2, 3]
    assert {r[1] for r in results} == {os.getpid()}


def test_an_experiment_on_two_cores_writes_the_same_files(
        small_scenario: Scenario, small_world: World, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # on two cores, the first policy run here waits until a worker has brought a unit back
    came_back = threading.Event()
    two_cores = threading.Event()
    unpack, run_policy = simulator.parallel._unpack, simulator.runner.run_policy

    def unpacked(*args: Any) -> Any:
        result = unpack(*args)
        came_back.set()
        return result

    def waits(*args: Any, **kwargs: Any) -> Any:
        if two_cores.is_set():
            assert came_back.wait(120), "no worker brought a unit back"
        return run_policy(*args, **kwargs)

    monkeypatch.setattr(simulator.parallel, "_unpack", unpacked)
    monkeypatch.setattr(simulator.runner, "run_policy", waits)
    policies = resolve_policies(["round_robin", "dual_price_broadcast", "first_to_claim"])
    written = []
    for workers in (1, 2):
        if workers == 2:
            two_cores.set()
        steps: list[str] = []
        exp = run_experiment(small_scenario, policies, replications=3, seed=4,
                             options=RunOptions(record_events=True), world=small_world,
                             progress=steps.append, workers=workers, parallel_after_s=0.0)
        # the workers' units are reported too
        assert sorted(steps) == sorted(["bound", *(p.label for p in policies)] * 3)
        out = tmp_path / f"workers{workers}"
        write_outputs(exp, out, events=True, history=True, report=False)
        written.append((exp, out))
    assert came_back.is_set()
    (one, one_out), (two, two_out) = written
    for name in ("summary.csv", "comparison.csv", "history.csv"):
        assert (one_out / name).read_bytes() == (two_out / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(one_out / "events.parquet"),
                                  pd.read_parquet(two_out / "events.parquet"))
    for a, b in zip(one.replications, two.replications, strict=True):
        for run_a, run_b in zip(a.runs, b.runs, strict=True):
            np.testing.assert_array_equal(run_a.true_p_funded, run_b.true_p_funded)


def sleepy(parent: int, marker: str, seed: ReplicationSeed) -> int:
    if os.getpid() != parent:  # a worker: says who it is, then takes a long time
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)
    return seed.replication


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # ended, not yet reaped


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_an_interrupted_run_ends_its_workers_at_once(tmp_path: Path) -> None:
    """The parent stopping (Ctrl-C, or a failure of its own) ends the workers' replications
    instead of waiting for them."""
    marker = tmp_path / "worker"

    def interrupted(seed: ReplicationSeed) -> int:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_units(replication_seeds(1, 3), interrupted, (sleepy, (os.getpid(), str(marker))),
                  workers=2, parallel_after_s=0.0)
    worker = int(marker.read_text())
    deadline = time.monotonic() + 20
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker)
    assert time.monotonic() - started < 60  # far less than the worker's two minutes
