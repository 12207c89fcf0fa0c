"""``leadroute up``: the whole system on its embedded defaults, in one command.

It seeds an SQLite database with the demo roster and two keys, simulates a history on the demo
scenario and trains the conversion model on it (once; kept in ``--data-dir``), then starts the
API with its worker, a stream of demo leads posted to the API, and the lab, and prints the
addresses. Ctrl-C (or SIGTERM) stops every process it started and waits for them; the children
are also told to stop if this process dies (Linux parent-death signal), so none is left behind.

Only wiring: the work is in api/, simulator/, engine/scoring and lab/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from cli.common import fail

ROOT = Path(__file__).resolve().parent.parent
DEMO_ROSTER = ROOT / "data" / "demo" / "officers.csv"
DEMO_SCENARIO = ROOT / "data" / "scenarios" / "demo.yaml"
HISTORY_POLICY = "rules"
KEYS_FILE = "keys.env"



def _say(message: str) -> None:
    typer.echo(message, err=True)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _read_keys(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def seed_database(data_dir: Path) -> dict[str, str]:
    """Create and migrate the database, import the demo roster, and make an admin and an
    ingest key (kept in DATA_DIR/keys.env, readable by this user only); a second start reuses
    them."""
    from api.db import Database, upgrade
    from api.routers.officers import as_row, save_roster
    from api.runtime import utc_now
    from api.security import Scope, create_key
    from api.settings import get_settings
    from engine.io import load_roster, read_csv_rows

    url = get_settings().database_url
    upgrade(url)
    keys_path = data_dir / KEYS_FILE
    keys = _read_keys(keys_path)
    db = Database(url)
    try:
        load_roster(DEMO_ROSTER)
        _, rows = read_csv_rows(DEMO_ROSTER)
        with db.writing() as s:
            save_roster(s, [as_row(dict(r)) for r in rows], utc_now())
        if not {"ADMIN", "INGEST"} <= keys.keys():
            with db.writing() as s:
                _, admin = create_key(s, Scope.ADMIN, utc_now(), name="leadroute up: lab")
                _, ingest = create_key(s, Scope.INGEST, utc_now(),
                                       name="leadroute up: demo leads")
            keys = {"ADMIN": admin, "INGEST": ingest}
            keys_path.write_text(f"ADMIN={admin}\nINGEST={ingest}\n")
            keys_path.chmod(0o600)
    finally:
        db.dispose()
    return keys


def train_demo_model(data_dir: Path, days: float, seed: int) -> tuple[Path, Path]:
    """Simulate ``days`` of the demo scenario under the shipped rules, write the history and
    train the conversion model on it (skipped when both files are there)."""
    history_path = data_dir / "history.csv"
    model_path = data_dir / "model.skops"
    if history_path.is_file() and model_path.is_file():
        _say(f"history and model already in {data_dir} (delete them, or --fresh, to redo)")
        return history_path, model_path
    from dataclasses import replace

    import numpy as np

    from engine.scoring import load_history, model_card, save_model, train_model
    from simulator.outputs import history_frame, spreadsheet_frame
    from simulator.policies import resolve_policies
    from simulator.runner import check_scenario, run_experiment
    from simulator.scenario import load_scenario

    scenario = replace(load_scenario(DEMO_SCENARIO), days=days)
    world = check_scenario(scenario)
    exp = run_experiment(scenario, resolve_policies([HISTORY_POLICY]), replications=1,
                         seed=seed, with_bound=False, world=world)
    spreadsheet_frame(history_frame(exp)).to_csv(history_path, index=False)
    history = load_history(history_path, world.roster)
    try:
        result = train_model(history, holdout_fraction=0.2, rng=np.random.default_rng(seed))
    except ValueError as exc:  # too few funded leads to fit and calibrate
        history_path.unlink(missing_ok=True)
        fail(f"--history-days {days:g}: {len(history)} worked leads are too few to train "
              f"the model ({exc}); give more days")
        raise
    save_model(result.model, model_path, model_card(result, history))
    m = result.holdout
    figures = f": holdout AUC {m.auc:.3f}, Brier {m.brier:.4f}" if m is not None else ""
    _say(f"simulated {len(history)} worked leads over {days:g} days -> {history_path}; "
         f"trained {result.model.estimator} + {result.model.calibration}{figures}")
    return history_path, model_path


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """In the child: get SIGTERM when the parent dies (Linux), so none outlives `up`."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.setpgrp()  # its own group: Ctrl-C reaches `up`, which stops the children in order


