"""YAML from people and other programs, read within bounds.

PyYAML's SafeLoader constructs no objects beyond plain data, but it will still: build a
structure that contains itself (an alias inside its own anchor), which recursion over it never
leaves; nest without limit (a condition ``not`` 250 deep overflows Python's stack); and share
one node under many aliases, so that a few hundred bytes of nested aliases (a "billion laughs")
stand for billions of values, which every later pass over the data walks. It also lets a key
be given twice in a mapping, keeping the last, and raises ValueError (not YAMLError) for a
scalar it resolves but cannot build (``2025-13-45`` as a date, an integer of thousands of
digits).

``load_yaml`` composes the document, checks the node graph (no cycles, at most
``MAX_DEPTH`` levels and ``MAX_VALUES`` values once aliases are expanded, integers of at most
``MAX_INT_DIGITS`` digits) and only then builds the data. Every refusal is a ``YamlError``
naming the line and column, and the path to the node where it can.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64  # nesting levels of mappings and lists, aliases expanded
MAX_VALUES = 100_000  # values (scalars, mappings, lists) once aliases are expanded
MAX_INT_DIGITS = 19  # an int64: any larger integer is a typing mistake in a config file

_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """YAML that cannot be read: ``where`` is ``line L column C`` (and a path when known)."""

    def __init__(self, where: str, message: str) -> None:
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


def _at(node: yaml.Node | yaml.Event | None, path: str = "") -> str:
    mark = getattr(node, "start_mark", None)
    line = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "(file)"
    return f"{line} ({path})" if path else line


class _Loader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML would silently keep
    the last: a second ``if`` in a rule would replace the first), nesting deeper than
    ``MAX_DEPTH`` while composing (the composer recurses once per level), and an alias to a
    node that is still being composed (a structure that contains itself)."""

    _depth = 0
    _open: frozenset[str] = frozenset()  # anchors of the nodes being composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            if anchor in self._open:
                raise YamlError(_at(event), f"the alias *{anchor} refers to the node that "
                                "contains it (a structure that contains itself)")
            return super().compose_node(parent, index)
        self._depth += 1
        outer = self._open
        if anchor is not None:
            self._open = outer | {anchor}
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(_at(event), f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open = outer


def _construct_unique_mapping(loader: _Loader, node: yaml.MappingNode,
                              deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:  # "<<: *base" may be overridden
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A YAML date or time; a ConstructorError at the node for one such as ``2025-13-45``,
    which PyYAML resolves as a date and then fails to build with a bare ValueError."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a date or time ({exc})", node.start_mark) \
            from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _children(node: yaml.Node, path: str) -> list[tuple[yaml.Node, str]]:
    if isinstance(node, yaml.SequenceNode):
        return [(child, f"{path}[{i}]") for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[yaml.Node, str]] = []
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            out += [(key, path), (value, f"{path}.{name}" if path else str(name))]
        return out
    return []


def check_graph(root: yaml.Node) -> None:
    """Refuse a composed document that contains itself, nests deeper than ``MAX_DEPTH`` or
    stands for more than ``MAX_VALUES`` values once its aliases are expanded, or holds an
    integer longer than ``MAX_INT_DIGITS`` digits. Each node is visited once (its expanded
    size and depth are remembered), so the check takes time in the size of the text."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
    open_: set[int] = set()  # nodes whose children are being visited
    stack: list[tuple[yaml.Node, str, bool]] = [(root, "", False)]
    while stack:
        node, path, leaving = stack.pop()
        key = id(node)
        if leaving:
            kids = [child for child, _ in _children(node, path)]
            values = min(MAX_VALUES + 1, 1 + sum(done[id(k)][0] for k in kids))
            depth = 1 + max((done[id(k)][1] for k in kids), default=0)
            open_.discard(key)
            done[key] = (values, depth)
            if values > MAX_VALUES:
                raise YamlError(_at(node, path), f"stands for more than {MAX_VALUES:,} values "
                                "once its aliases are expanded (nested aliases?)")
            if depth > MAX_DEPTH:
                raise YamlError(_at(node, path), f"nests more than {MAX_DEPTH} levels deep "
                                "once its aliases are expanded")
            continue
        if key in done:
            continue
        if key in open_:
            raise YamlError(_at(node, path), "an alias here refers to a node that contains it "
                            "(a structure that contains itself)")
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT \
                and len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
            raise YamlError(_at(node, path), f"an integer of more than {MAX_INT_DIGITS} digits")
        open_.add(key)
        stack.append((node, path, True))
        stack.extend((child, child_path, False) for child, child_path in _children(node, path))


def load_yaml(text: str) -> Any:
    """The data of one YAML document (plain dicts, lists and scalars), read within the bounds
    above; YamlError, naming line and column, for anything that is not such YAML."""
    try:
        loader = _Loader(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as exc:
        raise YamlError(f"character {exc.position + 1}",
                        f"not valid YAML: character U+{_code(exc.character):04X} is not allowed "
                        "(YAML allows no control characters or lone surrogates)") from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(file)"
            raise YamlError(where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") \
                from None
        if node is None:
            return None
        check_graph(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(file)"
            raise YamlError(where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") \
                from None
        except (ValueError, OverflowError) as exc:  # a scalar resolved but not buildable
            raise YamlError("(file)", f"not valid YAML: a value cannot be read ({exc})") \
                from None
    finally:
        loader.dispose()


def _code(character: str | int) -> int:
    """The code point PyYAML's reader names (an int, or a one-character string)."""
    return character if isinstance(character, int) else ord(character)
