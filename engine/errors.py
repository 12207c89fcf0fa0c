"""Errors for bad input: each names what was expected, what was received, and where."""

from __future__ import annotations

from dataclasses import dataclass

# Contact fields hold personal data: error messages show them masked, never whole, because
# messages end up in output files and logs.
PERSONAL_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "name"})


def mask(value: object) -> str:
    """Return a personal value with all but its first character hidden."""
    text = str(value)
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * min(len(text) - 1, 8)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one input value.

    ``where`` is the location in the source: ``"leads.csv row 12"`` or a YAML path such as
    ``"rules[3].if.all[0].field"``; ``column`` is the column or key the value came from.
    """

    field: str
    value: object
    message: str
    where: str = ""

    def __str__(self) -> str:
        shown = mask(self.value) if self.field in PERSONAL_FIELDS else repr(self.value)
        loc = f"{self.where}: " if self.where else ""
        return f"{loc}{self.field}={shown}: {self.message}"


class InputError(ValueError):
    """Input that cannot be accepted; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem, source: str = "") -> None:
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(str(p) for p in self.problems))
