"""Role statements: CREATE / ALTER / DROP ROLE, GRANT and REVOKE of role membership,
owners (ALTER … OWNER TO, REASSIGN OWNED) and DROP OWNED."""

from __future__ import annotations

from rlslint.schema import privileges
from rlslint.schema.model import Membership, Role, evolve
from rlslint.schema.privileges import grantees, role_name
from rlslint.schema.state import DUPLICATE_OBJECT, ReplayState
from rlslint.sql.parse import Node, Statement

# CREATE/ALTER ROLE options (DefElem names) and the Role fields they set.
_FLAGS = {"superuser": "superuser", "bypassrls": "bypassrls", "inherit": "inherit", "canlogin": "login"}


def _flags(options) -> dict[str, bool]:
    changes = {}
    for option in options or ():
        option = option["DefElem"]
        field = _FLAGS.get(option["defname"])
        if field is not None:
            changes[field] = bool(option["arg"].get("Boolean", {}).get("boolval", False))
    return changes


def _member_lists(state: ReplayState, options) -> dict[str, tuple[str, ...]]:
    lists = {}
    for option in options or ():
        option = option["DefElem"]
        if option["defname"] in ("addroleto", "rolemembers", "adminmembers"):
            lists[option["defname"]] = grantees(state, option["arg"]["List"]["items"])
    return lists


