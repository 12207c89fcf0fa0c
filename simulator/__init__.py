"""The simulator: a world with hidden truth, lead streams, SimPy processes that route every
lead through ``engine.decide``, replications with common random numbers, a hindsight bound,
off-policy evaluation and sweeps on Dask. See docs/simulator.md.

Parameters (``params``, ``scenario``), model (``world``, ``streams``, ``model``, ``bound``) and
runner (``runner``, ``sweep``) are separate, as in pydesrap_mms.
"""

from importlib import import_module
from typing import Any

# Names -> the module that defines them, imported on first use (PEP 562): the command line
# loads the parts it needs, not SimPy, SciPy and OR-Tools for every command.
_EXPORTS = {
    "BoundResult": "bound", "hindsight_bound": "bound",
    "Draws": "crn", "ReplicationSeed": "crn", "replication_seeds": "crn",
    "Competitor": "decay", "ResponseDecay": "decay",
    "ParamError": "errors", "ScenarioError": "errors",
    "Inputs": "model", "RunOptions": "model", "RunResult": "model", "simulate": "model",
    "Scenario": "params", "WorldParams": "params",
    "BUILTINS": "policies", "NamedPolicy": "policies", "resolve_policies": "policies",
    "resolve_policy": "policies",
    "Experiment": "runner", "build_world": "runner", "prepare": "runner",
    "run_experiment": "runner", "run_replication": "runner",
    "load_scenario": "scenario", "parse_scenario": "scenario",
    "OracleScorer": "world", "World": "world",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    return getattr(import_module(f"simulator.{module}"), name)
