"""The files of a simulation run: summary, comparison, events, history (and the report).

Data files are deterministic for a given scenario, policies and seed (no wall-clock times in
them), so two runs with the same seed write byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import spreadsheet_safe
from simulator.model import EVENT_NAMES
from simulator.runner import Experiment
from simulator.streams import ROUTE_COLUMNS, lead_row

HISTORY_EXTRA = ("officer_id", "assigned_at", "policy", "policy_version", "propensity",
                 "officer_open_leads", "response_delay_s", "contacted", "application", "funded",
                 "lost", "true_p_funded", "replication", "simulated_policy")


def events_table(exp: Experiment) -> pa.Table:
    """One row per lead event: policy, replication, lead_id, event, t_s, at (UTC), officer_id."""
    parts = []
    for rep in exp.replications:
        ids = np.array([lead.lead_id for lead in rep.inputs.stream.leads], dtype=object)
        officers = np.array([*rep.inputs.world.roster.ids_tuple, None], dtype=object)
        start = pd.Timestamp(rep.inputs.clock.start).tz_convert("UTC")
        for run in rep.runs:
            ev = run.events
            if ev is None:
                continue
            order = np.lexsort((ev["lead"], ev["t_s"]))
            t = ev["t_s"][order]
            parts.append(pd.DataFrame({
                "policy": run.label, "replication": run.replication,
                "lead_id": ids[ev["lead"][order]],
                "event": np.array(EVENT_NAMES, dtype=object)[ev["event"][order]],
                "t_s": t, "at": start + pd.to_timedelta(t, unit="s"),
                "officer_id": officers[ev["officer"][order]],
            }))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["policy", "replication", "lead_id", "event", "t_s", "at", "officer_id"])
    return pa.Table.from_pandas(frame, preserve_index=False)


def history_frame(exp: Experiment) -> pd.DataFrame:
    """Worked leads in the history format the scoring model trains on (docs/simulator.md):
    the lead columns of ``leadroute route`` input, then officer_id, assigned_at (when the lead
    was given or offered to the officer who worked it), policy, policy_version, propensity,
    officer_open_leads, response_delay_s (from assigned_at to the first contact attempt,
    whether or not it reached the borrower), contacted, application, funded, lost,
    true_p_funded (the world's probability of funding known at assigned_at:
    ``simulator.world.AssignmentTruth``); plus replication and simulated_policy. Lead ids
    carry ``-r<replication>-<policy>`` so that every row's id is unique in the file."""
    rows = []
    for rep in exp.replications:
        start = rep.inputs.clock.start
        ids = rep.inputs.world.roster.ids_tuple
        leads = rep.inputs.stream.leads
        base_rows = [lead_row(lead) for lead in leads]
        for run in rep.runs:
            truth = run.true_p_funded if run.true_p_funded is not None else \
                np.full(len(run.officer), np.nan)
            for i in np.flatnonzero(run.officer >= 0):
                row: dict[str, object] = dict(base_rows[i])
                row["lead_id"] = f"{row['lead_id']}-r{run.replication}-{run.label}"
                offered = start + pd.Timedelta(seconds=float(run.offered_s[i]))
                contacted = int(run.contacted[i])
                row.update({
                    "officer_id": ids[run.officer[i]],
                    "assigned_at": offered.isoformat(timespec="milliseconds"),
                    "policy": run.policy, "policy_version": run.policy_version,
                    "propensity": float(run.propensity[i]),
                    "officer_open_leads": int(run.open_at_assign[i]),
                    "response_delay_s": round(float(run.contact_s[i] - run.offered_s[i]), 3),
                    "contacted": contacted, "application": int(run.application[i]),
                    "funded": int(run.funded[i]), "lost": 1 - int(run.funded[i]),
                    "true_p_funded": round(float(truth[i]), 8),
                    "replication": run.replication, "simulated_policy": run.label,
                })
                rows.append(row)
    return pd.DataFrame(rows, columns=[*ROUTE_COLUMNS, *HISTORY_EXTRA])


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells made safe to open in a spreadsheet (a leading ``'`` before
    ``= + - @``: engine.io.spreadsheet_safe); numeric columns as they are."""
    text = [c for c in frame.columns
            if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]
    if not text:
        return frame
    return frame.assign(**{str(c): frame[c].map(spreadsheet_safe) for c in text})


def write_outputs(exp: Experiment, out: Path, *, events: bool = True, history: bool = True,
                  report: bool = True) -> list[Path]:
    """Write summary.csv, comparison.csv, events.parquet, history.csv and report.html (those
    asked for; the same files left in ``out`` by an earlier run are removed)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    summary = exp.summary
    spreadsheet_frame(summary).to_csv(out / "summary.csv", index=False)
    written.append(out / "summary.csv")
    spreadsheet_frame(exp.comparison).to_csv(out / "comparison.csv", index=False)
    written.append(out / "comparison.csv")
    if events:
        pq.write_table(events_table(exp), out / "events.parquet")
        written.append(out / "events.parquet")
    if history:
        spreadsheet_frame(history_frame(exp)).to_csv(out / "history.csv", index=False)
        written.append(out / "history.csv")
    if report:
        from simulator.report import write_report

        write_report(exp, out / "report.html")
        written.append(out / "report.html")
    # an output of an earlier run into the same folder that this run does not write would
    # pass for this run's: it goes
    for name in ("events.parquet", "history.csv", "report.html"):
        stale = out / name
        if stale not in written and stale.exists():
            stale.unlink()
    return written
