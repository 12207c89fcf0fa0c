"""Simulation work on more than one core.

An experiment is made of units of work that depend on nothing but their replication's seed
and what every unit shares (the scenario, its world, the policies, the run options and the
officers' clock): a replication's hindsight bound, and each policy's run over it. Every
random number comes from the replication's seed (``simulator.crn``), so a unit run in
another process comes back with the same result.

``run_units`` works through the units in order in this process. Once the run has gone on for
``parallel_after_s`` seconds with units left, ``workers - 1`` worker processes start beside
it and take units from the end of the list while this process goes on from the front: a
worker is handed the next unit when it is ready for one, so none waits in a queue this
process could have taken it from. A run that ends sooner never starts a worker, so short
runs pay nothing. A worker that stops (killed, out of memory, unable to start) hands its
unit back: this process finishes the simulation with the same results and warns
(``RuntimeWarning``). The shared inputs go to each worker once, when it starts, and each result
comes back whole, pickled with ``cloudpickle`` (policies hold compiled rule closures, which
the standard pickle cannot carry). Workers are started with ``spawn`` (no fork of a process
whose threads may hold locks) and ignore Ctrl-C: an interrupt stops this process, which ends
the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

import cloudpickle

# A unit of work and its result (``simulator.runner``: a replication's bound or one policy's
# run); typed loosely to keep this module free of the runner's imports (the runner imports it).
Unit = Any
Result = Any

# Start workers only once a run has gone on this long: a worker takes one to two seconds of
# CPU to start (imports, the routing core's cache), and short runs are quicker here.
PARALLEL_AFTER_S = 3.0

_SHARED: dict[str, Any] = {}
_GUARD = ("a script that simulates on several cores must start its work under "
          "`if __name__ == \"__main__\":`, since each worker imports the script")
_STOPPED = ("a worker process stopped (killed, out of memory, or unable to start: " + _GUARD
            + ")")


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_units(units: Sequence[Unit], run_here: Callable[[Unit], Result],
              remote: tuple[Callable[..., Result], tuple[Any, ...]], *, workers: int,
              parallel_after_s: float = PARALLEL_AFTER_S,
              on_done: Callable[[Unit, Result], None] | None = None,
              describe: Callable[[Unit], str] = str) -> list[Result]:
    """Every unit's result, in the units' order: ``run_here(unit)`` in this process, or
    ``function(*shared, unit)`` in one of ``workers - 1`` workers (``remote = (function,
    shared)``: the same work; ``function`` a module-level function, ``shared`` what every
    unit shares). ``workers`` is capped at the cores this process may use. ``on_done`` is
    called for each result a worker brings back, from this thread (between units run here,
    and while waiting for the workers' last ones); ``run_here`` reports its own.
    ``describe`` names a unit in the error of a worker that failed."""
    results: list[Result] = [None] * len(units)
    # more processes than cores gain nothing and each holds the world and a replication
    helpers = min(workers, len(units), cpu_count()) - 1
    payload = b""
    if helpers >= 1:
        # The shared inputs are pickled now, before the work here fills the caches they hold
        # (a thread pickling a dict while this one adds to it fails). Inputs that cannot be
        # pickled are simulated here alone.
        try:
            payload = cloudpickle.dumps(remote)
        except Exception:  # e.g. a custom scorer holding a lock or an open file
            helpers = 0
    if helpers < 1:
        return [run_here(unit) for unit in units]

    lock = threading.Lock()
    todo = deque(range(len(units)))  # this process takes from the front, workers the back
    failed: dict[int, BaseException] = {}
    in_flight: set[Future[bytes]] = set()  # a result is let go once read (they are large)
    finished = threading.Event()  # this process has no unit left to start
    stop = threading.Event()
    broken = threading.Event()  # a worker stopped: its units, and the rest, are run here
    pools: list[ProcessPoolExecutor] = []
    folder = tempfile.TemporaryDirectory(prefix="leadroute-simulation-")
    back: list[int] = []  # units brought back by workers, not yet reported

    def done(k: int, future: Future[bytes]) -> None:
        # runs in a thread of the pool: a result is kept, a unit whose worker stopped goes
        # back to this process, any other failure is raised below
        try:
            if future.cancelled():
                return
            if isinstance(future.exception(), BrokenProcessPool):
                broken.set()
                with lock:
                    todo.appendleft(k)
                return
            result = _unpack(future, describe(units[k]))
            with lock:
                results[k] = result
                back.append(k)
        except BaseException as exc:
            with lock:
                failed[k] = exc
        finally:
            with lock:
                in_flight.discard(future)

    def report() -> None:
        """``on_done`` for the workers' results come back, called from this thread."""
        with lock:
            ready = back[:]
            back.clear()
        if on_done is not None:
            for k in ready:
                on_done(units[k], results[k])

    def feed() -> None:
        """Starts the workers once the run has gone on ``parallel_after_s`` with units left,
        and hands each the last unit left when it is ready for one."""
        if finished.wait(parallel_after_s) or stop.is_set():
            return  # a short run: quicker here
        with lock:
            if len(todo) < 2:  # what is left, this process is already working on
                return
        shared_path.write_bytes(payload)
        pool = ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(str(shared_path),))
        with lock:
            if stop.is_set():
                pool.shutdown(wait=False)
                return
            pools.append(pool)
        try:
            starting = {pool.submit(_ready) for _ in range(helpers)}
        except (BrokenProcessPool, RuntimeError):  # no process could be started from here
            broken.set()
            return
        running: set[Future[bytes]] = set(starting)
        while not (stop.is_set() or broken.is_set()):
            ended, left = wait(running, return_when=FIRST_COMPLETED)  # a worker is free
            running = set(left)
            if any(f.exception() is not None for f in ended & starting):
                broken.set()  # a worker did not start
                return
            while len(running) < helpers:
                with lock:
                    if not todo or failed or stop.is_set() or broken.is_set():
                        return
                    k = todo.pop()
                    try:
                        future = pool.submit(_worker, cloudpickle.dumps(units[k]))
                    except (BrokenProcessPool, RuntimeError):  # broken, or being stopped
                        todo.append(k)
                        broken.set()
                        return
                    in_flight.add(future)
                future.add_done_callback(partial(done, k))
                running.add(future)

    # The shared inputs go to the workers through a file: a start-up message that large,
    # written into the pipe of a worker that fails to start, would block this process for good.
    shared_path = Path(folder.name) / "shared.pickle"
    feeder = threading.Thread(target=feed, name="simulation-workers", daemon=True)
    try:
        feeder.start()
        while True:
            with lock:
                if failed:
                    break
                k = todo.popleft() if todo else None
                pending = set(in_flight)
            if k is not None:
                result = run_here(units[k])
                with lock:
                    results[k] = result
            elif not pending:
                break
            else:  # the workers' last units: wait for one (or for it to come back here)
                finished.set()
                wait(pending, return_when=FIRST_COMPLETED)
            report()
        finished.set()
        feeder.join()
        for pool in pools:
            pool.shutdown(wait=True)  # the callbacks have all run once the pool is shut down
        report()
    except BaseException:
        stop.set()
        finished.set()
        with lock:
            for pool in pools:
                _stop(pool)
        raise
    finally:
        folder.cleanup()
    if failed:  # the first failed unit's exception, once every one has ended
        raise failed[min(failed)]
    if broken.is_set():
        warnings.warn(f"{_STOPPED}; the simulation was finished in this process, with the "
                      "same results", RuntimeWarning, stacklevel=2)
    return results


