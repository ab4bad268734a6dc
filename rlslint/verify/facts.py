"""What ``--verify`` compares: one table's facts, read from the schema model or from PostgreSQL's catalog.

Both sides are brought to the same plain shape, so a difference is a difference of
PostgreSQL's own facts: the RLS flags (``pg_class``), the columns and their NOT NULL
(``pg_attribute``), the policies' command, kind and roles (``pg_policy``), the indexes'
key columns, uniqueness and predicate (``pg_index``), the foreign keys (``pg_constraint``)
and the privileges on the table and its columns (``relacl``, ``attacl``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from rlslint.schema.model import ON_DELETE, Table

# (grantee, privilege); (column, grantee, privilege)
Privilege = tuple[str, str]
ColumnPrivilege = tuple[str, str, str]


@dataclass(frozen=True)
class PolicyFacts:
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    roles: tuple[str, ...]  # sorted; "public" for PUBLIC


@dataclass(frozen=True)
class IndexFacts:
    columns: tuple[str | None, ...]  # None: an expression
    unique: bool
    partial: bool
    primary: bool


@dataclass(frozen=True)
class ForeignKeyFacts:
    columns: tuple[str, ...]
    ref_table: str  # as PostgreSQL prints it: public.teams
    ref_columns: tuple[str, ...]
    on_delete: str  # NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT


@dataclass(frozen=True)
class TableFacts:
    kind: str  # "r" plain, "p" partitioned
    rls: bool
    force_rls: bool
    columns: tuple[tuple[str, bool], ...]  # (name, NOT NULL), in column order
    policies: tuple[tuple[str, PolicyFacts], ...]  # by name
    indexes: tuple[IndexFacts, ...]  # sorted: an index's name is not compared
    foreign_keys: tuple[ForeignKeyFacts, ...]  # sorted
    privileges: frozenset[Privilege]
    column_privileges: frozenset[ColumnPrivilege]

    def without_roles(self, roles: frozenset[str]) -> "TableFacts":
        """The facts with no privilege of ``roles``: a plain PostgreSQL project's model has no
        Supabase roles, while the scaffold the catalog was built on has them."""
        return TableFacts(self.kind, self.rls, self.force_rls, self.columns, self.policies, self.indexes,
                          self.foreign_keys, frozenset(p for p in self.privileges if p[0] not in roles),
                          frozenset(p for p in self.column_privileges if p[1] not in roles))


def _sorted(items) -> tuple:
    return tuple(sorted(items, key=repr))  # repr: tuples that mix str and None


def model_facts(table: Table) -> TableFacts:
    return TableFacts(
        kind=table.kind,
        rls=table.rls,
        force_rls=table.force_rls,
        columns=tuple((c.name, c.not_null) for c in table.columns),
        policies=tuple(sorted((p.name, PolicyFacts(p.command, p.permissive, tuple(sorted(p.roles))))
                              for p in table.policies)),
        indexes=_sorted(IndexFacts(tuple(i.columns), i.unique, i.partial, i.primary) for i in table.indexes),
        foreign_keys=_sorted(ForeignKeyFacts(tuple(fk.columns), str(fk.ref_table), tuple(fk.ref_columns),
                                             ON_DELETE[fk.on_delete]) for fk in table.foreign_keys),
        privileges=frozenset(table.acl),
        column_privileges=frozenset(table.column_acl),
    )


def catalog_facts(kind: str, rls: bool, force_rls: bool, columns, policies, indexes, foreign_keys, privileges,
                  column_privileges) -> TableFacts:
    """From the rows of ``rlslint.verify.catalog``'s query, already decoded from JSON."""
    return TableFacts(
        kind=kind,
        rls=rls,
        force_rls=force_rls,
        columns=tuple((name, not_null) for name, not_null in columns),
        policies=tuple(sorted((name, PolicyFacts(command, permissive, tuple(sorted(roles))))
                              for name, command, permissive, roles in policies)),
        indexes=_sorted(IndexFacts(tuple(cols), unique, partial, primary) for _, cols, unique, partial, primary in indexes),
        foreign_keys=_sorted(ForeignKeyFacts(tuple(cols), ref, tuple(ref_cols), on_delete)
                             for _, cols, ref, ref_cols, on_delete in foreign_keys),
        privileges=frozenset((grantee, privilege) for grantee, privilege in privileges),
        column_privileges=frozenset((column, grantee, privilege) for column, grantee, privilege in column_privileges),
    )


