"""Sweeps: policy parameters x scenarios x seeds, in parallel on Dask.

A grid file::

    scenarios: [reference.yaml, surge.yaml]        # relative to the grid file
    policies: [rules, first_to_claim]              # built-in names or policy files
    params:                                        # dotted paths into the policy file
      routing.offer.accept_within_s: [300, 900]
    replications: 3
    seed: 7

Every policy is run with every combination of ``params`` (a variant). One task is one
(scenario, replication): it draws the stream and the shared draws once, solves the bound
once, and runs every variant on them (common random numbers across variants). Tasks go to a
Dask ``LocalCluster`` (by default 2 worker processes of 1 thread) or to an existing
scheduler.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.rules import PolicyError, parse_policy
from engine.rules.yamlfile import YamlError, load_yaml
from simulator.crn import replication_seeds
from simulator.errors import ScenarioError, UsageError
from simulator.metrics import t_interval
from simulator.policies import BUILTINS, NamedPolicy


class GridIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: list[str] = Field(min_length=1)
    policies: list[str] = Field(min_length=1)
    params: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    replications: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)


@dataclass(frozen=True)
class Variant:
    """A policy with parameter overrides, as validated policy YAML text (picklable)."""

    label: str
    base: str
    overrides: tuple[tuple[str, Any], ...]
    text: str


@dataclass(frozen=True)
class SweepTask:
    """One (scenario, replication) with every variant; ``label`` names the scenario in the
    outputs (its ``scenario:`` name, numbered when two files share one)."""

    scenario: str
    label: str
    replication: int
    seed: int
    replications: int
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Grid:
    scenarios: tuple[Path, ...]
    labels: tuple[str, ...]  # one per scenario, unique
    variants: tuple[Variant, ...]
    replications: int
    seed: int

    def tasks(self) -> list[SweepTask]:
        return [SweepTask(str(s), label, k, self.seed, self.replications, self.variants)
                for s, label in zip(self.scenarios, self.labels, strict=True)
                for k in range(self.replications)]


def _unique(labels: list[str]) -> list[str]:
    """``labels`` with repeats numbered (``name#2``), as ``leadroute simulate`` labels a
    policy given twice."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UsageError(f"{dotted}: {part} is not a mapping in the policy file")
        node = child
    node[parts[-1]] = value


def _policy_source(name: str, base_dir: Path) -> tuple[str, str]:
    """(label, YAML text) of a built-in name or a policy file."""
    if name in BUILTINS:
        return name, BUILTINS[name].path.read_text(encoding="utf-8")
    path = (base_dir / name) if not Path(name).is_absolute() else Path(name)
    if not path.is_file():
        raise UsageError(f"unknown policy {name!r}: not a built-in name "
                         f"({', '.join(BUILTINS)}) nor a file")
    return path.stem, path.read_text(encoding="utf-8")


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file; every variant is checked as a policy file."""
    path = Path(path)
    source = str(path)
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError("(file)", f"cannot read grid file: {exc.strerror}", source) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError("(file)", f"not UTF-8 text (byte {exc.start}): save the grid as "
                            "UTF-8", source) from None
    except YamlError as exc:
        raise ScenarioError(exc.where, exc.message, source) from None
    try:
        spec = GridIn.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        message = f"unknown key {err['loc'][-1]!r}" if err["type"] == "extra_forbidden" \
            else err["msg"]
        raise ScenarioError(loc, message, source) from None
    from engine.errors import InputError
    from simulator.runner import check_scenario
    from simulator.scenario import load_scenario

    scenarios, names = [], []
    for k, name in enumerate(spec.scenarios):
        found = (path.parent / name).resolve()
        if not found.is_file():
            raise ScenarioError(f"scenarios[{k}]", f"no such scenario file: {name}", source)
        try:  # checked here, not first in a worker
            scenario = load_scenario(found)
            check_scenario(scenario)
        except (ScenarioError, InputError, ValueError) as exc:
            raise ScenarioError(f"scenarios[{k}]", str(exc), source) from None
        scenarios.append(found)
        names.append(scenario.name)
    keys = list(spec.params)
    # a parameter is shown by its last part, or its whole path where last parts repeat
    last = [key.rsplit(".", 1)[-1] for key in keys]
    shown = {key: key if last.count(short) > 1 else short for key, short in zip(keys, last,
                                                                                strict=True)}
    variants = []
    for k, name in enumerate(spec.policies):
        try:
            label, text = _policy_source(name, path.parent)
        except UsageError as exc:
            raise ScenarioError(f"policies[{k}]", str(exc), source) from None
        for combo in itertools.product(*(spec.params[key] for key in keys)):
            overrides = tuple(zip(keys, combo, strict=True))
            try:
                tree = load_yaml(text)
                for key, value in overrides:
                    _set(tree, key, value)
                policy_text = yaml.safe_dump(tree, sort_keys=False)
                parse_policy(policy_text, f"{name} with {dict(overrides)}")
            except (PolicyError, ValueError) as exc:
                raise ScenarioError(f"params ({name})", str(exc), source) from None
            suffix = ",".join(f"{shown[key]}={value}" for key, value in overrides)
            variants.append(Variant(f"{label}[{suffix}]" if suffix else label, name, overrides,
                                    policy_text))
    labels = _unique([v.label for v in variants])
    variants = [Variant(lab, v.base, v.overrides, v.text)
                for lab, v in zip(labels, variants, strict=True)]
    return Grid(tuple(scenarios), tuple(_unique(names)), tuple(variants), spec.replications,
                spec.seed)


def run_task(task: SweepTask) -> list[dict[str, Any]]:
    """Run every variant on one (scenario, replication); summary rows with the scenario and
    the variant's parameters. Runs in a Dask worker (imports are local to it)."""
    from simulator.runner import build_world, run_replication
    from simulator.scenario import load_scenario

    scenario = load_scenario(task.scenario)
    world = build_world(scenario)
    policies = [NamedPolicy(v.label, parse_policy(v.text, v.label), v.base)
                for v in task.variants]
    seed = replication_seeds(task.seed, task.replications)[task.replication]
    from simulator.model import RunOptions

    result = run_replication(scenario, world, policies, seed,
                             options=RunOptions(record_events=False))
    rows = []
    for row, variant in zip(result.summary, task.variants, strict=True):
        rows.append({"scenario": task.label, "variant": variant.label,
                     "base_policy": variant.base,
                     **{f"param:{k}": v for k, v in variant.overrides}, **row})
    return rows


def run_sweep(grid: Grid, *, scheduler: str | None = None, workers: int = 2,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Every task of ``grid`` on Dask; one row per (scenario, variant, replication)."""
    from dask.distributed import Client, LocalCluster, as_completed

    tasks = grid.tasks()
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
    rows: list[dict[str, Any]] = []
    try:
        futures = client.map(run_task, tasks, pure=False)
        for done, future in enumerate(as_completed(futures), start=1):
            rows.extend(future.result())
            if progress:
                progress(done, len(tasks))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    frame = pd.DataFrame(rows)
    return frame.sort_values(["scenario", "variant", "replication"], kind="stable") \
        .reset_index(drop=True)


def sweep_means(frame: pd.DataFrame, metrics: tuple[str, ...] = (
        "conversions", "expected_conversions", "ratio_to_bound", "p90_minutes_to_first_contact",
        "sla_breaches")) -> pd.DataFrame:
    """Mean and 95% t-interval of each metric by (scenario, variant)."""
    rows = []
    for (scenario, variant), group in frame.groupby(["scenario", "variant"], sort=False):
        row: dict[str, Any] = {"scenario": scenario, "variant": variant,
                               "replications": len(group)}
        for metric in metrics:
            mean, low, high = t_interval(group[metric].to_numpy(dtype=float))
            row[metric] = mean
            row[f"{metric}_ci_low"] = low
            row[f"{metric}_ci_high"] = high
        rows.append(row)
    return pd.DataFrame(rows)
