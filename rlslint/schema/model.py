"""The schema model: what PostgreSQL would hold after the migrations ran.

Plain frozen data. Every object remembers the statement that created it and the one
that last changed it, so a finding can point at its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from rlslint.diagnostics import COMMANDS, Note  # noqa: F401 (COMMANDS: the model's command vocabulary too)
from rlslint.sql.names import QName
from rlslint.sql.spans import Span



def evolve(obj, **changes):
    """``dataclasses.replace`` for these frozen classes, five times cheaper.

    The replay derives a new object for nearly every statement; ``replace`` re-runs
    ``__init__`` through keyword matching and was a third of the replay's time.
    """
    if not changes.keys() <= obj.__dataclass_fields__.keys():
        raise TypeError(f"{type(obj).__name__} has no field {sorted(changes.keys() - obj.__dataclass_fields__.keys())}")
    new = object.__new__(type(obj))
    if hasattr(obj, "__dict__"):
        fields = new.__dict__
        fields.update(obj.__dict__)
        fields.update(changes)
    else:  # the small objects kept by the thousand (columns, policies, …): slots, no dictionary
        for name in obj.__slots__:
            object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new

# pg_constraint.confdeltype codes, as pglast spells fk_del_action
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True)
class Column:
    # Slots, no instance dictionary, for the objects a large model holds by the ten thousand
    # (columns, foreign keys, policies and their expressions): about a third of their memory.
    __slots__ = ("name", "type", "not_null", "created", "declared")
    name: str
    type: str  # the type's last name as pglast spells it: int4, varchar, status
    not_null: bool
    created: Span
    # The type as the migration wrote it, qualified and with its array bounds, for PostgreSQL
    # to resolve (``--verify``); "" when not known (CREATE TABLE AS).
    declared: str


@dataclass(frozen=True)
class ForeignKey:
    __slots__ = ("name", "columns", "ref_table", "ref_columns", "on_delete", "clause", "created")  # as Column's
    name: str
    columns: tuple[str, ...]
    ref_table: QName
    ref_columns: tuple[str, ...]
    on_delete: str  # one of ON_DELETE's keys
    clause: Span  # the REFERENCES / FOREIGN KEY clause
    created: Span  # the statement


@dataclass(frozen=True)
class Index:
    """An index as pg_index holds it; primary keys and unique constraints make one too."""

    name: str
    columns: tuple[str | None, ...]  # None: an expression column
    unique: bool
    partial: bool
    primary: bool
    constraint: bool  # backs a PRIMARY KEY / UNIQUE constraint (dropped with it)
    created: Span
    uses: tuple[str, ...] = ()  # columns its expressions and WHERE read: dropping one drops the index
    # JSON trees, for the rules to match policy conditions against: the key expressions
    # (None for a plain column) and the partial index's WHERE.
    expressions: tuple[Any, ...] = ()
    predicate: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Expr:
    """A policy expression: its JSON tree, kept current through renames, and where it was written.

    Fixes print the tree; the statement text only narrows spans (the end of a column
    reference) at the locations the tree records.
    """

    __slots__ = ("tree", "statement_text", "clause", "origin")  # as Column's
    tree: Mapping[str, Any]
    statement_text: str
    clause: str  # "qual" or "with_check"
    origin: Span  # the statement that set it; statement_text starts at origin.start


@dataclass(frozen=True)
class Policy:
    __slots__ = ("name", "command", "permissive", "roles", "using", "with_check", "created", "changed")  # as Column's
    name: str
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    roles: tuple[str, ...]  # "public" for PUBLIC
    using: Expr | None
    with_check: Expr | None
    created: Span
    changed: Span


@dataclass(frozen=True)
class Table:
    qname: QName
    kind: str  # "r" plain, "p" partitioned
    columns: tuple[Column, ...]
    rls: bool
    force_rls: bool
    policies: tuple[Policy, ...]
    indexes: tuple[Index, ...]
    foreign_keys: tuple[ForeignKey, ...]
    created: Span
    changed: Span
    rls_changed: Span | None  # the last ENABLE/DISABLE ROW LEVEL SECURITY
    partition_of: QName | None = None
    created_as: QName | None = None  # its name when created, once renamed: findings keep it as their identity
    owner: str = ""  # the role that created it or ALTER … OWNER TO named; "" before access is replayed
    acl: Acl = frozenset()  # table privileges, the owner's own included (as pg_class.relacl spells them)
    column_acl: frozenset[tuple[str, str, str]] = frozenset()  # (column, grantee, privilege)
    # The statements that could not be analysed (dynamic SQL) and may have changed the table.
    unanalysed: tuple[Span, ...] = ()
    # False when some columns came from where the replay cannot see (a query, a composite
    # type, a parent or LIKE source it does not know): a name it lacks may still exist.
    columns_known: bool = True

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


# --- access: roles and privileges ------------------------------------------------------

# (grantee, privilege): one aclitem of PostgreSQL's, without its grantor. "public" is PUBLIC.
Grant = tuple[str, str]
PUBLIC = "public"
Acl = frozenset[Grant]

# What ALL means, per kind of object (PostgreSQL 16; MAINTAIN arrives in 17).
PRIVILEGES = {
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "column": ("SELECT", "INSERT", "UPDATE", "REFERENCES"),
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
    "schema": ("USAGE", "CREATE"),
}


@dataclass(frozen=True)
class Role:
    name: str
    superuser: bool = False
    bypassrls: bool = False
    inherit: bool = True
    login: bool = False
    created: Span | None = None  # None: the platform made it


@dataclass(frozen=True)
class Membership:
    """``GRANT role TO member``. Since PostgreSQL 16 inheritance is per grant: it defaults to
    the member's INHERIT flag at the time of the grant, and a later ALTER ROLE does not change it."""

    role: str
    member: str
    inherit: bool


