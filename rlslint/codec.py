"""The replay's state as plain JSON data, and back: what the cache stores.

Data only: decoding can build exactly the types in ``REGISTRY`` (the frozen dataclasses
and named tuples of the modules that hold replay state) and JSON's own values, nothing
else, so a cache entry can never name code to run. The registry is collected from those
modules rather than listed here, so a module that adds state to the replay (and is in
``HANDLER_MODULES``) is stored without a change to this file; state of any other type
fails to encode, and the entry is simply not stored (tests/stages/test_codec.py catches it first).

Encoding of a value:
  str, int, float, bool, None  as themselves
  list                         a list
  dict with str keys           a dict (pglast trees), unless a key starts with "~"
  tuple                        {"~t": [...]}
  set / frozenset              {"~s": [...]} / {"~f": [...]}
  Counter / other dict         {"~c": [[k, v], ...]} / {"~d": [[k, v], ...]}
  registered type              {"~": name, "v": [field values in order]}
  a field typed as a JSON tree {"~j": the tree as it is}
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from types import MappingProxyType, ModuleType
from typing import Any, Iterable

from rlslint.schema import model, state as state_module
from rlslint.schema.access import AccessState
from rlslint.schema.replay import HANDLER_MODULES
from rlslint.schema.state import ReplayState, TableRegistry
from rlslint.sql import names, problems, spans


class NotEncodable(TypeError):
    """The state holds a value of a type the registry does not know."""


class NotDecodable(ValueError):
    """The data is not an encoding of replay state (damaged, or written by something else)."""


def _registered(modules: Iterable[ModuleType]) -> dict[str, type]:
    found: dict[str, type] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            frozen = dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen
            named_tuple = issubclass(value, tuple) and hasattr(value, "_fields")
            if frozen or named_tuple:
                found[f"{module.__name__}.{value.__qualname__}"] = value
    return found


REGISTRY: dict[str, type] = _registered((model, names, spans, problems, state_module, *HANDLER_MODULES))
_NAMES = {cls: name for name, cls in REGISTRY.items()}
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else cls._fields
           for cls in REGISTRY.values()}
# Fields declared as JSON trees (pglast's output, ``Mapping[str, Any]``) are stored as they
# are: walking every node of every policy tree was most of the cost of loading a snapshot.
_RAW_TYPES = ("Mapping[str, Any]", "Node", "dict[str, Any]")
_RAW = {cls: frozenset(f.name for f in dataclasses.fields(cls) if str(f.type).removesuffix(" | None") in _RAW_TYPES)
        for cls in REGISTRY.values() if dataclasses.is_dataclass(cls)}

# Mutable parts of the replay state kept as plain objects: stored as their attributes, and
# rebuilt without running __init__. A closed list: nothing else is ever constructed.
STATE_OBJECTS: dict[str, type] = {"rlslint.schema.access.AccessState": AccessState}
_STATE_OBJECT_NAMES = {cls: name for name, cls in STATE_OBJECTS.items()}

# The replay's own containers: their attributes, encoded like any value.
_STATE_ATTRIBUTES = ("strict", "schemas", "search_path", "path_before_local", "in_transaction", "notes", "targets")


def encode_state(state: ReplayState) -> dict:
    attributes = {name: _encode(getattr(state, name)) for name in _STATE_ATTRIBUTES}
    extra = set(vars(state)) - set(_STATE_ATTRIBUTES) - {"tables", "unanalysed_spans"}
    for name in sorted(extra):  # state added by other modules: plain attributes of plain values
        attributes[name] = _encode(getattr(state, name))
    registry = state.tables
    return {
        "attributes": attributes,
        "tables": _encode(list(registry.values())),
        "relations": _encode(dict(registry.relations)),
        "constraints": _encode(dict(registry.constraints)),
        "index_owner": _encode(registry.index_owner),
        "children": _encode(dict(registry.children)),
    }


def decode_state(data: Any) -> ReplayState:
    try:
        state = ReplayState(False)
        _set_attributes(state, data["attributes"])
        registry = TableRegistry()
        for table in _decode(data["tables"]):
            if not isinstance(table, model.Table):
                raise NotDecodable("a table entry is not a table")
            dict.__setitem__(registry, table.qname, table)
        registry.relations = defaultdict(Counter, _decode(data["relations"]))
        registry.constraints = defaultdict(Counter, _decode(data["constraints"]))
        registry.index_owner = _decode(data["index_owner"])
        registry.children = defaultdict(Counter, _decode(data["children"]))
        state.tables = registry
    except NotDecodable:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise NotDecodable(str(exc)) from None
    if not isinstance(state.strict, bool) or not isinstance(state.notes, list):
        raise NotDecodable("bad state attributes")
    if not isinstance(state.unanalysed, list) or not all(isinstance(note, problems.Note) for note in state.unanalysed):
        raise NotDecodable("bad statements not analysed")
    # Derived, not stored: the spans of the statements not analysed, so no entry can disagree.
    state.unanalysed_spans = {note.span for note in state.unanalysed}
    return state


def _encode(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if kind is list:
        return [_encode(v) for v in value]
    if kind is dict or kind is MappingProxyType:
        if all(type(k) is str and not k.startswith("~") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"~d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if kind is Counter:
        return {"~c": [[_encode(k), _encode(v)] for k, v in value.items()]}
    name = _NAMES.get(kind)
    if name is not None:
        raw = _RAW.get(kind, ())
        return {"~": name, "v": [{"~j": getattr(value, f)} if f in raw else _encode(getattr(value, f)) for f in _FIELDS[kind]]}
    state_object = _STATE_OBJECT_NAMES.get(kind)
    if state_object is not None:
        return {"~o": state_object, "a": {k: _encode(v) for k, v in sorted(vars(value).items())}}
    if kind is tuple:
        return {"~t": [_encode(v) for v in value]}
    if kind is set:
        return {"~s": sorted((_encode(v) for v in value), key=repr)}
    if kind is frozenset:
        return {"~f": sorted((_encode(v) for v in value), key=repr)}
    raise NotEncodable(f"cannot store a {kind.__module__}.{kind.__qualname__} in the cache")


_PLAIN = frozenset({str, int, float, bool, type(None)})  # decoded as themselves, without a call
_TUPLES = frozenset(cls for cls in REGISTRY.values() if issubclass(cls, tuple))
# Frozen dataclasses without slots: their fields go straight into the instance dictionary,
# as object.__setattr__ would put them, at a fraction of the cost (a snapshot holds ~100,000).
_WITH_DICT = frozenset(cls for cls in REGISTRY.values() if cls not in _TUPLES and "__slots__" not in vars(cls))
# Slotted ones: each field through its slot's own setter, past the frozen __setattr__.
_SLOT_SETTERS = {cls: tuple(getattr(cls, name).__set__ for name in _FIELDS[cls])
                 for cls in REGISTRY.values() if cls not in _TUPLES and cls not in _WITH_DICT}


def _decode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [v if type(v) in _PLAIN else _decode(v) for v in value]
    if kind is not dict:
        raise NotDecodable(f"unexpected {kind.__name__}")
    if "~" in value:
        cls = REGISTRY.get(value["~"])
        fields = value.get("v")
        if cls is None or type(fields) is not list or len(fields) != len(_FIELDS[cls]):
            raise NotDecodable(f"unknown or malformed object {value['~']!r}")
        args = [v if type(v) in _PLAIN else _decode(v) for v in fields]
        if cls in _TUPLES:
            return cls(*args)
        obj = object.__new__(cls)  # no __init__ or __post_init__ runs: the fields are set as stored
        if cls in _WITH_DICT:
            obj.__dict__.update(zip(_FIELDS[cls], args))
        else:
            for set_field, arg in zip(_SLOT_SETTERS[cls], args):
                set_field(obj, arg)
        return obj
    if "~o" in value:
        cls = STATE_OBJECTS.get(value["~o"])
        attributes = value.get("a")
        if cls is None or type(attributes) is not dict or len(value) != 2:
            raise NotDecodable(f"unknown or malformed state object {value['~o']!r}")
        obj = object.__new__(cls)
        _set_attributes(obj, attributes)
        return obj
    if len(value) == 1:
        (tag, items), = value.items()
        if tag == "~j":
            return items  # a JSON tree, as stored
        if tag == "~t":
            return tuple([v if type(v) in _PLAIN else _decode(v) for v in _items(items)])
        if tag == "~s":
            return {_decode(v) for v in _items(items)}
        if tag == "~f":
            return frozenset(_decode(v) for v in _items(items))
        if tag in ("~d", "~c"):
            pairs = {}
            for pair in _items(items):
                if type(pair) is not list or len(pair) != 2:
                    raise NotDecodable("malformed mapping")
                pairs[_decode(pair[0])] = _decode(pair[1])
            return Counter(pairs) if tag == "~c" else pairs
    if any(k.startswith("~") for k in value):
        raise NotDecodable("unknown tag")
    return {k: v if type(v) in _PLAIN else _decode(v) for k, v in value.items()}


def _set_attributes(obj: object, attributes: dict) -> None:
    """Stored attributes onto a state object; a name that could reach its internals is refused."""
    for name, value in attributes.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise NotDecodable(f"bad attribute {name!r}")
        setattr(obj, name, _decode(value))


def _items(items: Any) -> list:
    if type(items) is not list:
        raise NotDecodable("malformed container")
    return items
