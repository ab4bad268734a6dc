"""Privilege statements: GRANT and REVOKE on tables, columns, sequences, functions and
schemas, ALTER DEFAULT PRIVILEGES, owners, and the objects other than tables that hold
privileges (sequences, functions, schemas).

Grantors are not modelled: the migration role (or the owner) grants everything, so a
REVOKE takes back what any earlier GRANT gave.
"""

from __future__ import annotations

from typing import Iterable

from rlslint.schema.acl import PUBLIC, interned, owner_grants
from rlslint.schema.model import DEFAULT_ACL_KINDS, PRIVILEGES, Acl, Routine, Table, evolve
from rlslint.schema.state import ReplayState, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement

_OBJECT_KINDS = {
    "OBJECT_TABLE": "table", "OBJECT_SEQUENCE": "sequence", "OBJECT_FUNCTION": "function",
    "OBJECT_PROCEDURE": "function", "OBJECT_ROUTINE": "function", "OBJECT_SCHEMA": "schema",
}


def role_name(state: ReplayState, spec: Node) -> str:
    """The role a RoleSpec names: PUBLIC is "public"; CURRENT_USER and friends the role running."""
    kind = spec.get("roletype")
    if kind == "ROLESPEC_PUBLIC":
        return PUBLIC
    if kind == "ROLESPEC_CSTRING":
        state.access.saw_role(spec["rolename"])
        return spec["rolename"]
    return state.access.current_role  # CURRENT_USER, CURRENT_ROLE, SESSION_USER


def grantees(state: ReplayState, specs: Iterable[Node]) -> tuple[str, ...]:
    return tuple(role_name(state, s["RoleSpec"] if "RoleSpec" in s else s) for s in specs or ())