@dataclass(frozen=True)
class Routine:
    """A function or procedure, for its EXECUTE privilege."""

    schema: str
    name: str
    args: tuple[str, ...]  # the argument types as pglast names them (``int4``, ``text``)
    owner: str
    acl: Acl
    procedure: bool = False


# Kinds of object that default privileges (pg_default_acl.defaclobjtype) apply to.
DEFAULT_ACL_KINDS = {"table": "r", "sequence": "S", "function": "f", "schema": "n"}


@dataclass(frozen=True)
class Access:
    """Who holds what: roles, their memberships, and the privileges on everything but tables
    (a table's own privileges live on the Table, so they follow renames and drops with it)."""

    platform: str = "postgres"  # where the project starts from: "supabase" or "postgres"
    migration_role: str = "postgres"  # the role that runs the migrations and owns what they create
    roles: Mapping[str, Role] = field(default_factory=lambda: MappingProxyType({}))
    memberships: frozenset[Membership] = frozenset()
    schema_acl: Mapping[str, Acl] = field(default_factory=lambda: MappingProxyType({}))
    schema_owner: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sequence_acl: Mapping[QName, Acl] = field(default_factory=lambda: MappingProxyType({}))
    routines: tuple[Routine, ...] = ()
    # (creating role, schema or None for every schema, DEFAULT_ACL_KINDS value) -> grants. A
    # missing global entry means PostgreSQL's built-in default; per-schema entries only add.
    default_acl: Mapping[tuple[str, str | None, str], Acl] = field(default_factory=lambda: MappingProxyType({}))

    def privileges_of(self, role: str) -> frozenset[str]:
        """The roles whose privileges ``role`` uses without SET ROLE: itself, PUBLIC, and every
        role it is a member of through grants that inherit (``has_privs_of_role``)."""
        found = self._privileges_of.get(role)
        if found is None:
            reached, stack = {role, PUBLIC}, [role]
            while stack:
                for granted in self._inherited.get(stack.pop(), ()):
                    if granted not in reached:
                        reached.add(granted)
                        stack.append(granted)
            found = self._privileges_of[role] = frozenset(reached)
        return found

    @cached_property
    def _inherited(self) -> dict[str, list[str]]:
        edges: dict[str, list[str]] = {}
        for membership in self.memberships:
            if membership.inherit:
                edges.setdefault(membership.member, []).append(membership.role)
        return edges

    @cached_property
    def _privileges_of(self) -> dict[str, frozenset[str]]:
        return {}  # filled as rules ask: one model, many questions about the same few roles

    def held(self, role: str, acl: Acl) -> frozenset[str]:
        """The privileges of ``acl`` that ``role`` uses without SET ROLE (granted to a role in
        ``privileges_of``). The rules ask it for every table, command and API role, and most
        tables' ACLs are equal: each (role, ACL) is worked out once."""
        key = (role, acl)
        found = self._held.get(key)
        if found is None:
            roles = self.privileges_of(role)
            found = self._held[key] = frozenset(privilege for grantee, privilege in acl if grantee in roles)
        return found

    @cached_property
    def _held(self) -> dict[tuple[str, Acl], frozenset[str]]:
        return {}


@dataclass(frozen=True)
class Catalog:
    schemas: frozenset[str]
    tables: Mapping[QName, Table] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[Note, ...] = ()
    # (path, statement start) -> the tables that CREATE TABLE / ALTER TABLE statement created
    # or altered, under their final names: what a suppression comment on it extends to.
    targets: Mapping[tuple[str, int], tuple[QName, ...]] = field(default_factory=lambda: MappingProxyType({}))
    access: Access = field(default_factory=Access)
    # Statements the replay could not analyse (SQL built at run time), with why: every table
    # that existed then lists the statement in its own ``unanalysed``.
    unanalysed: tuple[Note, ...] = ()

    def table(self, qname: QName) -> Table | None:
        return self.tables.get(qname)

    def relation_names(self, schema: str) -> frozenset[str]:
        """Table and index names in a schema (one namespace in PostgreSQL), for naming fixes."""
        return self._relation_names.get(schema, frozenset())

    @cached_property
    def _relation_names(self) -> dict[str, frozenset[str]]:
        # Computed once per model: rules ask for it once per finding.
        names: dict[str, set[str]] = {}
        for table in self.tables.values():
            names.setdefault(table.qname.schema, set()).update((table.qname.name, *(i.name for i in table.indexes)))
        return {schema: frozenset(found) for schema, found in names.items()}
