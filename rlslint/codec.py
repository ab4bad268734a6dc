"""The replay's state as plain JSON data, and back: what the cache stores.

Data only: decoding can build exactly the types in ``REGISTRY`` (the frozen dataclasses
and named tuples of the modules that hold replay state) and JSON's own values, nothing
else, so a cache entry can never name code to run. The registry is collected from those
modules rather than listed here, so a module that adds state to the replay (and is in
``HANDLER_MODULES``) is stored without a change to this file; state of any other type
fails to encode, and the entry is simply not stored (tests/stages/test_codec.py catches it first).

An entry holds a table of the registered types it uses (by name) and one of strings, and
every value other than a plain one or a dictionary is a JSON array whose first element says
what it is, so nothing needs a dictionary of its own and no name is spelled twice:
  int, float, bool, None, str  as themselves (a string of 48 characters or more: ["x", its place])
  dict with str keys           a dict
  list / tuple                 ["l", items...] / ["t", items...]
  set                          ["s", items...] (sorted)
  Counter / other dict         ["c", k, v, k, v...] / ["d", k, v, ...]
  registered type              [its place in the type table, field values in order...]
  Span / frozenset             ["r", its place in the table of shared values], where each distinct
                               one is stored once: a span as [its type's place, the path's place
                               in the string table, start, end], a frozenset as ["f", items...]
  a field typed as a JSON tree ["j", the tree as it is]
  a state object               ["o", its name in STATE_OBJECTS, {attribute: value}]
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from types import MappingProxyType, ModuleType
from typing import Any, Callable, Iterable

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
    encoder = _Encoder()
    attributes = {name: encoder.value(getattr(state, name)) for name in _STATE_ATTRIBUTES}
    extra = set(vars(state)) - set(_STATE_ATTRIBUTES) - {"tables", "unanalysed_spans"}
    for name in sorted(extra):  # state added by other modules: plain attributes of plain values
        attributes[name] = encoder.value(getattr(state, name))
    registry = state.tables
    parts = {
        "attributes": attributes,
        "tables": encoder.value(list(registry.values())),
        "relations": encoder.value(dict(registry.relations)),
        "constraints": encoder.value(dict(registry.constraints)),
        "index_owner": encoder.value(registry.index_owner),
        "children": encoder.value(dict(registry.children)),
    }
    return {"types": list(encoder.types), "strings": list(encoder.strings), "shared": encoder.shared, **parts}


def decode_state(data: Any) -> ReplayState:
    try:
        decoder = _Decoder(data["types"], data["strings"], data["shared"])
        state = ReplayState(False)
        _set_attributes(state, data["attributes"], decoder.value)
        registry = TableRegistry()
        for table in decoder.value(data["tables"]):
            if not isinstance(table, model.Table):
                raise NotDecodable("a table entry is not a table")
            dict.__setitem__(registry, table.qname, table)
        registry.relations = defaultdict(Counter, decoder.value(data["relations"]))
        registry.constraints = defaultdict(Counter, decoder.value(data["constraints"]))
        registry.index_owner = decoder.value(data["index_owner"])
        registry.children = defaultdict(Counter, decoder.value(data["children"]))
        state.tables = registry
    except NotDecodable:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as exc:
        raise NotDecodable(str(exc)) from None
    if not isinstance(state.strict, bool) or not isinstance(state.notes, list):
        raise NotDecodable("bad state attributes")
    if not isinstance(state.unanalysed, list) or not all(isinstance(note, problems.Note) for note in state.unanalysed):
        raise NotDecodable("bad statements not analysed")
    # Derived, not stored: the spans of the statements not analysed, so no entry can disagree.
    state.unanalysed_spans = {note.span for note in state.unanalysed}
    return state


# A string this long or longer is stored once, in the entry's table of strings, and named by
# its place there wherever it recurs: a statement's text is kept by both of a policy's
# expressions, a file's path by every span in it (~18,000 spans for the 500 generated files).
_SHARED_LENGTH = 48
_SPAN = spans.Span


class _Encoder:
    def __init__(self) -> None:
        self.types: dict[str, int] = {}  # registered type name -> its place in the entry's table
        self.strings: dict[str, int] = {}
        self.shared: list[Any] = []  # each distinct span and frozenset, encoded once
        # Its place, by (path, start, end) for a span, by its encoding and by id for a frozenset.
        self._shared_at: dict[Any, int] = {}
        self._kept: list[frozenset] = []

    def string(self, text: str) -> int:
        found = self.strings.get(text)
        if found is None:
            found = self.strings[text] = len(self.strings)
        return found

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return value if len(value) < _SHARED_LENGTH else ["x", self.string(value)]
        if value is None or kind in (int, float, bool):
            return value
        if kind is _SPAN:  # the commonest object (a statement's span is every column's it made)
            key = (value.path, value.start, value.end)
            found = self._shared_at.get(key)
            if found is None:
                found = self._shared_at[key] = len(self.shared)
                self.shared.append([self._type(kind), self.string(value.path), value.start, value.end])
            return ["r", found]
        if kind is list:
            return ["l", *[self.value(v) for v in value]]
        if kind is dict or kind is MappingProxyType:
            if all(type(k) is str for k in value):
                return {k: self.value(v) for k, v in value.items()}
            return ["d", *[self.value(x) for pair in value.items() for x in pair]]
        if kind is Counter:
            return ["c", *[self.value(x) for pair in value.items() for x in pair]]
        name = _NAMES.get(kind)
        if name is not None:
            raw = _RAW.get(kind, ())
            return [self._type(kind), *[["j", getattr(value, f)] if f in raw else self.value(getattr(value, f))
                                        for f in _FIELDS[kind]]]
        state_object = _STATE_OBJECT_NAMES.get(kind)
        if state_object is not None:
            return ["o", state_object, {k: self.value(v) for k, v in sorted(vars(value).items())}]
        if kind is tuple:
            return ["t", *[self.value(v) for v in value]]
        if kind is set:
            return ["s", *sorted((self.value(v) for v in value), key=repr)]
        if kind is frozenset:  # a table's privileges: a few distinct sets (and objects) for hundreds of tables
            found = self._shared_at.get(id(value))
            if found is None:
                encoded = ["f", *sorted((self.value(v) for v in value), key=repr)]
                text = json.dumps(encoded)  # equal as stored, not only equal (1 == True)
                found = self._shared_at.get(text)
                if found is None:
                    found = self._shared_at[text] = len(self.shared)
                    self.shared.append(encoded)
                self._shared_at[id(value)] = found
                self._kept.append(value)  # so that its id is not another's while this runs
            return ["r", found]
        raise NotEncodable(f"cannot store a {kind.__module__}.{kind.__qualname__} in the cache")

    def _type(self, kind: type) -> int:
        name = _NAMES[kind]
        found = self.types.get(name)
        if found is None:
            found = self.types[name] = len(self.types)
        return found


_PLAIN = frozenset({str, int, float, bool, type(None)})  # decoded as themselves, without a call
_TUPLES = frozenset(cls for cls in REGISTRY.values() if issubclass(cls, tuple))
# Frozen dataclasses without slots: their fields go straight into the instance dictionary,
# as object.__setattr__ would put them, at a fraction of the cost (a snapshot holds ~100,000).
_WITH_DICT = frozenset(cls for cls in REGISTRY.values() if cls not in _TUPLES and "__slots__" not in vars(cls))
# Slotted ones: each field through its slot's own setter, past the frozen __setattr__.
_SLOT_SETTERS = {cls: tuple(getattr(cls, name).__set__ for name in _FIELDS[cls])
                 for cls in REGISTRY.values() if cls not in _TUPLES and cls not in _WITH_DICT}
_SPAN_PATH, _SPAN_START, _SPAN_END = _SLOT_SETTERS[_SPAN]


class _Decoder:
    """An entry's values back, through its tables of types (each name looked up in the
    registry, once), of strings and of shared values (each built once)."""

    def __init__(self, types: Any, strings: Any, shared: Any) -> None:
        if type(types) is not list or type(strings) is not list or any(type(t) is not str for t in strings) \
                or type(shared) is not list:
            raise NotDecodable("malformed tables")
        found = [REGISTRY.get(name) if type(name) is str else None for name in types]
        if None in found:
            raise NotDecodable("an unknown type")
        self.types: list[type] = found  # type: ignore[assignment]
        self.strings: list[str] = strings
        self.shared: list[Any] = []
        for value in shared:  # in order: a shared value names only those before it
            self.shared.append(self.value(value))

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is list and value:
            tag = value[0]
            if type(tag) is int:
                return self._object(tag, value)
            if tag == "t":  # the commonest container (~40,000 for the 500 generated files)
                return tuple([v if type(v) in _PLAIN else self.value(v) for v in value[1:]])
            if len(value) == 2 and tag in ("r", "x", "j"):
                if tag == "r" and type(value[1]) is int and value[1] >= 0:
                    return self.shared[value[1]]
                if tag == "j":
                    return value[1]  # a JSON tree, as stored
                if tag == "x" and type(value[1]) is int and value[1] >= 0:
                    return self.strings[value[1]]
            if tag == "o" and len(value) == 3 and type(value[1]) is str:
                cls = STATE_OBJECTS.get(value[1])
                if cls is None:
                    raise NotDecodable(f"unknown state object {value[1]!r}")
                obj = object.__new__(cls)
                _set_attributes(obj, value[2], self.value)
                return obj
            items = [v if type(v) in _PLAIN else self.value(v) for v in value[1:]]
            if tag == "l":
                return items
            if tag == "s":
                return set(items)
            if tag == "f":
                return frozenset(items)
            if tag in ("d", "c") and len(items) % 2 == 0:
                pairs = dict(zip(items[::2], items[1::2]))
                return Counter(pairs) if tag == "c" else pairs
            raise NotDecodable(f"unknown or malformed tag {tag!r}")
        if kind in _PLAIN:
            return value
        if kind is dict:
            return {k: v if type(v) in _PLAIN else self.value(v) for k, v in value.items()}
        raise NotDecodable(f"unexpected {kind.__name__}")

    def _object(self, index: int, value: list) -> Any:
        cls = self.types[index]
        if cls is _SPAN and len(value) == 4:
            span = object.__new__(_SPAN)
            _SPAN_PATH(span, self.strings[value[1]])
            _SPAN_START(span, value[2])
            _SPAN_END(span, value[3])
            return span
        if len(value) != len(_FIELDS[cls]) + 1:
            raise NotDecodable(f"malformed {cls.__qualname__}")
        args = [v if type(v) in _PLAIN else self.value(v) for v in value[1:]]
        if cls in _TUPLES:
            return cls(*args)
        obj = object.__new__(cls)  # no __init__ or __post_init__ runs: the fields are set as stored
        if cls in _WITH_DICT:
            obj.__dict__.update(zip(_FIELDS[cls], args))
        else:
            for set_field, arg in zip(_SLOT_SETTERS[cls], args):
                set_field(obj, arg)
        return obj


def _set_attributes(obj: object, attributes: Any, decode: Callable[[Any], Any]) -> None:
    """Stored attributes onto a state object; a name that could reach its internals is refused."""
    if type(attributes) is not dict:
        raise NotDecodable("malformed attributes")
    for name, value in attributes.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise NotDecodable(f"bad attribute {name!r}")
        setattr(obj, name, decode(value))