def _ready() -> bytes:
    """A worker's first task: nothing, so that it is known to have started."""
    return b""


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once (this process was interrupted or failed): queued units are
    cancelled and running ones ended. The pool has no public call to end its processes
    before Python 3.14 (``terminate_workers``); its process table is read when there."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown drops it
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _start_worker(shared_path: str) -> None:
    """A worker's start: the shared inputs, once; Ctrl-C is left to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SHARED["function"], _SHARED["shared"] = cloudpickle.loads(Path(shared_path).read_bytes())


def _worker(unit_blob: bytes) -> bytes:
    """One unit in a worker: its result, or the exception it raised, pickled."""
    unit = cloudpickle.loads(unit_blob)
    try:
        return cloudpickle.dumps(("ok", _SHARED["function"](*_SHARED["shared"], unit)))
    except Exception as exc:  # carried back whole, raised in the parent
        try:
            blob = cloudpickle.dumps(("error", exc))
            cloudpickle.loads(blob)  # some exceptions pickle but cannot be rebuilt
            return blob
        except Exception:  # such an exception goes back as its text
            return cloudpickle.dumps(("failed", f"{type(exc).__name__}: {exc}"))


def _unpack(future: Future[bytes], unit: str) -> Result:
    """A worker's answer: the result, or its exception raised here (``unit``: the unit's
    name, for an error)."""
    try:
        kind, value = cloudpickle.loads(future.result())
    except Exception as exc:  # an exception that cannot be rebuilt here
        raise WorkerFailed(unit, f"its result could not be read: {exc}") from None
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    raise WorkerFailed(unit, value)


class WorkerFailed(RuntimeError):
    """A unit failed in a worker process with an exception that could not be brought back,
    or its result could not be read."""

    def __init__(self, unit: str, why: str) -> None:
        super().__init__(f"{unit} failed in a worker process: {why}")
        self.unit = unit