def _privileges(node: Node, kind: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(privilege, columns) pairs; ALL expands to every privilege of the kind of object."""
    if not node.get("privileges"):
        return tuple((p, ()) for p in PRIVILEGES[kind])
    found = []
    for entry in node["privileges"]:
        priv = entry["AccessPriv"]
        name = (priv.get("priv_name") or "all").upper()
        columns = strs(priv.get("cols"))
        if name == "ALL":
            found.extend((p, columns) for p in PRIVILEGES["column" if columns else kind])
        else:
            found.append((name, columns))
    return tuple(found)


def _change(grants: Acl, to: tuple[str, ...], privileges: Iterable[str], is_grant: bool) -> Acl:
    privileges = tuple(privileges)  # read once per grantee
    items = {(g, p) for g in to for p in privileges}
    return grants | items if is_grant else grants - items


# --- GRANT / REVOKE on objects ---------------------------------------------------------


def grant(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    kind = _OBJECT_KINDS.get(node.get("objtype"))
    if kind is None:
        return  # types, domains, languages, databases, …: nothing the access model reads
    if node.get("grant_option") and not node.get("is_grant"):
        return  # REVOKE GRANT OPTION FOR leaves the privilege itself in place
    to = grantees(state, node.get("grantees"))
    is_grant = bool(node.get("is_grant"))
    privileges = _privileges(node, kind)
    if node.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
        for schema in strs(node.get("objects")):
            state.access.saw_schema(schema)
            _grant_in_schema(state, schema, kind, node.get("objtype"), to, privileges, is_grant)
        return
    for obj in node.get("objects", ()):
        if kind == "table":
            _grant_relation(stmt, state, obj["RangeVar"], to, privileges, is_grant)
        elif kind == "sequence":
            qname = _sequence(state, obj["RangeVar"])
            if qname is not None:
                _grant_sequence(state, qname, to, privileges, is_grant)
        elif kind == "function":
            for routine in routines_named(state, obj["ObjectWithArgs"]):
                _grant_routine(state, routine, to, privileges, is_grant)
        else:
            schema = obj["String"]["sval"]
            state.access.saw_schema(schema)
            if schema in state.access.schema_acl or schema in state.schemas:
                current = state.access.schema_acl.get(schema, frozenset())
                state.access.schema_acl[schema] = _change(current, to, (p for p, _ in privileges), is_grant)


def _grant_in_schema(state: ReplayState, schema: str, kind: str, objtype: str, to, privileges, is_grant) -> None:
    if kind == "table":
        for qname in [q for q in state.tables if q.schema == schema]:
            state.tables[qname] = _table_grant(state.tables[qname], to, privileges, is_grant)
        for qname in [q for q in state.access.sequence_acl if q.schema == schema]:
            # ALL TABLES takes in sequences too (the privileges that apply to them).
            _grant_sequence(state, qname, to, [(p, c) for p, c in privileges if p in PRIVILEGES["sequence"]], is_grant)
    elif kind == "sequence":
        for qname in [q for q in state.access.sequence_acl if q.schema == schema]:
            _grant_sequence(state, qname, to, privileges, is_grant)
    else:
        for routine in [r for r in state.access.routines.values() if r.schema == schema]:
            if objtype == "OBJECT_ROUTINE" or (objtype == "OBJECT_PROCEDURE") == routine.procedure:
                _grant_routine(state, routine, to, privileges, is_grant)


def _grant_relation(stmt: Statement, state: ReplayState, rangevar: Node, to, privileges, is_grant) -> None:
    state.access.saw_schema(rangevar.get("schemaname"))
    sequence = _sequence(state, rangevar)
    if sequence is not None and state.lookup(rangevar.get("schemaname"), rangevar["relname"]) is None:
        _grant_sequence(state, sequence, to, [(p, c) for p, c in privileges if p in PRIVILEGES["sequence"]], is_grant)
        return
    table = state.relation(stmt, rangevar, missing_ok=True)  # a view, say: not in the model, no note
    if table is not None:
        state.tables[table.qname] = evolve(_table_grant(table, to, privileges, is_grant), changed=stmt.span)


def _table_grant(table: Table, to: tuple[str, ...], privileges, is_grant: bool) -> Table:
    whole = [p for p, columns in privileges if not columns]
    acl = _change(table.acl, to, whole, is_grant)
    column_items = {(c, g, p) for p, columns in privileges for c in columns for g in to}
    if is_grant:
        column_acl = table.column_acl | column_items
    else:
        # Revoking a table privilege takes it from every column too (SQL standard; aclchk.c).
        column_acl = frozenset(i for i in table.column_acl - column_items if not (i[1] in to and i[2] in whole))
    return evolve(table, acl=interned(acl), column_acl=interned(column_acl))


def _grant_sequence(state: ReplayState, qname: QName, to, privileges, is_grant) -> None:
    state.access.sequence_acl[qname] = _change(state.access.sequence_acl[qname], to, (p for p, _ in privileges), is_grant)


def _grant_routine(state: ReplayState, routine: Routine, to, privileges, is_grant) -> None:
    key = (routine.schema, routine.name, routine.args)
    state.access.routines[key] = evolve(routine, acl=_change(routine.acl, to, (p for p, _ in privileges), is_grant))


# --- ALTER DEFAULT PRIVILEGES ------------------------------------------------------------


def alter_default_privileges(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    action = node["action"]
    kind = _OBJECT_KINDS.get(action.get("objtype"))
    if kind is None or (action.get("grant_option") and not action.get("is_grant")):
        return
    roles: tuple[str, ...] = (state.access.current_role,)
    schemas: tuple[str | None, ...] = (None,)
    for option in node.get("options", ()):
        option = option["DefElem"]
        items = option["arg"]["List"]["items"]
        if option["defname"] == "roles":
            roles = grantees(state, items)
        elif option["defname"] == "schemas":
            schemas = strs(items)
    to = grantees(state, action.get("grantees"))
    privileges = [p for p, _ in _privileges(action, kind)]
    code = DEFAULT_ACL_KINDS[kind]
    for role in roles:
        for schema in schemas:
            state.access.saw_schema(schema)
            key = (role, schema, code)
            if schema is None:
                current = state.access.default_acl.get(key)
                if current is None:
                    current = owner_grants(role, kind) | (frozenset({(PUBLIC, "EXECUTE")}) if kind == "function" else frozenset())
            else:
                current = state.access.default_acl.get(key, frozenset())
            state.access.default_acl[key] = _change(current, to, privileges, bool(action.get("is_grant")))


# --- objects other than tables -----------------------------------------------------------


def _sequence(state: ReplayState, rangevar: Node) -> QName | None:
    schema, name = rangevar.get("schemaname"), rangevar["relname"]
    for candidate in (schema,) if schema else state.search_path:
        if QName(candidate, name) in state.access.sequence_acl:
            return QName(candidate, name)
    return None


def create_sequence(stmt: Statement, state: ReplayState) -> None:
    rangevar = stmt.node["sequence"]
    if rangevar.get("relpersistence") == "t":
        return
    schema = state.creation_schema(rangevar.get("schemaname"))
    if schema is None:
        return
    qname = QName(schema, rangevar["relname"])
    if qname not in state.access.sequence_acl:
        state.access.sequence_acl[qname] = state.access.new_object_acl(schema, "sequence")


def argument_types(parameters: Iterable[Node] | None) -> tuple[str, ...]:
    """The identity of a function's arguments: input argument types, named as pglast names them."""
    found = []
    for parameter in parameters or ():
        parameter = parameter.get("FunctionParameter", parameter)
        if parameter.get("mode") in ("FUNC_PARAM_OUT", "FUNC_PARAM_TABLE"):
            continue
        found.append(type_key(parameter["argType"]))
    return tuple(found)


def type_key(type_name: Node) -> str:
    names = strs(type_name.get("names"))
    return names[-1] + "[]" * len(type_name.get("arrayBounds", ()))


def create_function(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    names = strs(node.get("funcname"))
    schema = state.creation_schema(names[-2] if len(names) > 1 else None)
    if schema is None:
        return
    args = argument_types(node.get("parameters"))
    key = (schema, names[-1], args)
    if key in state.access.routines:
        return  # CREATE OR REPLACE keeps the owner and the privileges
    state.access.routines[key] = Routine(schema, names[-1], args, state.access.current_role,
                                         state.access.new_object_acl(schema, "function"),
                                         procedure=bool(node.get("is_procedure")))


def routines_named(state: ReplayState, obj: Node) -> list[Routine]:
    names = strs(obj.get("objname"))
    schema = names[-2] if len(names) > 1 else None
    state.access.saw_schema(schema)
    for candidate in (schema,) if schema else state.search_path:
        found = [r for r in state.access.routines.values() if r.schema == candidate and r.name == names[-1]]
        if obj.get("args_unspecified"):
            if found:
                return found  # PostgreSQL refuses the statement when the name is ambiguous
        else:
            args = argument_types(obj.get("objfuncargs") or obj.get("objargs"))
            found = [r for r in found if r.args == args]
            if found:
                return found
    return []


def new_schema(state: ReplayState, name: str, owner: str | None) -> None:
    if name not in state.access.schema_acl:
        owner = owner or state.access.current_role
        state.access.schema_owner[name] = owner
        state.access.schema_acl[name] = state.access.default_acl.get((owner, None, "n"), owner_grants(owner, "schema"))


def drop_sequence(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool) -> None:
    """DROP SEQUENCE: its privileges go with it."""
    qname = _sequence(state, {"schemaname": names[-2] if len(names) > 1 else None, "relname": names[-1]})
    if qname is not None:
        del state.access.sequence_acl[qname]


def drop_routine(stmt: Statement, state: ReplayState, obj: Node, missing_ok: bool, cascade: bool) -> None:
    """DROP FUNCTION / PROCEDURE / ROUTINE: its privileges go with it."""
    for routine in routines_named(state, obj):
        del state.access.routines[(routine.schema, routine.name, routine.args)]




def rename_routine(state: ReplayState, obj: Node, schema: str | None = None, name: str | None = None) -> None:
    """ALTER FUNCTION … RENAME TO / SET SCHEMA: the privileges stay with the function."""
    for routine in routines_named(state, obj):
        del state.access.routines[(routine.schema, routine.name, routine.args)]
        moved = evolve(routine, schema=schema or routine.schema, name=name or routine.name)
        state.access.routines[(moved.schema, moved.name, moved.args)] = moved


def move_sequence(state: ReplayState, rangevar: Node, schema: str | None = None, name: str | None = None) -> None:
    qname = _sequence(state, rangevar)
    if qname is not None:
        state.access.sequence_acl[QName(schema or qname.schema, name or qname.name)] = state.access.sequence_acl.pop(qname)


def rename_schema(state: ReplayState, old: str, new: str) -> None:
    access = state.access
    if old in access.schema_acl:
        access.schema_acl[new] = access.schema_acl.pop(old)
    if old in access.schema_owner:
        access.schema_owner[new] = access.schema_owner.pop(old)
    for qname in [q for q in access.sequence_acl if q.schema == old]:
        access.sequence_acl[QName(new, qname.name)] = access.sequence_acl.pop(qname)
    for key in [k for k in access.routines if k[0] == old]:
        routine = access.routines.pop(key)
        access.routines[(new, *key[1:])] = evolve(routine, schema=new)
    # Default privileges name the schema by oid: they follow it.
    access.default_acl = {(r, new if s == old else s, k): a for (r, s, k), a in access.default_acl.items()}


def drop_schema(state: ReplayState, schema: str) -> None:
    """Its sequences, functions and default privileges go with it (DROP SCHEMA … CASCADE)."""
    access = state.access
    access.schema_acl.pop(schema, None)
    access.schema_owner.pop(schema, None)
    access.sequence_acl = {q: a for q, a in access.sequence_acl.items() if q.schema != schema}
    access.routines = {k: r for k, r in access.routines.items() if k[0] != schema}
    access.default_acl = {k: a for k, a in access.default_acl.items() if k[1] != schema}


DROPS = {"OBJECT_SEQUENCE": drop_sequence}  # DROP FUNCTION: routines.drop_function, which calls drop_routine

HANDLERS = {
    "GrantStmt": grant,
    "AlterDefaultPrivilegesStmt": alter_default_privileges,
    "CreateSeqStmt": create_sequence,
}  # CREATE FUNCTION: routines.create_function, which records its privileges here too
