"""Which function a call means, and what its parameters get: PostgreSQL's rules for the
calls migrations write, as far as they can be known before the call runs.

Positional arguments come first, then named ones (``p => 1``, ``p := 1``); defaults fill the
rest. Of several functions of one name (overloads), the ones the arguments fit remain, and
where more than one does, the types the arguments are written with (a cast, a number)
decide. What is left to PostgreSQL's finer rules (an untyped literal that fits two) is
``Unresolved``, reported rather than guessed (schema/plpgsql.py).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from rlslint.schema.privileges import type_key
from rlslint.sql.parse import Node, Statement


class Unresolved(Exception):
    """The call cannot be matched to one function here; the message says why."""


def language_of(create: Node) -> str:
    """The LANGUAGE of a CREATE FUNCTION (lower case; SQL when it names none)."""
    return next((o["DefElem"]["arg"]["String"]["sval"] for o in create.get("options", ())
                 if o["DefElem"]["defname"] == "language" and "String" in o["DefElem"]["arg"]), "sql").lower()


_INPUT_MODES = ("FUNC_PARAM_DEFAULT", "FUNC_PARAM_IN", "FUNC_PARAM_INOUT", "FUNC_PARAM_VARIADIC")


def _inputs(create: Node) -> list[Node]:
    return [p["FunctionParameter"] for p in create.get("parameters", ())
            if p["FunctionParameter"].get("mode", "FUNC_PARAM_DEFAULT") in _INPUT_MODES]


def binding(create: Node, args: Iterable[Node]) -> dict[int, Node] | None:
    """Which argument gives each input parameter (positional ones first, then by name, as
    PostgreSQL binds ``f(1, p => 2)``); None when the function does not take these arguments."""
    parameters = _inputs(create)
    if any(p.get("mode") == "FUNC_PARAM_VARIADIC" for p in parameters):
        raise Unresolved("VARIADIC parameters are not evaluated")
    bound: dict[int, Node] = {}
    for arg in args:
        if "NamedArgExpr" in arg:
            named = arg["NamedArgExpr"]
            at = next((i for i, p in enumerate(parameters) if p.get("name") == named["name"]), None)
            if at is None or at in bound:
                return None
            bound[at] = named["arg"]
        elif len(bound) >= len(parameters):
            return None
        else:
            bound[len(bound)] = arg
    if any(i not in bound and "defexpr" not in p for i, p in enumerate(parameters)):
        return None
    return bound


def resolve(candidates: list[Statement], args: Iterable[Node]) -> tuple[Statement, dict[int, Node]]:
    """The one function of ``candidates`` the call means: the arguments' count and names must
    fit, and where more than one fits, the types of the arguments written with one (a cast, a
    number) decide. Anything subtler is PostgreSQL's to decide, and unknown here."""
    args = list(args)
    fitting = [(c, bound) for c in candidates if (bound := binding(c.node, args)) is not None]
    if len(fitting) > 1:
        fitting = [(c, bound) for c, bound in fitting
                   if all(_written_type(arg) in (None, type_key(_inputs(c.node)[i]["argType"])) for i, arg in bound.items())]
    if not fitting:
        raise Unresolved("no function of that name these migrations created takes these arguments")
    if len(fitting) > 1:
        raise Unresolved("more than one function of that name these migrations created takes these arguments")
    return fitting[0]


def _written_type(arg: Node) -> str | None:
    """The type an argument is written with, where it is plain to see: a cast, a number, a boolean."""
    if "TypeCast" in arg:
        return type_key(arg["TypeCast"]["typeName"])
    constant = arg.get("A_Const", {})
    return "int4" if "ival" in constant else "bool" if "boolval" in constant else None


def bind(create: Node, bound: Mapping[int, Node], value: Callable[[Node], Any]) -> dict[str, Any]:
    """A call's values for the function's input parameters, by name and as $n; defaults fill the rest."""
    values: dict[str, Any] = {}
    for number, parameter in enumerate(_inputs(create), start=1):
        given = value(bound[number - 1]) if number - 1 in bound else value(parameter["defexpr"])
        values[f"${number}"] = given
        if parameter.get("name"):
            values[parameter["name"]] = given
    return values
