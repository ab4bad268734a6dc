"""PL/pgSQL and SQL the migrations run: DO blocks, functions they call, and event triggers.

The evaluation itself is schema/plpgsql.py, imported when something runs (most histories
call no function of their own); here the replay hands it the model and replays
what comes back. Functions and procedures are remembered when created, by name and argument
types as PostgreSQL tells overloads apart, so that ``SELECT f();``, ``PERFORM f();`` or
``CALL p();`` in a later migration runs their body; ``CREATE OR REPLACE``, ``DROP``,
``ALTER … RENAME TO`` and ``SET SCHEMA`` change what is remembered as they change the
catalog. An event trigger on ``ddl_command_end`` runs its function after every later
statement whose command tag it names, until ``ALTER EVENT TRIGGER … DISABLE`` or ``DROP
EVENT TRIGGER``.

A block with an EXCEPTION handler asks for a savepoint (a copy of the state), and gets it
back if the handler catches an error: PostgreSQL rolls the block's body back then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Generator

from pglast import parser as pg
from pglast.parser import ParseError

from rlslint.schema import privileges
from rlslint.schema.signatures import language_of
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
    # Its parse tree as JSON text, loaded again when the function is called: as a tree of
    # small dicts it is ~7 KB a function, held to the end of the replay (19 MiB at 5,000 files).
    tree: str
    language: str  # "plpgsql" and "sql" are evaluated; C, plv8 …: calling it runs nothing the model can know

    def statement(self) -> Statement:
        """The CREATE FUNCTION, with its PL/pgSQL tree (none in another language)."""
        tree = json.loads(_plpgsql_tree(self.text)) if self.language == "plpgsql" else None
        return Statement("CreateFunctionStmt", json.loads(self.tree), self.created, self.text, plpgsql=tree)


@lru_cache(maxsize=64)
def _plpgsql_tree(text: str) -> str:
    """An event trigger's function runs after every matching statement: parse its body once."""
    return pg.parse_plpgsql_json(text)


def _replay_produced(produced: Generator, state: ReplayState) -> None:
    """Replay what the evaluation yields, answering it: PostgreSQL's refusal of a statement
    (a PL/pgSQL handler may catch it), or the copy of the state a savepoint asks for."""
    from rlslint.schema.plpgsql import SAVEPOINT, RollBack, Unanalysed
    from rlslint.schema.replay import CHANGES_NO_TABLE, apply

    answer = None
    while True:
        try:
            item = produced.send(answer)
        except StopIteration:
            return
        answer = None
        if isinstance(item, Unanalysed):
            state.not_analysed(item.span, item.reason, item.runs is None or not set(item.runs) <= CHANGES_NO_TABLE)
        elif item is SAVEPOINT:
            answer = state.savepoint()
        elif isinstance(item, RollBack):
            state.restore(item.to)
        else:
            apply(item, state)
            answer, state.failure = state.failure, None


def _finder(state: ReplayState):
    """The functions a call's name may mean: those of the first schema (explicit, or on the
    search_path) that holds the name, one per argument list; [] when the migrations created
    the name and dropped or renamed it since; None for a name they never created."""
    def find(names: tuple[str, ...]) -> list[Statement] | None:
        schemas = (names[-2],) if len(names) > 1 else state.search_path
        found: dict[tuple[str, ...], Function] = {}
        for schema in schemas:
            qname = QName(schema, names[-1])
            for (held, args), function in state.functions.items():
                if held == qname:
                    found.setdefault(args, function)
        if found:
            return [function.statement() for function in found.values()]
        return [] if any(QName(s, names[-1]) in state.function_names for s in schemas) else None
    return find


def do_block(stmt: Statement, state: ReplayState) -> None:
    if stmt.plpgsql is not None:  # otherwise parse already put the plain SQL it runs after it
        from rlslint.schema.plpgsql import evaluate

        _replay_produced(evaluate(stmt, state, _finder(state)), state)


