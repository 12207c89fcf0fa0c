"""Replications on more than one core.

A replication is one unit of work that depends on nothing but its seed and what every
replication shares (the scenario, its world, the policies, the run options and the officers'
clock), so replications can run in other processes and come back with the same results:
every random number comes from the replication's seed (``simulator.crn``).

``run_replications`` runs the first replication here. When it has run for
``parallel_after_s`` seconds, ``workers - 1`` worker processes start beside it and share the
other replications with this process, which keeps working too: a worker is handed the next
replication when it is ready for one, and this process takes the last one left when it
finishes its own. A run whose first replication ends sooner runs the rest here, as before.
The shared inputs go to each worker once, when it starts, and each replication's result comes
back whole, pickled with ``cloudpickle`` (policies hold compiled rule closures, which the
standard pickle cannot carry). Workers are started with ``spawn`` (no fork of a process whose
threads may hold locks) and ignore Ctrl-C: an interrupt stops this process, which terminates
the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

import cloudpickle

from simulator.crn import ReplicationSeed

# A replication's result (``simulator.runner.ReplicationResult``); typed loosely to keep this
# module free of the runner's imports (the runner imports it).
Result = Any
RunOne = Callable[[ReplicationSeed], Result]

# Start workers only once the first replication has run this long: a worker takes one to two
# seconds of CPU to start (imports, the routing core's cache), and short runs are quicker
# here.
PARALLEL_AFTER_S = 3.0

_SHARED: dict[str, Any] = {}
_BROKEN = ("its worker process stopped before it ended (killed, out of memory, or unable to "
           "start: a script that runs replications on several cores must start them under "
           "`if __name__ == \"__main__\":`, since each worker imports the script)")


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_replications(seeds: Sequence[ReplicationSeed], run_here: RunOne,
                     remote: tuple[Callable[..., Result], tuple[Any, ...]], *, workers: int,
                     parallel_after_s: float = PARALLEL_AFTER_S,
                     on_done: Callable[[Result], None] | None = None) -> list[Result]:
    """Every seed's replication, in seed order: ``run_here(seed)`` in this process, or
    ``function(*shared, seed)`` in a worker (``remote = (function, shared)``: the same
    replication; ``function`` a module-level function, ``shared`` what every replication
    shares). ``on_done`` is called with each result a worker brings back, from this thread
    (between replications run here, and while waiting for the workers' last ones);
    ``run_here`` reports its own."""
    results: list[Result] = [None] * len(seeds)
    helpers = min(workers, len(seeds)) - 1
    if helpers < 1:
        for k, seed in enumerate(seeds):
            results[k] = run_here(seed)
        return results

    lock = threading.Lock()
    todo = deque(range(1, len(seeds)))  # workers take from the front, this process the back
    failed: dict[int, BaseException] = {}
    futures: list[Future[bytes]] = []
    first_done = threading.Event()
    stop = threading.Event()
    pools: list[ProcessPoolExecutor] = []
    folder = tempfile.TemporaryDirectory(prefix="leadroute-replications-")

    back: list[int] = []  # replications brought back by workers, not yet reported

    def done(k: int, future: Future[bytes]) -> None:
        # runs in a thread of the pool; a failure is kept and raised below
        try:
            result = _unpack(future, seeds[k])
            with lock:
                results[k] = result
                back.append(k)
        except BaseException as exc:  # raised in this process below
            with lock:
                failed[k] = exc

    def report() -> None:
        """``on_done`` for the workers' results come back, called from this thread."""
        with lock:
            ready = back[:]
            back.clear()
        if on_done is not None:
            for k in ready:
                on_done(results[k])

    def feed() -> None:
        """Starts the workers once the first replication has run ``parallel_after_s``, and
        hands each the next replication as it is ready for one (none waits in a queue,
        where this process could no longer take it)."""
        if first_done.wait(parallel_after_s) or stop.is_set():
            return  # a short replication: the rest are quicker here
        shared_path.write_bytes(payload)
        pool = ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(str(shared_path),))
        with lock:
            if stop.is_set():
                pool.shutdown(wait=False)
                return
            pools.append(pool)
        running: set[Future[bytes]] = {pool.submit(_ready) for _ in range(helpers)}
        while not stop.is_set():
            _, left = wait(running, return_when=FIRST_COMPLETED)  # a worker is free
            running = set(left)
            while len(running) < helpers:
                with lock:
                    if not todo or failed or stop.is_set():
                        return
                    k = todo.popleft()
                future = pool.submit(_worker, cloudpickle.dumps(seeds[k]))
                future.add_done_callback(partial(done, k))
                futures.append(future)
                running.add(future)

    # The shared inputs are pickled now, before the first replication fills the caches they
    # hold (a thread pickling a dict while this one adds to it fails), and go to the workers
    # through a file: a start-up message that large, written into the pipe of a worker that
    # fails to start, would block this process for good.
    payload = cloudpickle.dumps(remote)
    shared_path = Path(folder.name) / "shared.pickle"
    feeder = threading.Thread(target=feed, name="replications", daemon=True)
    try:
        feeder.start()
        results[0] = run_here(seeds[0])
        first_done.set()
        report()
        while True:
            with lock:
                if not todo or failed:
                    break
                k = todo.pop()
            result = run_here(seeds[k])
            with lock:
                results[k] = result
            report()
        feeder.join()
        pending = set(futures)
        while pending:
            pending = wait(pending, return_when=FIRST_COMPLETED).not_done
            report()
        for pool in pools:
            pool.shutdown(wait=True)  # the callbacks have all run once the pool is shut down
        report()
    except BaseException:
        stop.set()
        first_done.set()
        with lock:
            for pool in pools:
                _stop(pool)
        raise
    finally:
        folder.cleanup()
    if failed:  # the first failed replication's exception, once every one has ended
        raise failed[min(failed)]
    return results


def _ready() -> bytes:
    """A worker's first task: nothing, so that it is known to have started."""
    return b""


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once (this process was interrupted or failed): queued replications are
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


def _worker(seed_blob: bytes) -> bytes:
    """One replication in a worker: its result, or the exception it raised, pickled."""
    seed = cloudpickle.loads(seed_blob)
    try:
        return cloudpickle.dumps(("ok", _SHARED["function"](*_SHARED["shared"], seed)))
    except Exception as exc:  # carried back whole, raised in the parent
        try:
            blob = cloudpickle.dumps(("error", exc))
            cloudpickle.loads(blob)  # some exceptions pickle but cannot be rebuilt
            return blob
        except Exception:  # such an exception goes back as its text
            return cloudpickle.dumps(("failed", f"{type(exc).__name__}: {exc}"))


def _unpack(future: Future[bytes], seed: ReplicationSeed) -> Result:
    """A worker's answer: the result, or its exception raised here."""
    try:
        blob = future.result()
    except BrokenProcessPool:
        raise ReplicationFailed(seed.replication, _BROKEN) from None
    try:
        kind, value = cloudpickle.loads(blob)
    except Exception as exc:  # an exception that cannot be rebuilt here
        raise ReplicationFailed(seed.replication, f"its result could not be read: {exc}") \
            from None
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    raise ReplicationFailed(seed.replication, value)


class ReplicationFailed(RuntimeError):
    """A replication failed in a worker with an exception that could not be brought back."""

    def __init__(self, replication: int, why: str) -> None:
        super().__init__(f"replication {replication} failed in a worker process: {why}")
        self.replication = replication
