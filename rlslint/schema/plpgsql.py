"""DO blocks run against the model: the SQL a PL/pgSQL block executes, as far as the model knows it.

Migrations secure tables in loops: ``FOR r IN SELECT … FROM pg_tables WHERE schemaname =
'public' LOOP EXECUTE format('alter table %I.%I enable row level security', …)``. The
catalogs such a loop reads are answered from the model at that point of the replay, the
strings it builds are built here, and each statement it executes is handed back to the
replay, located at its ``EXECUTE``, and the replay answers with PostgreSQL's refusal of it,
if any, so that an EXCEPTION handler can catch it (schema/conditions.py). Calls of the
functions and procedures the migrations created run their bodies (schema/signatures.py says
which function a call means). What cannot be known (a value read from a table at run time,
a function the model does not know) is never guessed: it is yielded as ``Unanalysed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from pglast import parser as pg
from pglast.parser import ParseError

from rlslint.schema import catalog_views
from rlslint.schema.catalog_views import Relation, Unknown, Unseen
from rlslint.schema.conditions import ASSERT_FAILURE, RAISE_EXCEPTION, SQLSTATES, Raised, Undecided, catches, raised_by
from rlslint.schema.model import Table
from rlslint.schema.signatures import Unresolved, bind, language_of, resolve
from rlslint.schema.textfunctions import NotComputed, format_text, like, literal
from rlslint.sql.names import QName, parse_qname, quote_ident
from rlslint.sql.parse import Node, Statement, _relocate
from rlslint.sql.spans import ByteOffsets, Span
from rlslint.sql.tokens import string_content_start


@dataclass(frozen=True)
class Unanalysed:
    span: Span
    reason: str
    # The kinds of SQL statement the part not analysed may run, where the block writes them
    # all out (an IF whose condition is unknown, around CREATE TYPE); None: anything
    runs: tuple[str, ...] | None = None


class Savepoint:
    """Yielded where a block with an EXCEPTION handler starts: the replay answers with a copy
    of its model (ReplayState.savepoint), which a ``RollBack`` hands back if the handler runs."""


SAVEPOINT = Savepoint()


@dataclass(frozen=True)
class RollBack:
    to: Any  # what the replay answered the Savepoint with


# What the evaluation yields. The replay answers a Statement with (SQLSTATE, why) when
# PostgreSQL would refuse it, else None; a Savepoint with a copy of its state.
Produced = "Statement | Unanalysed | Savepoint | RollBack"


class Model(catalog_views.Model, Protocol):
    """What the evaluation reads, live: the replay's state as the statements produced so far
    left it (the catalog views' part, how a name is found on the search_path, and what was
    not analysed so far)."""

    tables: Mapping[QName, Table]
    schemas: set[str]
    search_path: tuple[str, ...]
    views: set[QName]
    unanalysed: list

    def lookup(self, schema: str | None, name: str) -> QName | None: ...


class _Leave(Exception):
    """EXIT or CONTINUE, on its way to the loop (or labelled block) it names; None: the innermost loop."""

    def __init__(self, label: str | None, exit: bool) -> None:
        self.label, self.exit = label, exit


# A loop the evaluation runs more often than this is reported, not run: a migration's loops
# go over its tables and arrays, and a condition the model keeps true would never end.
_MAX_ROUNDS = 10_000


# A function's name as a call writes it -> the CREATE FUNCTION statements (their PL/pgSQL
# trees in ``plpgsql``) it may mean, one per argument list; [] for a name the migrations
# created and dropped since; None for a name they never created (schema/routines.py)
Functions = Callable[[tuple[str, ...]], "list[Statement] | None"]


def evaluate(do: Statement, model: Model, functions: Functions = lambda name: None,
             ddl_commands: list[dict[str, Any]] | None = None, depth: int = 0,
             arguments: Mapping[str, Any] | None = None) -> Iterator[Statement | Unanalysed]:
    """The statements a DO block (or a called function: ``do`` is its CREATE FUNCTION) runs.

    ``ddl_commands``: what ``pg_event_trigger_ddl_commands()`` returns, in an event trigger;
    ``arguments``: a called function's parameters by name and as ``$1``, ``$2`` ….
    """
    yield from uncaught(_run(do, model, functions, ddl_commands, depth, arguments))


def uncaught(produced: Iterator) -> Iterator:
    """``produced``, where an error no handler caught ends it, as it ends the migration in PostgreSQL."""
    try:
        return (yield from produced)
    except Raised as error:
        yield Unanalysed(error.span, f"{error.why}: PostgreSQL stops here and rejects the migration")


def _run(do: Statement, model: Model, functions: Functions, ddl_commands: list[dict[str, Any]] | None,
         depth: int, arguments: Mapping[str, Any] | None) -> Iterator:
    """Like ``evaluate``, where an error raises ``Raised`` out to the caller's handlers."""
    for function in do.plpgsql or ():
        body = function["PLpgSQL_function"]
        interpreter = _Interpreter(do, body.get("datums", ()), model, functions, ddl_commands, depth)
        interpreter.env.update(arguments or {})
        try:
            yield from interpreter.s_block(body.get("action", {}).get("PLpgSQL_stmt_block", {}))
        except _Leave as leave:  # PostgreSQL refuses the function: EXIT or CONTINUE outside a loop
            yield Unanalysed(do.span, f"{'EXIT' if leave.exit else 'CONTINUE'} outside a loop")


def body_text(node: Node) -> str:
    """The ``AS`` string of a DO block or a CREATE FUNCTION."""
    for option in (*node.get("args", ()), *node.get("options", ())):
        elem = option.get("DefElem", {})
        if elem.get("defname") == "as":
            arg = elem["arg"]
            if "String" in arg:
                return arg["String"]["sval"]
            items = arg.get("List", {}).get("items", ())
            return items[0]["String"]["sval"] if items and "String" in items[0] else ""
    return ""


# PL/pgSQL statements that change nothing the model holds
_INERT = frozenset({"PLpgSQL_stmt_return", "PLpgSQL_stmt_commit", "PLpgSQL_stmt_rollback"})
_ERROR = 21  # RAISE's elog_level for EXCEPTION (elog.h); below it, NOTICE, WARNING …: a message only