def create_function(stmt: Statement, state: ReplayState) -> None:
    """The function's owner and privileges (schema/privileges.py), and its body, to run when
    called; CREATE OR REPLACE replaces the body of the function with the same argument types."""
    privileges.create_function(stmt, state)
    node = stmt.node
    names = strs(node.get("funcname"))
    schema = names[-2] if len(names) > 1 else state.creation_schema(None)
    language = language_of(node)
    if schema is None:
        return
    if language == "plpgsql":
        try:
            _plpgsql_tree(stmt.text)
        except ParseError:  # PostgreSQL checks the body when it creates the function: it refuses
            return
    qname = QName(schema, names[-1])
    state.functions[(qname, privileges.argument_types(node.get("parameters")))] = Function(
        stmt.span, stmt.text, json.dumps(node), language)
    state.function_names.add(qname)


def drop_function(stmt: Statement, state: ReplayState, obj: Node, missing_ok: bool, cascade: bool) -> None:
    """DROP FUNCTION / PROCEDURE / ROUTINE: the body goes, and the privileges with it."""
    for routine in privileges.routines_named(state, obj):
        state.functions.pop((QName(routine.schema, routine.name), routine.args), None)
    privileges.drop_routine(stmt, state, obj, missing_ok, cascade)


def move_function(state: ReplayState, obj: Node, schema: str | None = None, name: str | None = None) -> None:
    """ALTER FUNCTION … RENAME TO / SET SCHEMA: the body and the privileges follow the function,
    and so do the event triggers that run it (PostgreSQL holds them by oid)."""
    for routine in privileges.routines_named(state, obj):
        old, new = QName(routine.schema, routine.name), QName(schema or routine.schema, name or routine.name)
        function = state.functions.pop((old, routine.args), None)
        if function is not None:
            state.functions[(new, routine.args)] = function
            state.function_names.add(new)
        if not routine.args:
            for trigger, (runs, tags, enabled) in list(state.event_triggers.items()):
                if runs == old:
                    state.event_triggers[trigger] = (new, tags, enabled)
    privileges.rename_routine(state, obj, schema, name)


def drop_schema(state: ReplayState, schema: str) -> None:
    """DROP SCHEMA … CASCADE: its functions go with it."""
    state.functions = {key: f for key, f in state.functions.items() if key[0].schema != schema}


def rename_schema(state: ReplayState, old: str, new: str) -> None:
    for (qname, args) in [key for key in state.functions if key[0].schema == old]:
        state.functions[(QName(new, qname.name), args)] = state.functions.pop((qname, args))
        state.function_names.add(QName(new, qname.name))


def call(stmt: Statement, state: ReplayState) -> None:
    """``SELECT f(…)`` or ``CALL p(…)`` of functions and procedures the migrations created: their bodies run."""
    if state.function_names and not stmt.node.get("fromClause"):
        from rlslint.schema.plpgsql import call_statements

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
    from rlslint.schema.plpgsql import COMMAND_TAGS, ddl_commands, evaluate

    tag = COMMAND_TAGS.get(stmt.kind)
    if tag is None or state.trigger_depth >= _MAX_TRIGGER_DEPTH:
        return
    relation = stmt.node.get("relation") if stmt.kind in ("CreateStmt", "AlterTableStmt") else None
    qname = state.lookup(relation.get("schemaname"), relation["relname"]) if relation else None
    for name, (function_name, tags, enabled) in list(state.event_triggers.items()):
        if not enabled or (tags is not None and tag not in tags):
            continue
        function = state.functions.get((function_name, ()))
        if function is None or function.language != "plpgsql":
            why = "which these migrations do not create" if function is None else f"written in {function.language}"
            state.not_analysed(stmt.span, f"event trigger {name} runs {function_name}(), {why}")
            continue
        state.trigger_depth += 1
        try:
            _replay_produced(evaluate(function.statement(), state, _finder(state),
                                      ddl_commands(stmt, qname), state.trigger_depth), state)
        finally:
            state.trigger_depth -= 1


HANDLERS = {"DoStmt": do_block, "CreateFunctionStmt": create_function, "SelectStmt": call, "CallStmt": call,
            "CreateEventTrigStmt": create_event_trigger, "AlterEventTrigStmt": alter_event_trigger}
DROPS = {"OBJECT_EVENT_TRIGGER": drop_event_trigger, "OBJECT_FUNCTION": drop_function, "OBJECT_PROCEDURE": drop_function,
         "OBJECT_ROUTINE": drop_function}