class Processes:
    """The children of ``up``: started in order, stopped in reverse, each whole group."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        handle = log.open("ab")
        process = subprocess.Popen(list(argv), env=env, cwd=ROOT, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=_stop_with_parent)
        handle.close()
        self.running.append((name, process))

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.running:
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, grace_s: float = 10.0) -> None:
        for _, process in reversed(self.running):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, process in reversed(self.running):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.clear()


def _wait_http(url: str, processes: Processes, timeout_s: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if processes.exited() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def up(
    data_dir: Annotated[Path, typer.Option(help="Where the database, keys, history, model and "
                                                "logs live.")] = Path("out/system"),
    host: Annotated[str, typer.Option(help="Address the API and the lab listen on.")]
    = "127.0.0.1",
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="The API's port.")] = 8000,
    lab_port: Annotated[int, typer.Option(min=1, max=65535, help="The lab's port.")] = 8501,
    leads_per_minute: Annotated[float, typer.Option(
        min=0, max=6000, help="Demo leads posted to the API per minute (0: none).")] = 6.0,
    history_days: Annotated[float, typer.Option(
        min=2, max=90, help="Days of simulated history for the demo model.")] = 30.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the history and the demo leads.")]
    = 0,
    fresh: Annotated[bool, typer.Option(help="Start over: remove DATA_DIR's database, keys, "
                                             "history and model first.")] = False,
) -> None:
    """Set up and start the whole system: the API on SQLite seeded with the demo roster, a
    simulated history and a trained model, the API's worker, a stream of demo leads, and the
    lab. Prints the addresses; Ctrl-C stops everything."""
    if api_port == lab_port:
        fail("--api-port and --lab-port must differ")
    for name, port in (("--api-port", api_port), ("--lab-port", lab_port)):
        if not _port_free(host, port):
            fail(f"{name} {port}: something already listens on {host}:{port}; stop it or "
                  f"give another port")
    data_dir = data_dir.resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--data-dir {data_dir}: cannot be created: {exc.strerror or exc}")
    if fresh:
        for name in ("leadroute.db", KEYS_FILE, "history.csv", "model.skops",
                     "model.card.json"):
            (data_dir / name).unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("LEADROUTE_DATABASE_URL", f"sqlite:///{data_dir / 'leadroute.db'}")
    os.environ["LEADROUTE_DATABASE_URL"] = env["LEADROUTE_DATABASE_URL"]
    from api.settings import get_settings

    get_settings.cache_clear()
    _say(f"database {env['LEADROUTE_DATABASE_URL']}: demo roster {DEMO_ROSTER.name}")
    keys = seed_database(data_dir)
    _, model_path = train_demo_model(data_dir, history_days, seed)

    api_url = f"http://{host}:{api_port}"
    lab_url = f"http://{host}:{lab_port}"
    bin_dir = Path(sys.executable).parent
    leadroute = str(bin_dir / "leadroute") if (bin_dir / "leadroute").exists() else None
    api_argv = ([leadroute] if leadroute else [sys.executable, "-c",
                                                "from cli.main import main; main()"])
    processes = Processes()

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds to the finally below, wherever it is

    # set explicitly: a shell that starts `up` in the background makes it ignore SIGINT
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        processes.start("api", [*api_argv, "serve", "--host", host, "--port", str(api_port)],
                        env, data_dir / "api.log")
        if not _wait_http(f"{api_url}/healthz", processes, 60.0):
            fail(f"the API did not start; see {data_dir / 'api.log'}")
        if leads_per_minute > 0:
            processes.start("demo leads", [*api_argv, "demo-leads", "--api", api_url,
                                           "--per-minute", str(leads_per_minute),
                                           "--seed", str(seed)],
                            {**env, "LEADROUTE_DEMO_INGEST_KEY": keys["INGEST"],
                             "LEADROUTE_DEMO_ADMIN_KEY": keys["ADMIN"]},
                            data_dir / "demo-leads.log")
        processes.start("lab", [sys.executable, "-m", "streamlit", "run",
                                str(ROOT / "lab" / "app.py"), "--server.address", host,
                                "--server.port", str(lab_port), "--server.headless", "true",
                                "--browser.gatherUsageStats", "false",
                                "--client.toolbarMode", "viewer"],
                        {**env, "LEADROUTE_LAB_API_URL": api_url,
                         "LEADROUTE_LAB_API_KEY": keys["ADMIN"],
                         "LEADROUTE_LAB_MODEL": str(model_path)}, data_dir / "lab.log")
        if not _wait_http(f"{lab_url}/_stcore/health", processes, 90.0):
            fail(f"the lab did not start; see {data_dir / 'lab.log'}")
        typer.echo(f"leadroute is up.\n  lab: {lab_url}\n  API: {api_url}/docs\n"
                   f"  logs and keys: {data_dir}\nCtrl-C stops everything.", err=False)
        while True:
            gone = processes.exited()
            if gone is not None:
                name, code = gone
                _say(f"{name} stopped (exit {code}); see its log in {data_dir}; stopping "
                     "the rest")
                raise typer.Exit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _say("stopping...")
        processes.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        _say("stopped")


def register(app: typer.Typer) -> None:
    """Add ``up`` and ``demo-leads`` to the ``leadroute`` app."""
    from cli.demo_leads import demo_leads

    app.command()(up)
    app.command("demo-leads")(demo_leads)
