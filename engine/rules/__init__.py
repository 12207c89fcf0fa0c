"""The policy file and its condition language."""

from engine.rules.conditions import PolicyError
from engine.rules.policy import Policy, load_policy, parse_policy, policy_json_schema

__all__ = ["Policy", "PolicyError", "load_policy", "parse_policy", "policy_json_schema"]
