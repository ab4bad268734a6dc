"""DO blocks run against the model: the SQL a PL/pgSQL block executes, as far as the model knows it.

Migrations secure tables in loops: ``FOR r IN SELECT … FROM pg_tables WHERE schemaname =
'public' LOOP EXECUTE format('alter table %I.%I enable row level security', …)``. The
catalogs such a loop reads are answered from the model at that point of the replay, the
strings it builds are built here, and each statement it executes is handed back to the
replay, located at its ``EXECUTE``. What cannot be known (a value read from a table at run
time, a function the model does not know) is never guessed: it is yielded as ``Unanalysed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from pglast import parser as pg
from pglast.parser import ParseError

from rlslint.schema.model import Table
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.parse import Node, Statement, _relocate
from rlslint.sql.spans import ByteOffsets, Span


class Unknown(Exception):
    """A value the model cannot give; the message says which."""


@dataclass(frozen=True)
class Unanalysed:
    span: Span
    reason: str


Tables = Callable[[], Mapping[QName, Table]]

# Schemas whose tables the model does not hold: a catalog query that can see them is unknown.
_SYSTEM_PROBES = ("pg_catalog", "information_schema", "auth", "storage", "extensions")


# A qualified function name -> the CREATE FUNCTION (its PL/pgSQL tree in ``plpgsql``) of a
# function the migrations created; None for any other
Functions = Callable[[tuple[str, ...]], "Statement | None"]


def evaluate(do: Statement, tables: Tables, functions: Functions = lambda name: None,
             ddl_commands: list[dict[str, Any]] | None = None, depth: int = 0) -> Iterator[Statement | Unanalysed]:
    """The statements a DO block (or a called function: ``do`` is its CREATE FUNCTION) runs.

    ``ddl_commands``: what ``pg_event_trigger_ddl_commands()`` returns, in an event trigger.
    """
    for function in do.plpgsql or ():
        body = function["PLpgSQL_function"]
        interpreter = _Interpreter(do, body.get("datums", ()), tables, functions, ddl_commands, depth)
        yield from interpreter.block(body.get("action", {}).get("PLpgSQL_stmt_block", {}))


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
_INERT = frozenset({"PLpgSQL_stmt_raise", "PLpgSQL_stmt_return", "PLpgSQL_stmt_assert", "PLpgSQL_stmt_getdiag",
                    "PLpgSQL_stmt_commit", "PLpgSQL_stmt_rollback"})


class _Interpreter:
    def __init__(self, do: Statement, datums: list, tables: Tables, functions: Functions,
                 ddl_commands: list[dict[str, Any]] | None, depth: int) -> None:
        self.do = do
        self.tables = tables
        self.functions = functions
        self.ddl_commands = ddl_commands
        self.depth = depth
        self.names: list[str | None] = []
        self.env: dict[str, Any] = {}
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
        self.body_start = max(text.find(as_arg), 0) if as_arg else 0
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
        yield from self.block(stmt)

    def s_assign(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        query = stmt["expr"]["PLpgSQL_expr"]["query"]
        name = self.names[stmt["varno"]]
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
        if at < 0:
            yield from self.produce(query, stmt.get("lineno"))
            return
        # Written in the file: the statement keeps its own place there.
        start = self.do.span.start + at
        try:
            stmts = json.loads(pg.parse_sql_json(query))["stmts"]
        except ParseError as exc:
            yield Unanalysed(line, f"statement in a DO block does not parse: {exc.args[0]}")
            return
        offsets = ByteOffsets(query)
        for entry in stmts:
            kind, node = next(iter(entry["stmt"].items()))
            _relocate(node, lambda b: start + offsets.to_char(b))
            yield Statement(kind, node, Span(self.do.span.path, start, start + len(query)), query, embedded=True)

    def s_perform(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        yield from self.calls(stmt["expr"]["PLpgSQL_expr"]["query"], self.line_span(stmt.get("lineno")))

    def calls(self, query: str, span: Span) -> Iterator[Statement | Unanalysed]:
        """``PERFORM f()`` / ``SELECT f()`` of a function the migrations created: run its body."""
        yield from call_statements(query, span, self.tables, self.functions, self.depth)

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
                yield Unanalysed(self.line_span(stmt.get("lineno")), f"IF whose condition is known only at run time ({exc})")
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
        name = self.names[stmt["varno"]]
        for value in values:
            self.env[name] = value
            yield from self.block(stmt)

    def s_fors(self, stmt: Node) -> Iterator[Statement | Unanalysed]:
        var = stmt["var"]
        name = next(iter(var.values()))["refname"]
        try:
            rows = self.rows(stmt["query"]["PLpgSQL_expr"]["query"])
        except Unknown as exc:
            yield Unanalysed(self.line_span(stmt.get("lineno")), f"FOR over rows known only at run time ({exc})")
            return
        targets = [f["name"] for f in var.get("PLpgSQL_row", {}).get("fields", ())]
        for row in rows:
            if targets:  # FOR a, b IN SELECT …: the columns in order
                self.env.update(zip(targets, row.values()))
            else:
                self.env[name] = row
            yield from self.block(stmt)

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
        for entry in stmts:
            kind, node = next(iter(entry["stmt"].items()))
            _relocate(node, lambda _: -1)  # built text has no place in the file: findings point at the EXECUTE
            yield Statement(kind, node, span, sql, embedded=True)

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
        if kind == "TypeCast":
            value = self.eval(body["arg"], env)
            names = [n["String"]["sval"] for n in body["typeName"].get("names", ()) if "String" in n]
            if names[-1:] in (["text"], ["varchar"], ["regclass"], ["name"]) and value is not None:
                return str(value)
            return value
        if kind == "A_ArrayExpr":
            return [self.eval(e, env) for e in body.get("elements", ())]
        if kind == "FuncCall":
            return self.call(body, env)
        if kind == "BoolExpr":
            op = body["boolop"]
            if op == "NOT_EXPR":
                return not self.eval(body["args"][0], env)
            values = (self.eval(a, env) for a in body["args"])
            return all(values) if op == "AND_EXPR" else any(values)
        if kind == "A_Expr":
            return self.operator(body, env)
        if kind == "NullTest":
            value = self.eval(body["arg"], env)
            return (value is None) == (body.get("nulltesttype") == "IS_NULL")
        if kind == "SubLink" and body.get("subLinkType") == "EXISTS_SUBLINK":
            return bool(self.select_rows(body["subselect"]["SelectStmt"], env))
        raise Unknown(f"{kind} is not evaluated")

    def operator(self, a: Node, env: Mapping[str, Any]) -> Any:
        name = "".join(n["String"]["sval"] for n in a.get("name", ()) if "String" in n)
        kind = a.get("kind")
        left = self.eval(a["lexpr"], env) if "lexpr" in a else None
        if kind == "AEXPR_IN":
            values = [self.eval(e, env) for e in a["rexpr"]["List"]["items"]]
            return (left in values) == (name == "=")
        right = self.eval(a["rexpr"], env)
        if kind == "AEXPR_OP_ANY" and name == "=":
            return isinstance(right, list) and left in right
        if kind == "AEXPR_OP_ALL" and name == "<>":
            return isinstance(right, list) and left not in right
        if kind == "AEXPR_LIKE":
            return _like(left, right) == (name == "~~")
        if kind == "AEXPR_OP":
            if name == "||":
                if left is None or right is None:
                    return None
                if isinstance(left, list) or isinstance(right, list):
                    return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])
                return f"{left}{right}"
            if name == "=":
                return left == right
            if name in ("<>", "!="):
                return left != right
            if name == "~~":
                return _like(left, right)
            if name == "!~~":
                return not _like(left, right)
        raise Unknown(f"operator {name} is not evaluated")

    def call(self, call: Node, env: Mapping[str, Any]) -> Any:
        names = [n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n]
        name = names[-1] if names[:1] in ([], ["pg_catalog"]) or len(names) == 1 else ".".join(names)
        args = [self.eval(a, env) for a in call.get("args", ())]
        if name == "format" and args and isinstance(args[0], str):
            return _format(args[0], args[1:])
        if name == "quote_ident" and len(args) == 1:
            return quote_ident(str(args[0]))
        if name == "quote_literal" and len(args) == 1:
            return _literal(args[0])
        if name == "quote_nullable" and len(args) == 1:
            return "NULL" if args[0] is None else _literal(args[0])
        if name in ("lower", "upper") and len(args) == 1 and isinstance(args[0], str):
            return args[0].lower() if name == "lower" else args[0].upper()
        if name == "concat":
            return "".join("" if a is None else str(a) for a in args)
        if name == "unnest" and len(args) == 1 and isinstance(args[0], list):
            return _Rows(args[0])
        raise Unknown(f"{'.'.join(names)}() is not evaluated")

    # --- catalog queries ---------------------------------------------------------------

    def rows(self, query: str) -> list[dict[str, Any]]:
        try:
            stmts = json.loads(pg.parse_sql_json(query))["stmts"]
        except ParseError as exc:
            raise Unknown("the loop's query does not parse") from exc
        if len(stmts) != 1 or "SelectStmt" not in stmts[0]["stmt"]:
            raise Unknown("the loop's query is not a SELECT")
        return self.select_rows(stmts[0]["stmt"]["SelectStmt"], self.env)

    def select_rows(self, select: Node, env: Mapping[str, Any]) -> list[dict[str, Any]]:
        if select.get("op", "SETOP_NONE") != "SETOP_NONE" or select.get("groupClause") or select.get("withClause"):
            raise Unknown("the query is not a plain SELECT")
        sources = select.get("fromClause", ())
        targets = [t["ResTarget"] for t in select.get("targetList", ())]
        if not sources:  # select unnest(array[…])
            if len(targets) == 1 and "FuncCall" in targets[0]["val"]:
                produced = self.eval(targets[0]["val"], env)
                if isinstance(produced, _Rows):
                    label = targets[0].get("name") or "unnest"
                    return [{label: v} for v in produced.values]
            raise Unknown("a SELECT without FROM that is not unnest(ARRAY[…])")
        if len(sources) != 1:
            raise Unknown("a query over several catalogs")
        alias, candidates = self.catalog(sources[0])
        rows = []
        where = select.get("whereClause")
        catalog_view = "RangeVar" in sources[0]
        for probe in _SYSTEM_PROBES if catalog_view else ():  # would the query also see tables the model does not hold?
            if where is None or self.holds(where, env, alias, _probe_row(probe, candidates)):
                raise Unknown("the query can see tables the migrations do not create")
        for row in candidates:
            if where is None or self.holds(where, env, alias, row):
                rows.append(self.project(targets, env, alias, row))
        return rows

    def holds(self, where: Node, env: Mapping[str, Any], alias: str, row: dict[str, Any]) -> bool:
        return bool(self.eval(where, _RowEnv(env, alias, row)))

    def project(self, targets: list[Node], env: Mapping[str, Any], alias: str, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        scope = _RowEnv(env, alias, row)
        for target in targets:
            val = target["val"]
            if "ColumnRef" in val and any("A_Star" in f for f in val["ColumnRef"].get("fields", ())):
                out.update(row)
                continue
            label = target.get("name")
            if label is None and "ColumnRef" in val:
                label = val["ColumnRef"]["fields"][-1].get("String", {}).get("sval")
            out[label or "?column?"] = self.eval(val, scope)
        return out

    def catalog(self, source: Node) -> tuple[str, list[dict[str, Any]]]:
        if "RangeFunction" in source and self.ddl_commands is not None:
            function = source["RangeFunction"]
            calls = [item for items in function.get("functions", ()) for item in items.get("List", {}).get("items", ())
                     if "FuncCall" in item]
            names = [n["String"]["sval"] for n in calls[0]["FuncCall"]["funcname"] if "String" in n] if calls else []
            if names[-1:] == ["pg_event_trigger_ddl_commands"]:
                alias = (function.get("alias") or {}).get("aliasname") or "pg_event_trigger_ddl_commands"
                return alias, list(self.ddl_commands)
        if "RangeVar" not in source:
            raise Unknown("a query over something other than a catalog view")
        rv = source["RangeVar"]
        schema, name = rv.get("schemaname"), rv["relname"]
        alias = (rv.get("alias") or {}).get("aliasname") or name
        tables = [t for t in self.tables().values()]
        if name == "pg_tables" and schema in (None, "pg_catalog"):
            return alias, [{"schemaname": t.qname.schema, "tablename": t.qname.name, "rowsecurity": t.rls}
                           for t in tables]
        if name == "tables" and schema == "information_schema":
            return alias, [{"table_schema": t.qname.schema, "table_name": t.qname.name, "table_type": "BASE TABLE"}
                           for t in tables]
        if name == "columns" and schema == "information_schema":
            return alias, [{"table_schema": t.qname.schema, "table_name": t.qname.name, "column_name": c.name}
                           for t in tables for c in t.columns]
        if name == "pg_policies" and schema in (None, "pg_catalog"):
            return alias, [{"schemaname": t.qname.schema, "tablename": t.qname.name, "policyname": p.name,
                            "cmd": p.command, "permissive": "PERMISSIVE" if p.permissive else "RESTRICTIVE"}
                           for t in tables for p in t.policies]
        shown = f"{schema}.{name}" if schema else name
        raise Unknown(f"{shown} is read at run time")


class _Opaque:
    """A variable whose value the model cannot give (read at run time, say)."""

    def __init__(self, why: str) -> None:
        self.why = why


@dataclass(frozen=True)
class _Rows:
    values: list


class _RowEnv(Mapping):
    """Names inside a catalog query: the row's columns (bare or by alias), then the block's variables."""

    def __init__(self, env: Mapping[str, Any], alias: str, row: dict[str, Any]) -> None:
        self.env, self.alias, self.row = env, alias, row

    def __getitem__(self, key: str) -> Any:
        if key == self.alias:
            return self.row
        if key in self.row:
            return self.row[key]
        return self.env[key]

    def __contains__(self, key: object) -> bool:
        return key == self.alias or key in self.row or key in self.env

    def __iter__(self):
        return iter({**dict(self.env), **self.row})

    def __len__(self) -> int:
        return len(set(self.env) | set(self.row))


def _probe_row(schema: str, candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """A row of a table in a schema the model does not hold, shaped like the others."""
    keys = candidates[0].keys() if candidates else ("schemaname", "tablename", "table_schema", "table_name")
    row: dict[str, Any] = {key: "\x00" for key in keys}
    for key in ("schemaname", "table_schema"):
        row[key] = schema
    row.update({k: False for k in ("rowsecurity",) if k in row})
    return row


def _like(value: Any, pattern: Any) -> bool:
    import re

    if not isinstance(value, str) or not isinstance(pattern, str):
        raise Unknown("LIKE on a value that is not text")
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _literal(value: Any) -> str:
    text = str(value)
    return ("E'" if "\\" in text else "'") + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _format(template: str, args: list[Any]) -> str:
    """PostgreSQL's format(): %s, %I, %L and %%, with positions (%1$s) as well."""
    out, i, next_arg = [], 0, 0
    while i < len(template):
        ch = template[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i < len(template) and template[i] == "%":
            out.append("%")
            i += 1
            continue
        j = i
        while j < len(template) and template[j].isdigit():
            j += 1
        if j < len(template) and template[j] == "$" and j > i:
            next_arg = int(template[i:j]) - 1
            i = j + 1
        if i >= len(template) or template[i] not in "sIL":
            raise Unknown("format() with a conversion that is not %s, %I or %L")
        if next_arg >= len(args):
            raise Unknown("format() with too few arguments")
        value, conversion = args[next_arg], template[i]
        next_arg += 1
        i += 1
        if conversion == "s":
            out.append("" if value is None else str(value))
        elif conversion == "I":
            if value is None:
                raise Unknown("format() %I of NULL")
            out.append(quote_ident(str(value)))
        else:
            out.append("NULL" if value is None else _literal(value))
    return "".join(out)


def call_statements(query: str, span: Span, tables: Tables, functions: Functions,
                    depth: int = 0) -> Iterator[Statement | Unanalysed]:
    """The statements ``SELECT f()`` (or ``PERFORM f()``) runs, when f is a function the
    migrations created; nothing for other functions, which cannot change the schema model."""
    try:
        stmts = json.loads(pg.parse_sql_json(query))["stmts"]
    except ParseError:
        return
    select = stmts[0]["stmt"].get("SelectStmt", {}) if len(stmts) == 1 else {}
    if select.get("fromClause"):
        return
    for target in select.get("targetList", ()):
        call = target["ResTarget"]["val"].get("FuncCall")
        if call is None:
            continue
        name = tuple(n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n)
        function = functions(name)
        if function is None:
            continue
        if call.get("args") or depth > 8:
            yield Unanalysed(span, f"call of {'.'.join(name)}() with arguments or recursion is not evaluated")
            continue
        yield from evaluate(function, tables, functions, depth=depth + 1)


# The command tags of the statements the model replays, as event triggers see them
COMMAND_TAGS = {"CreateStmt": "CREATE TABLE", "AlterTableStmt": "ALTER TABLE", "CreatePolicyStmt": "CREATE POLICY",
                "AlterPolicyStmt": "ALTER POLICY", "IndexStmt": "CREATE INDEX", "CreateSchemaStmt": "CREATE SCHEMA"}


def ddl_commands(stmt: Statement, created: QName | None) -> list[dict[str, Any]]:
    """``pg_event_trigger_ddl_commands()`` after ``stmt``: the table it created or altered."""
    if created is None:
        return []
    return [{"command_tag": COMMAND_TAGS[stmt.kind], "object_type": "table", "schema_name": created.schema,
             "object_identity": str(created), "in_extension": False, "classid": None, "objid": str(created),
             "objsubid": 0, "command": None}]
