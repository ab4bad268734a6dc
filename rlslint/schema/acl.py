"""Who holds a privilege, and whom a policy applies to: PostgreSQL's own checks, over the model.

Each function answers as the function of the same name in PostgreSQL does
(``has_table_privilege`` and friends, ``check_enable_rls``), so the tests can compare them
one for one against a real server.
"""

from __future__ import annotations

from typing import Mapping

from rlslint.schema.model import DEFAULT_ACL_KINDS, PRIVILEGES, PUBLIC, Access, Acl, Policy, Routine, Table

def privileges_of(access: Access, role: str) -> frozenset[str]:
    return access.privileges_of(role)


def is_superuser(access: Access, role: str) -> bool:
    found = access.roles.get(role)
    return found is not None and found.superuser


def holds(access: Access, role: str, acl: Acl, privilege: str) -> bool:
    if is_superuser(access, role):
        return True
    return privilege in access.held(role, acl)


def has_table_privilege(access: Access, role: str, table: Table, privilege: str) -> bool:
    return holds(access, role, table.acl, privilege)


def has_column_privilege(access: Access, role: str, table: Table, column: str, privilege: str) -> bool:
    """Held on the table, or on the column itself."""
    if holds(access, role, table.acl, privilege):
        return True
    return holds(access, role, frozenset((g, p) for c, g, p in table.column_acl if c == column), privilege)


def has_any_column_privilege(access: Access, role: str, table: Table, privilege: str) -> bool:
    """Held on the table or on at least one column: enough to run some statement of that kind."""
    if holds(access, role, table.acl, privilege):
        return True
    return holds(access, role, frozenset((g, p) for _c, g, p in table.column_acl), privilege)


def has_schema_privilege(access: Access, role: str, schema: str, privilege: str) -> bool:
    return holds(access, role, access.schema_acl.get(schema, frozenset()), privilege)


def has_function_privilege(access: Access, role: str, routine: Routine, privilege: str = "EXECUTE") -> bool:
    return holds(access, role, routine.acl, privilege)


def bypasses_rls(access: Access, role: str, table: Table) -> bool:
    """Whether RLS is not applied to ``role``'s queries on the table (``check_enable_rls``):
    superusers and BYPASSRLS roles (the attribute itself, never inherited), and the owner
    (or a role with the owner's privileges) unless the table FORCEs row level security."""
    found = access.roles.get(role)
    if found is not None and (found.superuser or found.bypassrls):
        return True
    return not table.force_rls and table.owner in privileges_of(access, role)


def policy_applies(access: Access, role: str, policy: Policy) -> bool:
    """A policy ``TO`` PUBLIC, the role, or a role it has the privileges of (``check_role_for_policy``)."""
    return PUBLIC in policy.roles or bool(privileges_of(access, role).intersection(policy.roles))


def owner_grants(owner: str, kind: str) -> Acl:
    return frozenset((owner, privilege) for privilege in PRIVILEGES[kind])


def new_object_acl(default_acl: Mapping[tuple[str, str | None, str], Acl], creator: str, schema: str | None,
                   kind: str) -> Acl:
    """The privileges an object gets when ``creator`` makes it (``get_user_default_acl``):
    the role's global default privileges, or PostgreSQL's built-in ones (the owner holds
    everything; PUBLIC may execute functions), plus what the schema's defaults add."""
    code = DEFAULT_ACL_KINDS[kind]
    acl = default_acl.get((creator, None, code))
    if acl is None:
        acl = owner_grants(creator, kind) | (frozenset({(PUBLIC, "EXECUTE")}) if kind == "function" else frozenset())
    if schema is not None:
        acl = acl | default_acl.get((creator, schema, code), frozenset())
    return interned(acl)


# Every table of a project mostly holds one of a few ACLs (its owner's, after the same
# grants): one object each, not one per table. Grows with the distinct ACLs a process meets.
_ACLS: dict[frozenset, frozenset] = {}


def interned(items: frozenset) -> frozenset:
    """The one object equal to ``items`` (an ACL or a table's column privileges)."""
    return _ACLS.setdefault(items, items)


# --- what the RLS rules ask ------------------------------------------------------------

# The commands of the access matrix, and the privilege each one needs.
COMMAND_PRIVILEGES = {"SELECT": "SELECT", "INSERT": "INSERT", "UPDATE": "UPDATE", "DELETE": "DELETE"}


def can_run(access: Access, role: str, table: Table, command: str) -> bool:
    """Whether ``role`` may run ``command`` on the table at all, RLS aside: USAGE on its schema
    and the command's privilege on the table or on one of its columns."""
    return (has_schema_privilege(access, role, table.qname.schema, "USAGE")
            and has_any_column_privilege(access, role, table, COMMAND_PRIVILEGES[command]))


def enforced_on(access: Access, policy: Policy, table: Table) -> bool:
    """Whether some role that RLS applies to is subject to the policy: one ``TO`` PUBLIC
    always is (the application's own role, at least); one for named roles only if one of
    them does not bypass RLS. A role the migrations never created counts as subject to it."""
    if PUBLIC in policy.roles:
        return True
    return any(role not in access.roles or not bypasses_rls(access, role, table) for role in policy.roles)


def detected_api_roles(access: Access, tables) -> tuple[str, ...]:
    """The roles whose access the RLS rules judge, when ``api-roles`` is not set.

    Supabase: ``anon`` and ``authenticated``, the roles API requests run as (``service_role``
    bypasses RLS). A plain PostgreSQL project: the roles its own grants and policies name,
    other than the migration role, the owners and the roles that bypass RLS.
    """
    if access.platform == "supabase":
        return ("anon", "authenticated")
    named: set[str] = set()
    for table in tables:
        named.update(g for g, _ in table.acl if g != table.owner)
        named.update(g for _, g, _ in table.column_acl if g != table.owner)
        for policy in table.policies:
            named.update(policy.roles)
    for schema, grants in access.schema_acl.items():
        named.update(g for g, _ in grants if g != access.schema_owner.get(schema))
    for routine in access.routines:
        named.update(g for g, _ in routine.acl if g != routine.owner)
    for grants in access.sequence_acl.values():
        named.update(g for g, _ in grants)
    def bypasses(name: str) -> bool:
        role = access.roles.get(name)
        return role is not None and (role.superuser or role.bypassrls)
    return tuple(sorted(n for n in named if n not in (PUBLIC, access.migration_role) and not bypasses(n)))
