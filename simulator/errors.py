"""Errors for bad simulator input: each says what was expected, what was received, and where."""

from __future__ import annotations


class ParamError(ValueError):
    """A parameter out of range. ``field`` names it relative to its parameter block, so the
    scenario loader can prefix the YAML path of the block (``world.response`` + ``median_s``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ScenarioError(ValueError):
    """A scenario file that cannot be used: the YAML path, what is wrong, and the file."""

    def __init__(self, path: str, message: str, source: str = "") -> None:
        self.path = path
        self.message = message
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(f"{head}{path}: {message}")


class UsageError(ValueError):
    """A command-line choice that cannot be used: an unknown policy name, a policy file that
    is not there, a scheduler that cannot be reached. Its message says what was given."""
