"""A quicker ``__init__`` for the frozen, slotted dataclasses built once or more per lead.

A frozen dataclass's generated ``__init__`` sets each field with ``object.__setattr__(self,
name, value)`` (its own ``__setattr__`` refuses), which looks the field up by name on every
call: a ``Lead`` of 21 fields took about 6 us to build, a ``Decision`` about 4 us, paid for
every lead of a file (parsing) and every decision (the API, the simulator, the route file).
``quick_init`` gives such a class an ``__init__`` of the same signature (the same parameters,
defaults and default factories, in the same order) that sets each slot through its
descriptor, found once: the same object in about half the time, still frozen afterwards.
The dataclass's own ``__init__`` is kept as ``__dataclass_init__``;
``tests/engine/test_frozen.py`` holds the two to equal objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_NO_VALUE = object()


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` (no ``__post_init__``, no ``InitVar``, every
    field an ``__init__`` parameter) the quicker ``__init__`` (see the module). Raises
    TypeError for any other class."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init is for frozen, slotted dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not run __post_init__")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    every = cls.__dataclass_fields__.values()  # type: ignore[attr-defined]
    if any(not f.init or f.kw_only is True for f in fields) or len(every) != len(fields):
        # a field left out of __init__, keyword-only, or an InitVar (not in fields())
        raise TypeError(f"{cls.__name__}: quick_init needs every field as a parameter, "
                        "in order")
    names: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    params_src, body = [], []
    for f in fields:
        setter = f"_set_{f.name}"
        names[setter] = cls.__dict__[f.name].__set__  # the slot's descriptor
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            params_src.append(f"{f.name}=_default_{f.name}")
            body.append(f"    {setter}(self, {f.name})")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            params_src.append(f"{f.name}=_NO_VALUE")
            body.append(f"    {setter}(self, _factory_{f.name}() if {f.name} is _NO_VALUE "
                        f"else {f.name})")
        else:
            params_src.append(f.name)
            body.append(f"    {setter}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params_src)}):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<quick_init {cls.__name__}>", "exec"), names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__dataclass_init__ = cls.__init__  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


__all__ = ["quick_init"]