def differences(model: TableFacts | None, catalog: TableFacts | None) -> Iterator[str]:
    """Each way the model's table differs from PostgreSQL's, in words, most telling first."""
    if model is None and catalog is None:
        return
    if model is None:
        yield "the table exists in PostgreSQL but not in the model"
        return
    if catalog is None:
        yield "the table exists in the model but not in PostgreSQL"
        return
    if model.kind != catalog.kind:
        kinds = {"r": "plain", "p": "partitioned"}
        yield f"PostgreSQL has a {kinds.get(catalog.kind, catalog.kind)} table, the model a {kinds.get(model.kind, model.kind)} one"
    for flag, name in (("rls", "row level security"), ("force_rls", "forced row level security")):
        if getattr(model, flag) != getattr(catalog, flag):
            state = "enabled" if getattr(catalog, flag) else "disabled"
            yield f"{name} is {state} in PostgreSQL, not in the model"
    yield from _columns(model.columns, catalog.columns)
    yield from _policies(dict(model.policies), dict(catalog.policies))
    yield from _only("index", model.indexes, catalog.indexes, _index_words)
    yield from _only("foreign key", model.foreign_keys, catalog.foreign_keys, _fk_words)
    yield from _only("privilege", model.privileges, catalog.privileges, lambda p: f"{p[1]} to {p[0]}")
    yield from _only("column privilege", model.column_privileges, catalog.column_privileges,
                     lambda p: f"{p[2]} ({p[0]}) to {p[1]}")


def _columns(model: tuple[tuple[str, bool], ...], catalog: tuple[tuple[str, bool], ...]) -> Iterator[str]:
    in_model, in_catalog = dict(model), dict(catalog)
    for name in in_catalog.keys() - in_model.keys():
        yield f"column {name} exists in PostgreSQL but not in the model"
    for name in in_model.keys() - in_catalog.keys():
        yield f"column {name} exists in the model but not in PostgreSQL"
    for name in in_model.keys() & in_catalog.keys():
        if in_model[name] != in_catalog[name]:
            yield f"column {name} is {'NOT NULL' if in_catalog[name] else 'nullable'} in PostgreSQL, not in the model"
    shared = [n for n, _ in model if n in in_catalog]
    if shared != [n for n, _ in catalog if n in in_model]:
        yield "the columns are in another order in PostgreSQL"


def _policies(model: dict, catalog: dict) -> Iterator[str]:
    for name in sorted(catalog.keys() - model.keys()):
        yield f"policy {name} exists in PostgreSQL but not in the model"
    for name in sorted(model.keys() - catalog.keys()):
        yield f"policy {name} exists in the model but not in PostgreSQL"
    for name in sorted(model.keys() & catalog.keys()):
        ours, theirs = model[name], catalog[name]
        if ours.command != theirs.command:
            yield f"policy {name} is FOR {theirs.command} in PostgreSQL, FOR {ours.command} in the model"
        if ours.permissive != theirs.permissive:
            yield f"policy {name} is {'permissive' if theirs.permissive else 'restrictive'} in PostgreSQL, not in the model"
        if ours.roles != theirs.roles:
            yield f"policy {name} applies to {', '.join(theirs.roles)} in PostgreSQL, to {', '.join(ours.roles)} in the model"


def _only(what: str, model, catalog, words) -> Iterator[str]:
    for item in _sorted(set(catalog) - set(model)):
        yield f"{what} {words(item)} exists in PostgreSQL but not in the model"
    for item in _sorted(set(model) - set(catalog)):
        yield f"{what} {words(item)} exists in the model but not in PostgreSQL"


def _index_words(index: IndexFacts) -> str:
    kind = "primary key " if index.primary else "unique " if index.unique else ""
    columns = ", ".join(c if c is not None else "(expression)" for c in index.columns)
    return f"{kind}on ({columns}){' WHERE …' if index.partial else ''}"


def _fk_words(fk: ForeignKeyFacts) -> str:
    return f"({', '.join(fk.columns)}) REFERENCES {fk.ref_table} ({', '.join(fk.ref_columns)}) ON DELETE {fk.on_delete}"