class _Interpreter:
    def __init__(self, do: Statement, datums: list, model: Model, functions: Functions,
                 ddl_commands: list[dict[str, Any]] | None, depth: int) -> None:
        self.do = do
        self.model = model
        self.functions = functions
        self.ddl_commands = ddl_commands
        self.depth = depth
        self.names: list[str | None] = []
        self.env: dict[str, Any] = {}
        self.caught: Raised | None = None  # in an EXCEPTION handler: the error it caught (RAISE; re-raises it)
        for datum in datums:
            kind, body = next(iter(datum.items()))
            self.names.append(body.get("refname"))
            if kind == "PLpgSQL_var" and body.get("refname") != "found":
                default = body.get("default_val", {}).get("PLpgSQL_expr", {}).get("query")
                try:
                    self.env[body["refname"]] = None if default is None else self.value(default)
                except Unknown as exc:
                    self.env[body["refname"]] = _Opaque(str(exc))
        text = do.text
        as_arg = body_text(do.node)
        self.body_start = max(string_content_start(text, as_arg), 0) if as_arg else 0
        self.first_line = text.count("\n", 0, self.body_start)

    # --- statements --------------------------------------------------------------------

    def block(self, block: Node) -> Iterator[Statement | Unanalysed]:
        for item in block.get("body", ()):
            kind, stmt = next(iter(item.items()))
            handler = getattr(self, "s_" + kind.removeprefix("PLpgSQL_stmt_"), None)
            if handler is not None:
                yield from handler(stmt)
            elif kind not in _INERT:
                yield Unanalysed(self.line_span(stmt.get("lineno")), f"{kind.removeprefix('PLpgSQL_stmt_').upper()} "
                                 "is not evaluated")

    def s_block(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            yield from self.guarded(stmt)
        except _Leave as leave:
            if not (leave.exit and leave.label is not None and leave.label == stmt.get("label")):
                raise  # EXIT <label> leaves the block of that label; anything else goes to a loop

    def guarded(self, stmt: Node) -> Iterator:
        """A block with EXCEPTION handlers runs its body in a subtransaction: an error one of
        them catches rolls the body back, then that handler runs (PL/pgSQL's exec_stmt_block)."""
        handlers = [h["PLpgSQL_exception"] for h in
                    stmt.get("exceptions", {}).get("PLpgSQL_exception_block", {}).get("exc_list", ())]
        if not handlers:
            yield from self.block(stmt)
            return
        snapshot = yield SAVEPOINT
        unknown_before = len(self.model.unanalysed)
        try:
            yield from self.block(stmt)
        except Raised as error:
            try:
                handler = next((h for h in handlers if any(catches(c["PLpgSQL_condition"]["condname"], error)
                                                           for c in h.get("conditions", ()))), None)
            except Undecided as exc:
                yield Unanalysed(error.span, f"{error.why}, in a block whose EXCEPTION handler may catch it ({exc})")
                return
            if handler is None:
                raise
            yield RollBack(snapshot)
            outer, self.caught = self.caught, error
            try:
                yield from self.block({"body": handler.get("action", ())})
            finally:
                self.caught = outer
            return
        if len(self.model.unanalysed) > unknown_before and any(h.get("action") for h in handlers):
            # a statement the model could not know may have raised: its handler may have run
            yield Unanalysed(self.line_span(stmt.get("lineno")), "a block whose EXCEPTION handler runs if SQL "
                             "known only at run time fails")

    def s_raise(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        if stmt.get("elog_level", _ERROR) < _ERROR:
            return iter(())
        span = self.line_span(stmt.get("lineno"))
        if not any(key in stmt for key in ("condname", "message", "options")):  # RAISE; in a handler
            if self.caught is None:
                raise Raised("", "RAISE without parameters outside an EXCEPTION handler", span)
            raise self.caught
        condition = stmt.get("condname")
        for option in stmt.get("options", ()):
            if option["PLpgSQL_raise_option"].get("opt_type", 0) == 0:  # USING ERRCODE = …
                try:
                    condition = self.value(option["PLpgSQL_raise_option"]["expr"]["PLpgSQL_expr"]["query"])
                except Unknown:
                    condition = None
                if not isinstance(condition, str):
                    raise Raised("", "RAISE EXCEPTION with an ERRCODE known only at run time", span)
        why = f"RAISE EXCEPTION {literal(stmt['message'])}" if "message" in stmt else "RAISE EXCEPTION"
        if condition is None:
            raise Raised(RAISE_EXCEPTION, why, span)
        raise raised_by(condition, why, span)

    def s_assert(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            holds = self.value(stmt["cond"]["PLpgSQL_expr"]["query"])
        except Unknown:
            return iter(())  # a check of what the migration expects: it changes nothing the model holds
        if holds is False:
            raise Raised(ASSERT_FAILURE, "ASSERT fails", self.line_span(stmt.get("lineno")))
        return iter(())

    def s_getdiag(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        for item in stmt.get("diag_items", ()):
            target = item["PLpgSQL_diag_item"].get("target", 0)
            self.env[self.names[target]] = _Opaque("GET DIAGNOSTICS gives what happened at run time")
        return iter(())

    def applied(self, stmt: Statement, span: Span) -> Iterator:
        """Yield ``stmt`` to the replay; PostgreSQL's refusal of it raises, as in the block."""
        refused = yield stmt
        if refused is not None:
            sqlstate, why = refused
            raise Raised(sqlstate, why, span)

    def s_exit(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        cond = stmt.get("cond")
        if cond is not None:
            try:
                if not self.value(cond["PLpgSQL_expr"]["query"]):
                    return
            except Unknown as exc:
                yield Unanalysed(self.line_span(stmt.get("lineno")),
                                 f"{'EXIT' if stmt.get('is_exit') else 'CONTINUE'} WHEN a condition known only at run time ({exc})")
                # what the loop does from here on is unknown: leave it, the tables are marked
                raise _Leave(stmt.get("label"), True)
        raise _Leave(stmt.get("label"), bool(stmt.get("is_exit")))

    def loop(self, stmt: Node, rounds: Iterable[None]) -> Iterator[Statement | Unanalysed]:
        """The loop's body once per round; ``rounds`` binds the loop's variable before each."""
        for count, _ in enumerate(rounds):
            if count == _MAX_ROUNDS:
                yield Unanalysed(self.line_span(stmt.get("lineno")), f"a loop that runs more than {_MAX_ROUNDS} times")
                return
            try:
                yield from self.block(stmt)
            except _Leave as leave:
                if leave.label is not None and leave.label != stmt.get("label"):
                    raise
                if leave.exit:
                    return

    def s_loop(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        yield from self.loop(stmt, iter(lambda: None, 0))  # until EXIT

    def s_while(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        unknown: list[Unanalysed] = []

        def rounds() -> Iterator[None]:
            while True:
                try:
                    if not self.value(stmt["cond"]["PLpgSQL_expr"]["query"]):
                        return
                except Unknown as exc:
                    unknown.append(Unanalysed(self.line_span(stmt.get("lineno")),
                                              f"WHILE whose condition is known only at run time ({exc})"))
                    return
                yield None

        yield from self.loop(stmt, rounds())
        yield from unknown

    def s_fori(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            lower, upper = (self.value(stmt[key]["PLpgSQL_expr"]["query"]) for key in ("lower", "upper"))
            step = self.value(stmt["step"]["PLpgSQL_expr"]["query"]) if "step" in stmt else 1
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"FOR over a range known only at run time ({exc})")
            return
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lower, upper, step)) or step <= 0:
            yield Unanalysed(self.line_span(stmt.get("lineno")), "FOR over a range that is not of integers")
            return
        name = stmt["var"]["PLpgSQL_var"]["refname"]
        values = range(lower, upper - 1, -step) if stmt.get("reverse") else range(lower, upper + 1, step)

        def rounds() -> Iterator[None]:
            for value in values:
                self.env[name] = value
                yield None

        yield from self.loop(stmt, rounds())

    def s_case(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            if "t_expr" in stmt:
                self.env[self.names[stmt.get("t_varno", 0)]] = self.value(stmt["t_expr"]["PLpgSQL_expr"]["query"])
            for when in stmt.get("case_when_list", ()):
                branch = when["PLpgSQL_case_when"]
                if self.value(branch["expr"]["PLpgSQL_expr"]["query"]):
                    yield from self.block({"body": branch.get("stmts", ())})
                    return
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"CASE whose branch is known only at run time ({exc})")
            return
        if stmt.get("have_else"):
            yield from self.block({"body": stmt.get("else_stmts", ())})
        else:  # PostgreSQL raises case_not_found: the migration fails
            yield Unanalysed(self.line_span(stmt.get("lineno")), "CASE without a matching branch or ELSE")

    def s_assign(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        query = stmt["expr"]["PLpgSQL_expr"]["query"]
        name = self.names[stmt.get("varno", 0)]
        _, _, expression = query.partition(":=")
        if not expression:
            _, _, expression = query.partition("=")
        try:
            self.env[name] = self.value(expression)
        except Unknown as exc:
            self.env[name] = _Opaque(str(exc))
        return iter(())

    def s_execsql(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        query = stmt["sqlstmt"]["PLpgSQL_expr"]["query"]
        line = self.line_span(stmt.get("lineno"))
        at = self.do.text.find(query, line.start - self.do.span.start)
        try:
            stmts = json.loads(pg.parse_sql_json(query))["stmts"]
        except ParseError as exc:
            yield Unanalysed(line, f"statement in a DO block does not parse: {exc.args[0]}")
            return
        if len(stmts) == 1 and "SelectStmt" in stmts[0]["stmt"]:  # SELECT … INTO: the functions it calls run
            yield from self.calls(query, line)
        elif at < 0:
            yield from self.produce(query, stmt.get("lineno"))
        else:  # written in the file: the statement keeps its own place there
            start = self.do.span.start + at
            offsets = ByteOffsets(query)
            for entry in stmts:
                kind, node = next(iter(entry["stmt"].items()))
                _relocate(node, lambda b: start + offsets.to_char(b))
                yield from self.applied(Statement(kind, node, Span(self.do.span.path, start, start + len(query)), query,
                                                  embedded=True), line)
        if stmt.get("into"):
            self.into(stmt["target"], query)

    def into(self, target: Node, query: str) -> None:
        """SELECT … INTO: the first row, when the model can answer the query; else unknown values."""
        fields = [f["name"] for f in target.get("PLpgSQL_row", {}).get("fields", ())]
        try:
            rows = self.rows(query)
        except Unknown as exc:
            for name in fields or [next(iter(target.values()))["refname"]]:
                self.env[name] = _Opaque(str(exc))
            return
        if fields:
            values = list(rows[0].values()) if rows else []
            self.env.update((name, values[i] if i < len(values) else None) for i, name in enumerate(fields))
        else:  # INTO a record
            self.env[next(iter(target.values()))["refname"]] = rows[0] if rows else None

    def s_perform(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        yield from self.calls(stmt["expr"]["PLpgSQL_expr"]["query"], self.line_span(stmt.get("lineno")))  # "SELECT f(…)"

    def s_call(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        yield from self.calls(stmt["expr"]["PLpgSQL_expr"]["query"], self.line_span(stmt.get("lineno")))

    def calls(self, query: str, span: Span) -> Iterator[Statement | Unanalysed]:
        """``PERFORM f()``, ``SELECT f()`` or ``CALL p()`` of a function the migrations created: run its body."""
        yield from _calls(query, span, self.model, self.functions, self.depth, lambda node: self.eval(node, self.env))

    def s_dynexecute(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            sql = self.value(stmt["query"]["PLpgSQL_expr"]["query"])
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"EXECUTE of SQL built at run time ({exc})")
            return
        if not isinstance(sql, str):
            yield Unanalysed(self.line_span(stmt.get("lineno")), "EXECUTE of a value that is not text")
            return
        yield from self.produce(sql, stmt.get("lineno"))

    def s_if(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        branches = [(stmt["cond"], stmt.get("then_body", ()))]
        branches += [(e["PLpgSQL_if_elsif"]["cond"], e["PLpgSQL_if_elsif"].get("stmts", ())) for e in stmt.get("elsif_list", ())]
        for cond, body in branches:
            try:
                taken = self.value(cond["PLpgSQL_expr"]["query"])
            except Unknown as exc:
                bodies = [b for _, b in branches] + [stmt.get("else_body", ())]
                yield Unanalysed(self.line_span(stmt.get("lineno")), f"IF whose condition is known only at run time ({exc})",
                                 self.runs([s for body in bodies for s in body]))
                return
            if taken:
                yield from self.block({"body": body})
                return
        yield from self.block({"body": stmt.get("else_body", ())})

    def s_foreach_a(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        try:
            values = self.value(stmt["expr"]["PLpgSQL_expr"]["query"])
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"FOREACH over an array known only at run time ({exc})")
            return
        if not isinstance(values, list):
            yield Unanalysed(self.line_span(stmt.get("lineno")), "FOREACH over a value that is not an array")
            return
        name = self.names[stmt.get("varno", 0)]

        def rounds() -> Iterator[None]:
            for value in values:
                self.env[name] = value
                yield None

        yield from self.loop(stmt, rounds())

    def s_fors(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        yield from self.for_rows(stmt, stmt["query"]["PLpgSQL_expr"]["query"], self.env)

    def s_dynfors(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        """FOR r IN EXECUTE <text> [USING …]: the query runs as if written there, seeing only $1, $2 …"""
        try:
            query = self.value(stmt["query"]["PLpgSQL_expr"]["query"])
            params = {f"${n}": self.value(p["PLpgSQL_expr"]["query"]) for n, p in enumerate(stmt.get("params", ()), 1)}
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"FOR over EXECUTE of SQL built at run time ({exc})")
            return
        if not isinstance(query, str):
            yield Unanalysed(self.line_span(stmt.get("lineno")), "FOR over EXECUTE of a value that is not text")
            return
        yield from self.for_rows(stmt, query, params)

    def for_rows(self, stmt: Node, query: str, env: Mapping[str, Any]) -> Iterator[Statement | Unanalysed]:
        var = stmt["var"]
        name = next(iter(var.values()))["refname"]
        try:
            rows = self.rows(query, env)
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"FOR over rows known only at run time ({exc})")
            return
        targets = [f["name"] for f in var.get("PLpgSQL_row", {}).get("fields", ())]

        def rounds() -> Iterator[None]:
            for row in rows:
                if targets:  # FOR a, b IN SELECT …: the columns in order
                    self.env.update(zip(targets, row.values()))
                else:
                    self.env[name] = row
                yield None

        yield from self.loop(stmt, rounds())

    def runs(self, body: Iterable[Node]) -> tuple[str, ...] | None:
        """The kinds of SQL statement ``body`` may run, when it writes them all out: SQL as
        written, in IF, CASE and blocks; None when it may do more (build SQL, call a
        function the migrations created, set a variable, leave a loop, raise an error)."""
        kinds: list[str] = []
        for item in body:
            kind, stmt = next(iter(item.items()))
            if kind in ("PLpgSQL_stmt_if", "PLpgSQL_stmt_case", "PLpgSQL_stmt_block"):
                nested = [*stmt.get("then_body", ()), *stmt.get("else_body", ()), *stmt.get("else_stmts", ()),
                          *stmt.get("body", ())]
                nested += [s for e in stmt.get("elsif_list", ()) for s in e["PLpgSQL_if_elsif"].get("stmts", ())]
                nested += [s for w in stmt.get("case_when_list", ()) for s in w["PLpgSQL_case_when"].get("stmts", ())]
                nested += [s for h in stmt.get("exceptions", {}).get("PLpgSQL_exception_block", {}).get("exc_list", ())
                           for s in h["PLpgSQL_exception"].get("action", ())]
                inner = self.runs(nested)
            elif kind == "PLpgSQL_stmt_raise" and stmt.get("elog_level", _ERROR) < _ERROR:
                inner = ()  # a message
            elif kind in ("PLpgSQL_stmt_execsql", "PLpgSQL_stmt_perform") and not stmt.get("into"):
                inner = self.written((stmt.get("sqlstmt") or stmt["expr"])["PLpgSQL_expr"]["query"])
            else:
                inner = None
            if inner is None:
                return None
            kinds += inner
        return tuple(kinds)

    def written(self, query: str) -> tuple[str, ...] | None:
        """The kinds of the statements of SQL written in the block; None for a query that calls
        a function the migrations created (its body may do anything)."""
        try:
            stmts = json.loads(pg.parse_sql_json(query))["stmts"]
        except ParseError:
            return None
        kinds = tuple(next(iter(entry["stmt"])) for entry in stmts)
        called = (tuple(n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n)
                  for entry in stmts for target in entry["stmt"].get("SelectStmt", {}).get("targetList", ())
                  if (call := target["ResTarget"]["val"].get("FuncCall")) is not None)
        if any(self.functions(name) is not None for name in called):
            return None
        return tuple(k for k in kinds if k != "SelectStmt")  # a query changes nothing the model holds

    # --- produced statements -----------------------------------------------------------

    def line_span(self, lineno: int | None) -> Span:
        """The statement's line in the file: PL/pgSQL counts lines from the body's first."""
        text, start = self.do.text, self.do.span.start
        if not lineno:
            return self.do.span
        offset = 0
        for _ in range(self.first_line + lineno - 1):
            offset = text.find("\n", offset) + 1
            if offset == 0:
                return self.do.span
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        line = text[offset:end]
        indent = len(line) - len(line.lstrip())
        return Span(self.do.span.path, start + offset + indent, start + offset + len(line.rstrip()))

    def produce(self, sql: str, lineno: int | None) -> Iterator[Statement | Unanalysed]:
        span = self.line_span(lineno)
        try:
            stmts = json.loads(pg.parse_sql_json(sql))["stmts"]
        except ParseError as exc:
            yield Unanalysed(span, f"executed SQL does not parse: {exc.args[0]}")
            return
        if len(stmts) == 1 and next(iter(stmts[0]["stmt"])) in ("SelectStmt", "CallStmt"):
            # EXECUTE 'select f()': a call, which sees none of the block's variables
            yield from _calls(sql, span, self.model, self.functions, self.depth, lambda node: self.eval(node, {}))
            return
        for entry in stmts:
            kind, node = next(iter(entry["stmt"].items()))
            _relocate(node, lambda _: -1)  # built text has no place in the file: findings point at the EXECUTE
            yield from self.applied(Statement(kind, node, span, sql, embedded=True), span)

    # --- expressions -------------------------------------------------------------------

    def value(self, expression: str) -> Any:
        try:
            stmts = json.loads(pg.parse_sql_json(f"select {expression}"))["stmts"]
        except ParseError as exc:
            raise Unknown(f"cannot parse {expression.strip()}") from exc
        targets = stmts[0]["stmt"]["SelectStmt"].get("targetList", ())
        if len(targets) != 1:
            raise Unknown("not one value")
        return self.eval(targets[0]["ResTarget"]["val"], self.env)

    def eval(self, node: Node, env: Mapping[str, Any]) -> Any:
        kind, body = next(iter(node.items()))
        if kind == "A_Const":
            if body.get("isnull"):
                return None
            for key in ("sval", "ival", "boolval", "fval"):
                if key in body:
                    return body[key].get(key, {"sval": "", "ival": 0, "boolval": False, "fval": "0"}[key])
            return {"sval": ""}.get("sval")  # an empty string literal: every field left out
        if kind == "ColumnRef":
            names = [f["String"]["sval"] for f in body.get("fields", ()) if "String" in f]
            value: Any = env
            for name in names:
                if not isinstance(value, Mapping) or name not in value:
                    raise Unknown(f"{'.'.join(names)} is not known")
                value = value[name]
            if isinstance(value, _Opaque):
                raise Unknown(value.why)
            return value
        if kind == "ParamRef":  # $1 in a called function
            if f"${body.get('number', 0)}" not in env:
                raise Unknown(f"${body.get('number', 0)} is not known")
            return env[f"${body.get('number', 0)}"]
        if kind == "TypeCast":
            value = self.eval(body["arg"], env)
            names = [n["String"]["sval"] for n in body["typeName"].get("names", ()) if "String" in n]
            is_array = bool(body["typeName"].get("arrayBounds"))
            if isinstance(value, Unseen) or value is None or is_array:
                return value
            if names[-1:] == ["regclass"]:
                return self.regclass(value)
            if names[-1:] in (["text"], ["varchar"], ["name"]):
                return self.text(value)
            return value
        if kind == "CoalesceExpr":
            return next((v for v in (self.eval(a, env) for a in body.get("args", ())) if v is not None), None)
        if kind == "A_ArrayExpr":
            return [self.eval(e, env) for e in body.get("elements", ())]
        if kind == "A_Indirection":  # tables[i]: PostgreSQL's arrays count from 1
            value = self.eval(body["arg"], env)
            for item in body.get("indirection", ()):
                index = item.get("A_Indices", {})
                if not isinstance(value, list) or index.get("is_slice") or "uidx" not in index:
                    raise Unknown("an indirection other than an array subscript")
                at = self.eval(index["uidx"], env)
                value = value[at - 1] if isinstance(at, int) and 1 <= at <= len(value) else None
            return value
        if kind == "FuncCall":
            return self.call(body, env)
        if kind == "BoolExpr":
            op = body["boolop"]
            if op == "NOT_EXPR":
                return not self.eval(body["args"][0], env)
            # One false operand makes AND false (one true, OR true), whatever the model cannot
            # tell of the others.
            decisive, unknown = op == "OR_EXPR", None
            for arg in body["args"]:
                try:
                    if bool(self.eval(arg, env)) == decisive:
                        return decisive
                except Unknown as exc:
                    unknown = unknown or exc
            if unknown is not None:
                raise unknown
            return not decisive
        if kind == "A_Expr":
            return self.operator(body, env)
        if kind == "NullTest":
            value = self.eval(body["arg"], env)
            if isinstance(value, Unseen):
                raise Unknown(value.why)
            return (value is None) == (body.get("nulltesttype") == "IS_NULL")
        if kind == "SubLink":
            return self.sublink(body, env)
        raise Unknown(f"{kind} is not evaluated")

    def sublink(self, link: Node, env: Mapping[str, Any]) -> Any:
        """EXISTS (…), a scalar (SELECT …), x IN (SELECT …) and ARRAY(SELECT …)."""
        kind, select = link.get("subLinkType"), link["subselect"]["SelectStmt"]
        if kind == "EXISTS_SUBLINK":
            return bool(self.select_rows(select, env, exists=True))
        if kind not in ("EXPR_SUBLINK", "ARRAY_SUBLINK", "ANY_SUBLINK"):
            raise Unknown(f"a {kind.removesuffix('_SUBLINK')} sub-select is not evaluated")
        rows = self.select_rows(select, env)
        if any(len(row) != 1 for row in rows):
            raise Unknown("a sub-select of more than one column")  # PostgreSQL refuses it
        values = [next(iter(row.values())) for row in rows]
        if kind == "ARRAY_SUBLINK":
            return values
        if kind == "ANY_SUBLINK":
            operator = "".join(n["String"]["sval"] for n in link.get("operName", ()) if "String" in n) or "="
            if operator != "=":
                raise Unknown(f"{operator} ANY (SELECT …) is not evaluated")
            left = self.eval(link["testexpr"], env)
            return None if left is None else left in values
        if len(values) > 1:
            raise Unknown("a sub-select used as a value returns more than one row: PostgreSQL stops the migration")
        return values[0] if values else None

    def operator(self, a: Node, env: Mapping[str, Any]) -> Any:
        name = "".join(n["String"]["sval"] for n in a.get("name", ()) if "String" in n)
        kind = a.get("kind")
        left = self.eval(a["lexpr"], env) if "lexpr" in a else None
        if kind == "AEXPR_IN":
            values = [self.eval(e, env) for e in a["rexpr"]["List"]["items"]]
            if isinstance(left, Unseen):
                return _unseen_among(left, values, name == "=")
            return (left in values) == (name == "=")
        right = self.eval(a["rexpr"], env)
        if isinstance(left, Unseen) or isinstance(right, Unseen):
            unseen, other = (left, right) if isinstance(left, Unseen) else (right, left)
            if kind != "AEXPR_OP" or name not in ("=", "<>", "!="):
                raise Unknown(unseen.why)
            return _unseen_among(unseen, [other], name == "=")
        if kind == "AEXPR_OP_ANY" and name == "=":
            return isinstance(right, list) and left in right
        if kind == "AEXPR_OP_ALL" and name == "<>":
            return isinstance(right, list) and left not in right
        if kind == "AEXPR_LIKE":
            return _matches(left, right) == (name == "~~")
        if kind == "AEXPR_OP":
            if name == "||":
                if left is None or right is None:
                    return None
                if isinstance(left, list) or isinstance(right, list):
                    return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])
                return f"{self.text(left)}{self.text(right)}"
            if name in _COMPARISONS or name in _ARITHMETIC:
                if left is None or right is None:
                    return None
                if name in _ARITHMETIC and not all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right)):
                    raise Unknown(f"operator {name} on values that are not integers")
                if name in ("<", ">", "<=", ">=") and type(left) is not type(right):
                    raise Unknown(f"operator {name} on values of different types")
                return (_COMPARISONS.get(name) or _ARITHMETIC[name])(left, right)
            if name == "~~":
                return _matches(left, right)
            if name == "!~~":
                return not _matches(left, right)
        raise Unknown(f"operator {name} is not evaluated")

    def call(self, call: Node, env: Mapping[str, Any]) -> Any:
        names = [n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n]
        name = names[-1] if names[:1] in ([], ["pg_catalog"]) or len(names) == 1 else ".".join(names)
        args = [self.text(a) if isinstance(a, Relation) else a for a in (self.eval(a, env) for a in call.get("args", ()))]
        if name == "format" and args and isinstance(args[0], str):
            try:
                return format_text(args[0], args[1:])
            except NotComputed as exc:
                raise Unknown(str(exc)) from None
        if name == "quote_ident" and len(args) == 1:
            return quote_ident(str(args[0]))
        if name == "quote_literal" and len(args) == 1:
            return literal(args[0])
        if name == "quote_nullable" and len(args) == 1:
            return "NULL" if args[0] is None else literal(args[0])
        if name in ("lower", "upper") and len(args) == 1 and isinstance(args[0], str):
            return args[0].lower() if name == "lower" else args[0].upper()
        if name in ("array_length", "cardinality") and args and isinstance(args[0], list):
            if name == "array_length" and args[1:] != [1]:
                raise Unknown("array_length() of a dimension other than the first")
            return len(args[0]) if args[0] or name == "cardinality" else None  # an empty array has no length
        if name in ("length", "char_length") and len(args) == 1 and isinstance(args[0], str):
            return len(args[0])
        if name == "concat":
            return "".join("" if a is None else str(a) for a in args)
        if name == "unnest" and len(args) == 1 and isinstance(args[0], list):
            return _Rows(args[0])
        raise Unknown(f"{'.'.join(names)}() is not evaluated")

    def regclass(self, value: Any) -> Relation:
        """``::regclass``: a relation, or a name PostgreSQL looks up on the search_path."""
        if isinstance(value, Relation):
            return Relation(value.qname, regclass=True)
        if not isinstance(value, str):
            raise Unknown("a cast to regclass of a value that is not a name")
        try:
            qname = parse_qname(value, default_schema="")
        except ValueError:  # three parts, or none: PostgreSQL refuses or looks in another database
            raise Unknown(f"{value!r}::regclass is not a table's name") from None
        if not qname.schema:  # the first schema on the search_path that holds the name
            qname = next((QName(s, qname.name) for s in self.model.search_path if self.holds(QName(s, qname.name))), qname)
            if not qname.schema:
                raise Unknown(f"{value}::regclass names no table or view these migrations create")
        return Relation(qname, regclass=True)

    def holds(self, qname: QName) -> bool:
        return qname in self.model.tables or qname in self.model.views

    def text(self, value: Any) -> str:
        """A value as PostgreSQL prints it. A regclass prints its name, qualified only when the
        search_path would not find it (regclassout): ``orders``, but ``app.orders``."""
        if not isinstance(value, Relation):
            return str(value)
        if not value.regclass:
            raise Unknown("an oid prints as a number known only at run time")
        qname = value.qname
        first = next((s for s in self.model.search_path if self.holds(QName(s, qname.name))), None)
        return quote_ident(qname.name) if first == qname.schema else str(qname)

    # --- catalog queries ---------------------------------------------------------------

    def rows(self, query: str, env: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            stmts = json.loads(pg.parse_sql_json(query))["stmts"]
        except ParseError as exc:
            raise Unknown("the loop's query does not parse") from exc
        if len(stmts) != 1 or "SelectStmt" not in stmts[0]["stmt"]:
            raise Unknown("the loop's query is not a SELECT")
        return self.select_rows(stmts[0]["stmt"]["SelectStmt"], self.env if env is None else env)

    def select_rows(self, select: Node, env: Mapping[str, Any], exists: bool = False) -> list[dict[str, Any]]:
        """The query's rows; with ``exists``, the first row the model knows is enough (EXISTS
        holds whatever else PostgreSQL holds)."""
        if select.get("op", "SETOP_NONE") != "SETOP_NONE" or select.get("groupClause") or select.get("withClause"):
            raise Unknown("the query is not a plain SELECT")
        sources = select.get("fromClause", ())
        targets = [t["ResTarget"] for t in select.get("targetList", ())]
        if not sources:  # select unnest(array[…]), or values
            if len(targets) == 1 and "FuncCall" in targets[0]["val"]:
                produced = self.eval(targets[0]["val"], env)
                if isinstance(produced, _Rows):
                    label = targets[0].get("name") or "unnest"
                    return [{label: v} for v in produced.values]
            return self.limited([self.project(targets, env, {})], select, env)
        counted = [_counted(t) for t in targets]
        if any(counted) and not all(counted):
            raise Unknown("a query that mixes count() with other columns")
        where = select.get("whereClause")
        scopes = []
        unknown: Unknown | None = None
        for scope, probe in self.from_items(sources, env, self.equalities(where, env)):
            try:
                if where is not None and not self.eval(where, _RowEnv(env, scope)):
                    continue
            except Unknown as exc:
                if not probe:
                    raise
                unknown = unknown or exc
                continue
            if probe:  # would the query also see objects the model does not hold?
                unknown = unknown or Unknown("the query can see objects the migrations do not create")
                continue
            if exists:
                return [{}]
            scopes.append(scope)
        if unknown is not None:
            raise unknown
        if counted and all(counted):  # select count(*) …: one row
            names = [_RowEnv(env, scope) for scope in scopes]
            return [{t.get("name") or "count": sum(1 for n in names if self.eval(c, n) is not None)
                     for t, c in zip(targets, counted)}]
        rows = [self.project(targets, env, scope) for scope in scopes]
        if select.get("distinctClause"):
            rows = _distinct(rows, select["distinctClause"])
        return self.limited(rows, select, env)

    def limited(self, rows: list[dict[str, Any]], select: Node, env: Mapping[str, Any]) -> list[dict[str, Any]]:
        """LIMIT n: the rows PostgreSQL keeps; without ORDER BY they are its choice, so more
        rows than that are unknown unless they are all alike."""
        if "limitOffset" in select:
            raise Unknown("OFFSET is not evaluated")
        limit = self.eval(select["limitCount"], env) if "limitCount" in select else None
        if limit is None:  # no LIMIT, or LIMIT ALL
            return rows
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise Unknown("LIMIT of a value that is not an integer")
        if len(rows) <= limit:
            return rows
        if select.get("sortClause") or any(row != rows[0] for row in rows):
            raise Unknown("LIMIT picks rows in an order the model does not know")
        return rows[:limit]

    def equalities(self, where: Node | None, env: Mapping[str, Any]) -> list[tuple[str | None, str, Any]]:
        """``column = value`` among the WHERE's top-level conditions, where the value is a
        constant or a variable of the block: (alias or None, column, value). Rows that differ
        there cannot match, so they are left out before the WHERE is evaluated on each row
        (a guard per table would otherwise cost the square of the number of tables)."""
        conditions = where["BoolExpr"]["args"] if where and where.get("BoolExpr", {}).get("boolop") == "AND_EXPR" else [where]
        found = []
        for condition in conditions:
            a = (condition or {}).get("A_Expr", {})
            if a.get("kind") != "AEXPR_OP" or [n["String"]["sval"] for n in a.get("name", ()) if "String" in n] != ["="]:
                continue
            for column, other in ((a["lexpr"], a["rexpr"]), (a["rexpr"], a["lexpr"])):
                fields = [f["String"]["sval"] for f in column.get("ColumnRef", {}).get("fields", ()) if "String" in f]
                if 1 <= len(fields) <= 2 and _outside_the_rows(other, env):
                    try:
                        found.append((fields[0] if len(fields) == 2 else None, fields[-1], self.eval(other, env)))
                    except Unknown:
                        pass
                    break
        return found

    def from_items(self, sources: Iterable[Node], env: Mapping[str, Any],
                   wanted: list[tuple[str | None, str, Any]] = ()) -> list[tuple[dict[str, dict], bool]]:
        """The FROM list's combinations of rows: (alias -> row, whether a probe row is among them);
        ``wanted``: the WHERE's ``column = value`` conditions, which rows must meet."""
        combined: list[tuple[dict[str, dict], bool]] = [({}, False)]
        for source in sources:
            combined = [({**scope, **more}, probe or also) for scope, probe in combined
                        for more, also in self.from_item(source, env, wanted)]
        return combined

    def from_item(self, source: Node, env: Mapping[str, Any],
                  wanted: list[tuple[str | None, str, Any]] = ()) -> list[tuple[dict[str, dict], bool]]:
        if "JoinExpr" in source:
            join = source["JoinExpr"]
            if join.get("jointype", "JOIN_INNER") != "JOIN_INNER" or join.get("usingClause") or join.get("isNatural"):
                raise Unknown("a join other than an inner join ON a condition")
            quals = join.get("quals")
            return [(scope, probe) for scope, probe in self.from_items((join["larg"], join["rarg"]), env, wanted)
                    if quals is None or self.joined(quals, _RowEnv(env, scope), probe)]
        alias, rows, probes = self.catalog(source)
        for qualifier, column, value in wanted:
            if qualifier in (None, alias):  # a row without the column is left to the WHERE, which says so
                missing = object()
                rows = [row for row in rows if row.get(column, value) == value]  # known rows hold no Unseen
                probes = [row for row in probes if row.get(column, missing) in (value, missing)
                          or isinstance(row[column], Unseen)]
        return [({alias: row}, False) for row in rows] + [({alias: row}, True) for row in probes]

    def joined(self, quals: Node, names: Mapping[str, Any], probe: bool) -> bool:
        """Whether a combination of rows meets the join's condition; one with a probe row that
        may meet it stays, and the query's answer is unknown if it reaches the result."""
        try:
            return bool(self.eval(quals, names))
        except Unknown:
            if probe:
                return True
            raise

    def project(self, targets: list[Node], env: Mapping[str, Any], scope: dict[str, dict]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        names = _RowEnv(env, scope)
        for target in targets:
            val = target["val"]
            fields = val["ColumnRef"].get("fields", ()) if "ColumnRef" in val else ()
            if any("A_Star" in f for f in fields):
                qualifier = fields[0].get("String", {}).get("sval") if len(fields) > 1 else None
                for alias, row in scope.items():
                    if qualifier in (None, alias):
                        out.update(row)
                continue
            label = target.get("name")
            if label is None and fields:
                label = fields[-1].get("String", {}).get("sval")
            out[label or "?column?"] = self.eval(val, names)
        return out

    def catalog(self, source: Node) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        """(alias, rows, probe rows) of one FROM item."""
        if "RangeFunction" in source and self.ddl_commands is not None:
            function = source["RangeFunction"]
            calls = [item for items in function.get("functions", ()) for item in items.get("List", {}).get("items", ())
                     if "FuncCall" in item]
            names = [n["String"]["sval"] for n in calls[0]["FuncCall"]["funcname"] if "String" in n] if calls else []
            if names[-1:] == ["pg_event_trigger_ddl_commands"]:
                alias = (function.get("alias") or {}).get("aliasname") or "pg_event_trigger_ddl_commands"
                return alias, list(self.ddl_commands), []
        if "RangeVar" not in source:
            raise Unknown("a query over something other than a catalog view")
        rv = source["RangeVar"]
        schema, name = rv.get("schemaname"), rv["relname"]
        alias = (rv.get("alias") or {}).get("aliasname") or name
        found = catalog_views.view(schema, name, self.model)
        if found is None:
            shown = f"{schema}.{name}" if schema else name
            raise Unknown(f"{shown} is read at run time")
        return alias, *found


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
# Integer arithmetic as PostgreSQL does it: division truncates toward zero
_ARITHMETIC: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: (abs(a) // abs(b)) * (1 if (a >= 0) == (b > 0) else -1) if b else _division_by_zero()}


def _outside_the_rows(node: Node, env: Mapping[str, Any]) -> bool:
    """Whether an expression reads nothing of a query's rows: a constant, a parameter, a
    variable of the block (PL/pgSQL refuses a name that is both), or a cast of one."""
    if "TypeCast" in node:
        return _outside_the_rows(node["TypeCast"]["arg"], env)
    if "ColumnRef" in node:
        fields = node["ColumnRef"].get("fields", ())
        return bool(fields) and "String" in fields[0] and fields[0]["String"]["sval"] in env
    return "A_Const" in node or "ParamRef" in node


def _unseen_among(unseen: Unseen, values: list[Any], equal: bool) -> bool:
    """``unseen = value`` (IN values), or ``<>`` (NOT IN): false (true) when no object the
    model does not hold can have those names; unknown when one can."""
    if any(not isinstance(v, str) or unseen.admits(v) for v in values):
        raise Unknown(unseen.why)
    return not equal


_EVERY_ROW = {"A_Const": {"boolval": {"boolval": True}}}  # count(*) counts the rows where true is not null


def _counted(target: Node) -> Node | None:
    """What ``count(x)`` counts the non-null values of (``count(*)``: every row); None for a
    target that is not a count."""
    call = target["val"].get("FuncCall", {})
    if [n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n][-1:] != ["count"]:
        return None
    if call.get("agg_star"):
        return _EVERY_ROW
    args = call.get("args", ())
    if len(args) != 1 or call.get("agg_distinct") or call.get("agg_filter"):
        raise Unknown("count() other than count(*) and count(x) is not evaluated")
    return args[0]


def _distinct(rows: list[dict[str, Any]], clause: list[Node]) -> list[dict[str, Any]]:
    """SELECT DISTINCT: each row once, in the order first met (DISTINCT ON is not evaluated)."""
    if clause != [{}]:
        raise Unknown("DISTINCT ON is not evaluated")
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(repr(sorted(row.items())), row)
    return list(seen.values())


def _matches(value: Any, pattern: Any) -> bool:
    try:
        return like(value, pattern)
    except NotComputed as exc:
        raise Unknown(str(exc)) from None


def _division_by_zero() -> int:
    raise Unknown("division by zero: PostgreSQL stops the migration")


class _Opaque:
    """A variable whose value the model cannot give (read at run time, say)."""

    def __init__(self, why: str) -> None:
        self.why = why


@dataclass(frozen=True)
class _Rows:
    values: list


class _RowEnv(Mapping):
    """Names inside a catalog query: a FROM item by its alias, a column of any item, then the block's variables."""

    def __init__(self, env: Mapping[str, Any], scope: dict[str, dict]) -> None:
        self.env, self.scope = env, scope

    def __getitem__(self, key: str) -> Any:
        if key in self.scope:
            return self.scope[key]
        for row in self.scope.values():
            if key in row:
                return row[key]
        return self.env[key]

    def __contains__(self, key: object) -> bool:
        return key in self.scope or any(key in row for row in self.scope.values()) or key in self.env

    def __iter__(self):
        return iter({**dict(self.env), **{k: None for row in self.scope.values() for k in row}, **self.scope})

    def __len__(self) -> int:
        return sum(1 for _ in self)


UNDEFINED_FUNCTION, WRONG_OBJECT_TYPE = SQLSTATES["undefined_function"], SQLSTATES["wrong_object_type"]


def call_statements(query: str, span: Span, model: Model, functions: Functions) -> Iterator:
    """The statements a top-level ``SELECT f(…)`` or ``CALL p(…)`` runs (see ``_calls``)."""
    yield from uncaught(_calls(query, span, model, functions, 0, None))


def _calls(query: str, span: Span, model: Model, functions: Functions, depth: int,
           value: Callable[[Node], Any] | None) -> Iterator:
    """The statements ``SELECT f(…)``, ``PERFORM f(…)`` or ``CALL p(…)`` run, when f or p is a
    function the migrations created; nothing for other functions, which cannot change the
    schema model. ``value``: the caller's values of the arguments (constants only at top level)."""
    try:
        stmts = json.loads(pg.parse_sql_json(query))["stmts"]
    except ParseError:
        return
    if len(stmts) != 1:
        return
    kind, node = next(iter(stmts[0]["stmt"].items()))
    if kind == "CallStmt":
        calls = [node["funccall"]]
    elif kind == "SelectStmt" and not node.get("fromClause"):
        calls = [t["ResTarget"]["val"]["FuncCall"] for t in node.get("targetList", ()) if "FuncCall" in t["ResTarget"]["val"]]
    else:
        return
    if value is None:
        value = lambda arg: _Interpreter(Statement("SelectStmt", {}, span, query), [], model, functions,  # noqa: E731
                                         None, depth).eval(arg, {})
    for call in calls:
        yield from _call(call, kind == "CallStmt", span, model, functions, depth, value)


def _call(call: Node, procedure: bool, span: Span, model: Model, functions: Functions, depth: int,
          value: Callable[[Node], Any]) -> Iterator:
    name = tuple(n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n)
    candidates = functions(name)
    if candidates is None:
        return
    shown = ".".join(name)
    if not candidates:
        raise Raised(UNDEFINED_FUNCTION, f"{shown}() does not exist (an earlier migration dropped or renamed it)", span)
    args = call.get("args", ())
    try:
        function, bound = resolve(candidates, args)
    except Unresolved as exc:
        yield Unanalysed(span, f"call of {shown}(): {exc}")
        return
    if bool(function.node.get("is_procedure")) != procedure:
        raise Raised(WRONG_OBJECT_TYPE, f"{shown} is {'not ' if procedure else ''}a procedure", span)
    if depth > 8:
        yield Unanalysed(span, f"{shown}() calls itself too deeply to be evaluated")
        return
    try:
        arguments = bind(function.node, bound, value)
    except Unknown as exc:
        yield Unanalysed(span, f"call of {shown}() with arguments known only at run time ({exc})")
        return
    language = language_of(function.node)
    if language == "plpgsql":
        yield from _run(function, model, functions, None, depth + 1, arguments)
    elif language == "sql":
        yield from sql_body(function, model, functions, depth + 1, arguments)


def sql_body(create: Statement, model: Model, functions: Functions, depth: int,
             arguments: Mapping[str, Any]) -> Iterator:
    """The statements of a ``LANGUAGE sql`` function's body, each located where it is written.

    Parameters ($1, or by name) reach only queries in PostgreSQL, not DDL: a ``SELECT g(…)``
    or ``CALL p(…)`` of the body is a call with the arguments bound, every other statement
    runs as written.
    A ``BEGIN ATOMIC`` body holds no AS string and gives nothing: PostgreSQL allows only
    queries and data changes there, which the model does not hold."""
    body = body_text(create.node)
    if not body:
        return
    try:
        stmts = json.loads(pg.parse_sql_json(body))["stmts"]
    except ParseError as exc:
        yield Unanalysed(create.span, f"the body of a SQL function does not parse: {exc.args[0]}")
        return
    at = create.text.find(body)
    offsets = ByteOffsets(body)
    binder = _Interpreter(create, [], model, functions, None, depth)
    for entry in stmts:
        kind, node = next(iter(entry["stmt"].items()))
        first = offsets.to_char(entry.get("stmt_location", 0))
        length = entry.get("stmt_len", 0)
        last = offsets.to_char(entry.get("stmt_location", 0) + length) if length else len(body)
        text = body[first:last]
        first += len(text) - len(text.lstrip())
        if at < 0:  # written with escapes (a quoted string): its statements have no place of their own
            _relocate(node, lambda _: -1)
            span = create.span
        else:
            start = create.span.start + at
            _relocate(node, lambda b: start + offsets.to_char(b))
            span = Span(create.span.path, start + first, start + last)
        if kind in ("SelectStmt", "CallStmt"):
            yield from _calls(text.strip(), span, model, functions, depth, lambda arg: binder.eval(arg, arguments))
        else:
            yield from binder.applied(Statement(kind, node, span, text.strip(), embedded=True), span)


# The command tags of the statements the model replays, as event triggers see them
COMMAND_TAGS = {"CreateStmt": "CREATE TABLE", "AlterTableStmt": "ALTER TABLE", "CreatePolicyStmt": "CREATE POLICY",
                "AlterPolicyStmt": "ALTER POLICY", "IndexStmt": "CREATE INDEX", "CreateSchemaStmt": "CREATE SCHEMA"}


def ddl_commands(stmt: Statement, created: QName | None) -> list[dict[str, Any]]:
    """``pg_event_trigger_ddl_commands()`` after ``stmt``: the table it created or altered."""
    if created is None:
        return []
    return [{"command_tag": COMMAND_TAGS[stmt.kind], "object_type": "table", "schema_name": created.schema,
             "object_identity": str(created), "in_extension": False, "classid": None, "objid": Relation(created),
             "objsubid": 0, "command": None}]