def create_role(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    name = node["role"]
    state.access.saw_role(name)
    if name in state.access.roles:
        state.rejected(stmt, f'role "{name}" already exists', DUPLICATE_OBJECT)
        return
    role = Role(name, login=node.get("stmt_type") == "ROLESTMT_USER", created=stmt.span)
    role = evolve(role, **_flags(node.get("options")))
    state.access.roles[name] = role
    lists = _member_lists(state, node.get("options"))
    for granted in lists.get("addroleto", ()):  # IN ROLE: the new role joins them
        add_membership(state, granted, name, None)
    for member in lists.get("rolemembers", ()) + lists.get("adminmembers", ()):  # ROLE / ADMIN: they join it
        add_membership(state, name, member, None)


def alter_role(stmt: Statement, state: ReplayState) -> None:
    name = role_name(state, stmt.node["role"])
    role = state.access.roles.get(name)
    if role is None:
        state.note(stmt, f"role {name} is not known")
        return
    state.access.roles[name] = evolve(role, **_flags(stmt.node.get("options")))


def drop_role(stmt: Statement, state: ReplayState) -> None:
    for spec in stmt.node.get("roles", ()):
        name = role_name(state, spec["RoleSpec"])
        if state.access.roles.pop(name, None) is None:
            if not stmt.node.get("missing_ok"):
                state.note(stmt, f"role {name} is not known")
            continue
        # PostgreSQL refuses to drop a role that still holds privileges or owns objects, so
        # only its memberships go with it.
        for key in [k for k in state.access.memberships if name in k]:
            del state.access.memberships[key]


def add_membership(state: ReplayState, role: str, member: str, inherit: bool | None) -> None:
    """``GRANT role TO member``: without WITH INHERIT, the grant inherits if the member does."""
    if inherit is None:
        found = state.access.roles.get(member)
        inherit = found.inherit if found is not None else True
    state.access.memberships[(role, member)] = Membership(role, member, inherit)


def grant_role(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    granted = [p["AccessPriv"]["priv_name"] for p in node.get("granted_roles", ())]
    for name in granted:
        state.access.saw_role(name)
    members = grantees(state, node.get("grantee_roles"))
    options = {o["DefElem"]["defname"]: o["DefElem"].get("arg", {}) for o in node.get("opt", ())}
    inherit_option = options.get("inherit")
    inherit = None if inherit_option is None else bool(inherit_option.get("Boolean", {}).get("boolval", False))
    for role in granted:
        for member in members:
            key = (role, member)
            if node.get("is_grant"):
                if key in state.access.memberships and inherit is None:
                    continue  # granted again: the grant keeps its options
                add_membership(state, role, member, inherit)
            elif "inherit" in options:
                if key in state.access.memberships:  # REVOKE INHERIT OPTION FOR
                    state.access.memberships[key] = evolve(state.access.memberships[key], inherit=False)
            elif not options:
                state.access.memberships.pop(key, None)


def rename_role(state: ReplayState, old: str, new: str) -> None:
    """ALTER ROLE … RENAME TO: privileges and policies name roles by oid, so they all follow."""
    access = state.access
    access.saw_role(old)
    access.saw_role(new)
    role = access.roles.pop(old, None)
    if role is None:
        return
    access.roles[new] = evolve(role, name=new)
    rename = lambda name: new if name == old else name  # noqa: E731
    access.memberships = {(rename(r), rename(m)): evolve(v, role=rename(r), member=rename(m))
                          for (r, m), v in access.memberships.items()}
    renamed = lambda grants: frozenset((rename(g), p) for g, p in grants)  # noqa: E731
    access.schema_acl = {s: renamed(a) for s, a in access.schema_acl.items()}
    access.schema_owner = {s: rename(o) for s, o in access.schema_owner.items()}
    access.sequence_acl = {q: renamed(a) for q, a in access.sequence_acl.items()}
    access.routines = {k: evolve(r, owner=rename(r.owner), acl=renamed(r.acl)) for k, r in access.routines.items()}
    access.default_acl = {(rename(r), s, k): renamed(a) for (r, s, k), a in access.default_acl.items()}
    if access.current_role == old:
        access.current_role = new
    for table in list(state.tables.values()):
        state.tables[table.qname] = evolve(
            table, owner=rename(table.owner), acl=renamed(table.acl),
            column_acl=frozenset((c, rename(g), p) for c, g, p in table.column_acl),
            policies=tuple(evolve(p, roles=tuple(sorted(rename(r) for r in p.roles))) if old in p.roles else p
                           for p in table.policies))


def change_owner(state: ReplayState, grants, old: str, new: str):
    """The object's privileges once ``new`` owns it: the old owner's own grants pass to the
    new owner (``aclnewowner``)."""
    if old == new:
        return grants
    return frozenset((new if g == old else g, p) for g, p in grants)


def alter_owner(stmt: Statement, state: ReplayState) -> None:
    """ALTER FUNCTION / SCHEMA / SEQUENCE … OWNER TO (tables: ALTER TABLE … OWNER TO)."""
    node = stmt.node
    new = role_name(state, node["newowner"])
    kind = node.get("objectType")
    if kind == "OBJECT_SCHEMA":
        schema = node["object"]["String"]["sval"]
        if schema in state.access.schema_acl:
            old = state.access.schema_owner.get(schema, "")
            state.access.schema_acl[schema] = change_owner(state, state.access.schema_acl[schema], old, new)
            state.access.schema_owner[schema] = new
    elif kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
        for routine in privileges.routines_named(state, node["object"]["ObjectWithArgs"]):
            key = (routine.schema, routine.name, routine.args)
            state.access.routines[key] = evolve(routine, owner=new, acl=change_owner(state, routine.acl, routine.owner, new))


def table_owner(state: ReplayState, qname, spec: Node) -> None:
    table = state.tables[qname]
    new = role_name(state, spec)
    state.tables[qname] = evolve(table, owner=new, acl=change_owner(state, table.acl, table.owner, new))


def reassign_owned(stmt: Statement, state: ReplayState) -> None:
    old_roles = set(grantees(state, stmt.node.get("roles")))
    new = role_name(state, stmt.node["newrole"])
    for table in list(state.tables.values()):
        if table.owner in old_roles:
            state.tables[table.qname] = evolve(table, owner=new, acl=change_owner(state, table.acl, table.owner, new))
    for key, routine in list(state.access.routines.items()):
        if routine.owner in old_roles:
            state.access.routines[key] = evolve(routine, owner=new, acl=change_owner(state, routine.acl, routine.owner, new))


def drop_owned(stmt: Statement, state: ReplayState) -> None:
    """DROP OWNED BY: the roles' objects in this database go, and every privilege granted to them."""
    from rlslint.schema.tables import drop_table  # tables.py imports this module for ALTER TABLE … OWNER TO

    gone = set(grantees(state, stmt.node.get("roles")))
    for table in list(state.tables.values()):
        if table.qname not in state.tables:
            continue  # a partition, dropped with its parent
        if table.owner in gone:
            drop_table(stmt, state, (table.qname.schema, table.qname.name), True)
            continue
        policies = tuple(evolve(p, roles=tuple(r for r in p.roles if r not in gone)) for p in table.policies)
        # A policy for those roles alone goes; one for others too forgets them.
        policies = tuple(p for p in policies if p.roles)
        if policies != table.policies:
            state.tables[table.qname] = table = evolve(table, policies=policies)
        if any(g in gone for g, _ in table.acl) or any(g in gone for _, g, _ in table.column_acl):
            state.tables[table.qname] = evolve(
                table, acl=frozenset(i for i in table.acl if i[0] not in gone),
                column_acl=frozenset(i for i in table.column_acl if i[1] not in gone))
    access = state.access
    access.routines = {k: evolve(r, acl=frozenset(i for i in r.acl if i[0] not in gone))
                       for k, r in access.routines.items() if r.owner not in gone}
    access.schema_acl = {s: frozenset(i for i in a if i[0] not in gone) for s, a in access.schema_acl.items()}
    access.sequence_acl = {q: frozenset(i for i in a if i[0] not in gone) for q, a in access.sequence_acl.items()}
    access.default_acl = {k: a for k, a in access.default_acl.items() if k[0] not in gone}


HANDLERS = {
    "CreateRoleStmt": create_role,
    "AlterRoleStmt": alter_role,
    "DropRoleStmt": drop_role,
    "GrantRoleStmt": grant_role,
    "AlterOwnerStmt": alter_owner,
    "ReassignOwnedStmt": reassign_owned,
    "DropOwnedStmt": drop_owned,
}
