"""Policies by name or file: the built-in names map to policy files, table-driven."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.geo import DATA_DIR
from engine.rules import Policy, load_policy
from simulator.errors import UsageError

POLICY_DIR = DATA_DIR / "scenarios" / "policies"


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in policy: its file and what it does."""

    path: Path
    description: str = ""


BUILTINS: dict[str, Builtin] = {
    "round_robin": Builtin(POLICY_DIR / "round_robin.yaml",
                           "everyone in one rotation, weights ignored"),
    "weighted_round_robin": Builtin(POLICY_DIR / "weighted_round_robin.yaml",
                                    "everyone in one rotation by weight"),
    "rules": Builtin(DATA_DIR / "policies" / "default.yaml",
                     "the shipped default policy: specialists, language, main"),
    "first_to_claim": Builtin(POLICY_DIR / "first_to_claim.yaml",
                              "the default rules, offered to five at once"),
    "greedy": Builtin(POLICY_DIR / "greedy.yaml", "the default rules, the best estimate first"),
    "batch_optimal": Builtin(POLICY_DIR / "batch_optimal.yaml",
                             "the default rules, a minute's leads solved together"),
    "dual_price": Builtin(POLICY_DIR / "dual_price.yaml",
                          "estimate minus capacity price; a lead worth less than its slot "
                          "waits for the next refresh"),
    "dual_price_broadcast": Builtin(POLICY_DIR / "dual_price_broadcast.yaml",
                                    "dual price, offered to the best two at once; the first "
                                    "to accept takes it"),
}


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A loaded policy and the label runs and files know it by."""

    label: str
    policy: Policy
    source: str


def resolve_policy(name_or_path: str) -> NamedPolicy:
    """A built-in name or a policy YAML path. Raises ``engine.rules.PolicyError`` for a bad
    file, ``UsageError`` for a name that is neither."""
    if name_or_path in BUILTINS:
        spec = BUILTINS[name_or_path]
        return NamedPolicy(name_or_path, load_policy(spec.path), str(spec.path))
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UsageError(f"no such policy file: {path}")
        policy = load_policy(path)
        return NamedPolicy(policy.name if policy.name not in BUILTINS else path.stem, policy,
                           str(path))
    raise UsageError(f"unknown policy {name_or_path!r}: give a built-in name "
                     f"({', '.join(BUILTINS)}) or a policy YAML file")


def resolve_policies(names: list[str]) -> list[NamedPolicy]:
    """Resolve several, making labels unique (a repeated label gets ``#2``, ``#3``...)."""
    out: list[NamedPolicy] = []
    seen: dict[str, int] = {}
    for name in names:
        found = resolve_policy(name)
        count = seen.get(found.label, 0) + 1
        seen[found.label] = count
        if count > 1:
            found = NamedPolicy(f"{found.label}#{count}", found.policy, found.source)
        out.append(found)
    return out
