"""PL/pgSQL and SQL the migrations run: DO blocks, functions they call, and event triggers.

The evaluation itself is schema/plpgsql.py; here the replay hands it the model and replays
what comes back. Functions are remembered when created, so that ``SELECT f();`` or
``PERFORM f();`` in a later migration runs their body. An event trigger on
``ddl_command_end`` runs its function after every later statement whose command tag it
names, until ``ALTER EVENT TRIGGER … DISABLE`` or ``DROP EVENT TRIGGER``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from pglast import parser as pg
from pglast.parser import ParseError

from rlslint.schema import privileges
from rlslint.schema.plpgsql import COMMAND_TAGS, Unanalysed, call_statements, ddl_commands, evaluate
from rlslint.schema.state import ReplayState, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement
from rlslint.sql.spans import Span

_MAX_TRIGGER_DEPTH = 4  # an event trigger's own DDL fires triggers too, as in PostgreSQL


@dataclass(frozen=True)
class Function:
    """A function the migrations created, kept (as plain data: the cache stores it) to run
    its body where a later statement calls it."""

    created: Span  # the CREATE FUNCTION
    text: str
    node: Node
    language: str  # "plpgsql" or "sql"

    def statement(self) -> Statement:
        """The CREATE FUNCTION, with its PL/pgSQL tree (none for a SQL function)."""
        tree = json.loads(_plpgsql_tree(self.text)) if self.language == "plpgsql" else None
        return Statement("CreateFunctionStmt", self.node, self.created, self.text, plpgsql=tree)


@lru_cache(maxsize=64)
def _plpgsql_tree(text: str) -> str:
    """An event trigger's function runs after every matching statement: parse its body once."""
    return pg.parse_plpgsql_json(text)


def _replay_produced(produced: Iterable, state: ReplayState) -> None:
    from rlslint.schema.replay import CHANGES_NO_TABLE, apply

    for item in produced:
        if isinstance(item, Unanalysed):
            state.not_analysed(item.span, item.reason, item.runs is None or not set(item.runs) <= CHANGES_NO_TABLE)
        else:
            apply(item, state)


def _finder(state: ReplayState):
    def find(names: tuple[str, ...]) -> Statement | None:
        if len(names) > 1:
            function = state.functions.get(QName(names[-2], names[-1]))
        else:
            function = next((state.functions[QName(s, names[-1])] for s in state.search_path
                             if QName(s, names[-1]) in state.functions), None)
        return function.statement() if function is not None else None
    return find


def do_block(stmt: Statement, state: ReplayState) -> None:
    if stmt.plpgsql is not None:  # otherwise parse already put the plain SQL it runs after it
        _replay_produced(evaluate(stmt, state, _finder(state)), state)


def create_function(stmt: Statement, state: ReplayState) -> None:
    """The function's owner and privileges (schema/privileges.py), and its body, to run when called."""
    privileges.create_function(stmt, state)
    node = stmt.node
    names = strs(node.get("funcname"))
    language = next((o["DefElem"]["arg"]["String"]["sval"] for o in node.get("options", ())
                     if o["DefElem"]["defname"] == "language" and "String" in o["DefElem"]["arg"]), "sql")
    schema = names[-2] if len(names) > 1 else state.creation_schema(None)
    language = language.lower()
    if schema is None:
        return
    if language not in ("plpgsql", "sql"):  # C, plv8 …: calling it runs nothing the model can know
        state.functions.pop(QName(schema, names[-1]), None)
        return
    if language == "plpgsql":
        try:
            _plpgsql_tree(stmt.text)
        except ParseError:
            return
    state.functions[QName(schema, names[-1])] = Function(stmt.span, stmt.text, stmt.node, language)


def select(stmt: Statement, state: ReplayState) -> None:
    if state.functions and not stmt.node.get("fromClause"):
        _replay_produced(call_statements(stmt.text, stmt.span, state, _finder(state)), state)


def create_event_trigger(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if node.get("eventname") != "ddl_command_end":
        return
    names = strs(node.get("funcname"))
    function = QName(names[-2] if len(names) > 1 else (state.creation_schema(None) or "public"), names[-1])
    tags = None
    for clause in node.get("whenclause", ()):
        if clause["DefElem"]["defname"] == "tag":
            tags = frozenset(t.upper() for t in strs(clause["DefElem"]["arg"]["List"]["items"]))
    state.event_triggers[node["trigname"]] = (function, tags, True)


def alter_event_trigger(stmt: Statement, state: ReplayState) -> None:
    found = state.event_triggers.get(stmt.node["trigname"])
    if found is not None:
        state.event_triggers[stmt.node["trigname"]] = (found[0], found[1], stmt.node.get("tgenabled") != "D")


def drop_event_trigger(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool,
                       cascade: bool) -> None:
    state.event_triggers.pop(names[-1], None)


def fire_event_triggers(stmt: Statement, state: ReplayState) -> None:
    """After a statement: the ddl_command_end triggers whose tags it matches."""
    tag = COMMAND_TAGS.get(stmt.kind)
    if tag is None or state.trigger_depth >= _MAX_TRIGGER_DEPTH:
        return
    relation = stmt.node.get("relation") if stmt.kind in ("CreateStmt", "AlterTableStmt") else None
    qname = state.lookup(relation.get("schemaname"), relation["relname"]) if relation else None
    for name, (function_name, tags, enabled) in list(state.event_triggers.items()):
        if not enabled or (tags is not None and tag not in tags):
            continue
        function = state.functions.get(function_name)
        if function is None:
            state.not_analysed(stmt.span, f"event trigger {name} runs {function_name}(), which these migrations do not create")
            continue
        state.trigger_depth += 1
        try:
            _replay_produced(evaluate(function.statement(), state, _finder(state),
                                      ddl_commands(stmt, qname), state.trigger_depth), state)
        finally:
            state.trigger_depth -= 1


HANDLERS = {"DoStmt": do_block, "CreateFunctionStmt": create_function, "SelectStmt": select,
            "CreateEventTrigStmt": create_event_trigger, "AlterEventTrigStmt": alter_event_trigger}
DROPS = {"OBJECT_EVENT_TRIGGER": drop_event_trigger}
