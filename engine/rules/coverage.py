"""What a policy's pools select on a given roster: names that match no officer, and pools that
select nobody.

A pool is valid on its own (the policy file is checked without a roster), but on a roster its
officer ids or team names may match no one (a typo, an officer who left): the pool then
silently sends its leads to the fallback, or leaves them held or unassigned. ``pool_warnings``
says so before any lead is routed.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.roster import Roster
from engine.rules.policy import Policy


@dataclass(frozen=True, slots=True)
class PoolWarning:
    """One finding about one pool: ``path`` is its YAML path (``pools.closers.ids``);
    ``selects_nobody`` marks the serious kind."""

    pool: str
    path: str
    message: str
    selects_nobody: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def pool_warnings(policy: Policy, roster: Roster) -> list[PoolWarning]:
    """Officer ids and teams a pool names that are not on ``roster``, and pools that select no
    officer of it, in the policy's order."""
    from engine.eligibility import pool_mask  # imports the policy module: not at load

    teams = {o.team for o in roster.officers}
    found: list[PoolWarning] = []
    for name, spec in policy.pools.items():
        unknown_ids = [i for i in spec.ids if i not in roster.index]
        if unknown_ids:
            found.append(PoolWarning(
                name, f"pools.{name}.ids", f"pool {name!r} names officer id(s) not on the roster: "
                f"{', '.join(unknown_ids)}"))
        unknown_teams = [t for t in spec.teams if t not in teams]
        if unknown_teams:
            found.append(PoolWarning(
                name, f"pools.{name}.teams", f"pool {name!r} names team(s) no officer on the "
                f"roster is in: {', '.join(unknown_teams)}"))
        if not pool_mask(roster, policy, name).any():  # the very mask decisions use
            found.append(PoolWarning(
                name, f"pools.{name}", f"pool {name!r} selects NO officer on the roster: every "
                "lead sent to it goes to its fallback, or is held or unassigned", True))
    return found
