"""The replay's access state: roles, memberships and privileges as the migrations leave them.

It starts from where the project starts (``rlslint.platform``) and is changed by the
handlers in roles.py and privileges.py. A table's own privileges live on its Table,
so renames, SET SCHEMA and drops carry them; everything else is kept here.
"""

from __future__ import annotations

from types import MappingProxyType

from rlslint import platform
from rlslint.schema import acl
from rlslint.schema.model import DEFAULT_ACL_KINDS, Access, Acl, Membership, Role, Routine, Table, evolve
from rlslint.sql.names import QName

SUPABASE, POSTGRES = "supabase", "postgres"


class AccessState:
    def __init__(self, start: str | None) -> None:
        """``start``: "supabase", "postgres", or None to decide from what the migrations name."""
        self.start = start
        self.migration_role = platform.MIGRATION_ROLE
        self.current_role = self.migration_role
        self.names_platform = False  # a statement named a Supabase role or the auth schema
        roles = platform.POSTGRES_ROLES if start == POSTGRES else platform.SUPABASE_ROLES
        self.roles: dict[str, Role] = {r.name: r for r in roles}
        self.memberships: dict[tuple[str, str], Membership] = {}
        self.schema_acl: dict[str, Acl] = {"public": frozenset({(acl.PUBLIC, "USAGE")})}
        self.schema_owner: dict[str, str] = {}
        self.sequence_acl: dict[QName, Acl] = {}
        self.routines: dict[tuple[str, str, tuple[str, ...]], Routine] = {}
        self.default_acl: dict[tuple[str, str | None, str], Acl] = {}
        if start != POSTGRES:
            self._supabase()

    def _supabase(self) -> None:
        for m in platform.SUPABASE_MEMBERSHIPS:
            self.memberships[(m.role, m.member)] = m
        for schema, grantees in platform.SUPABASE_SCHEMA_USAGE.items():
            base = self.schema_acl.get(schema, acl.owner_grants(self.migration_role, "schema"))
            self.schema_acl[schema] = base | frozenset((g, "USAGE") for g in grantees)
        for kind, schema in platform.SUPABASE_DEFAULT_GRANTS:
            key = (self.migration_role, schema, DEFAULT_ACL_KINDS[kind])
            self.default_acl[key] = platform.default_privileges(kind, platform.SUPABASE_API_ROLES)
        for schema, name, args in platform.SUPABASE_FUNCTIONS:
            self.routines[(schema, name, args)] = Routine(
                schema, name, args, self.migration_role, acl.new_object_acl(self.default_acl, self.migration_role, schema, "function"))

    def __eq__(self, other: object) -> bool:
        # Equal state, equal verdicts: the cache's round-trip test compares replays this way.
        return type(other) is AccessState and vars(self) == vars(other)

    __hash__ = None  # mutable

    def copy(self) -> "AccessState":
        other = object.__new__(AccessState)
        other.__dict__.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()})
        return other

    def new_session(self) -> None:
        self.current_role = self.migration_role

    # --- names -----------------------------------------------------------------------

    def saw_role(self, name: str) -> None:
        if name in platform.SUPABASE_ROLE_NAMES:
            self.names_platform = True

    def saw_schema(self, schema: str | None) -> None:
        if schema in platform.SUPABASE_SCHEMAS:
            self.names_platform = True

    @property
    def platform(self) -> str:
        if self.start is not None:
            return self.start
        return SUPABASE if self.names_platform else POSTGRES

    # --- creating objects ------------------------------------------------------------

    def new_table(self, table: Table) -> Table:
        owner = self.current_role
        return evolve(table, owner=owner, acl=acl.new_object_acl(self.default_acl, owner, table.qname.schema, "table"))

    def new_object_acl(self, schema: str | None, kind: str) -> Acl:
        return acl.new_object_acl(self.default_acl, self.current_role, schema, kind)

    # --- the model -------------------------------------------------------------------

    def frozen(self) -> Access:
        return Access(
            platform=self.platform,
            migration_role=self.migration_role,
            roles=MappingProxyType(dict(self.roles)),
            memberships=frozenset(self.memberships.values()),
            schema_acl=MappingProxyType(dict(self.schema_acl)),
            schema_owner=MappingProxyType(dict(self.schema_owner)),
            sequence_acl=MappingProxyType(dict(self.sequence_acl)),
            routines=tuple(self.routines.values()),
            default_acl=MappingProxyType(dict(self.default_acl)),
        )

    def model(self, tables: dict[QName, Table]) -> tuple[Access, dict[QName, Table]]:
        """The access model and the tables; a project that turned out plain loses the
        Supabase start, which nothing in it named, so nothing in it depended on."""
        access = self.frozen()
        if self.platform == SUPABASE or self.start == POSTGRES:
            return access, tables
        return _without_supabase(access), {q: _table_without(t, platform.SUPABASE_ROLE_NAMES) for q, t in tables.items()}


def _acl_without(grants: Acl, roles: frozenset[str]) -> Acl:
    return frozenset(g for g in grants if g[0] not in roles)


def _table_without(table: Table, roles: frozenset[str]) -> Table:
    return evolve(table, acl=_acl_without(table.acl, roles),
                  column_acl=frozenset(g for g in table.column_acl if g[1] not in roles))


def _without_supabase(access: Access) -> Access:
    gone = platform.SUPABASE_ROLE_NAMES
    functions = {(s, n, a) for s, n, a in platform.SUPABASE_FUNCTIONS}
    return evolve(
        access,
        platform=POSTGRES,
        roles=MappingProxyType({**{n: r for n, r in access.roles.items() if n not in gone},
                                **{r.name: r for r in platform.POSTGRES_ROLES}}),
        memberships=frozenset(m for m in access.memberships if m.role not in gone and m.member not in gone),
        schema_acl=MappingProxyType({s: _acl_without(a, gone) for s, a in access.schema_acl.items()
                                     if s not in platform.SUPABASE_SCHEMAS}),
        sequence_acl=MappingProxyType({q: _acl_without(a, gone) for q, a in access.sequence_acl.items()}),
        routines=tuple(evolve(r, acl=_acl_without(r.acl, gone)) for r in access.routines
                       if (r.schema, r.name, r.args) not in functions),
        default_acl=MappingProxyType({k: _acl_without(a, gone) for k, a in access.default_acl.items()
                                      if k[0] not in gone}),
    )
