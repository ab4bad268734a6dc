"""What ``--verify`` compares: one table's facts, read from the schema model or from PostgreSQL's catalog.

Both sides are brought to the same plain shape, so a difference is a difference of
PostgreSQL's own facts: the RLS flags (``pg_class``), the columns, their NOT NULL and base
type (``pg_attribute``), the policies' command, kind, roles, USING and WITH CHECK
(``pg_policy``), the indexes' names, key columns, uniqueness and predicate (``pg_index``),
the foreign keys (``pg_constraint``) and the privileges on the table and its columns
(``relacl``, ``attacl``).

Two facts need PostgreSQL to read the model's side. A column's type is kept as the
migration spelled it (``int``, ``varchar(20)[]``, ``public.status``) and resolved by the
server (``to_regtype``, in the same query that reads the catalog), never by an alias table of
rlslint's; its typmod (``varchar(20)``'s 20) is not compared: PostgreSQL 16 has no function
that computes one from a spelling (``to_regtypemod`` arrives in 17), and the replay does not
evaluate them. A policy expression is compared as PostgreSQL prints it: see
``rlslint.verify.expressions``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from rlslint.schema.model import ON_DELETE, Expr, Table

# (grantee, privilege); (column, grantee, privilege)
Privilege = tuple[str, str]
ColumnPrivilege = tuple[str, str, str]


@dataclass(frozen=True)
class PolicyFacts:
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    roles: tuple[str, ...]  # sorted; "public" for PUBLIC
    # The expressions as SQL (None: the policy has none): the model's printed from its tree
    # ("" when pglast cannot print it: not compared), the catalog's by pg_get_expr.
    using: str | None = None
    with_check: str | None = None

    def kind(self) -> tuple:
        """What decides the policy apart from its expressions."""
        return self.command, self.permissive, self.roles


@dataclass(frozen=True)
class IndexFacts:
    name: str
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
    # (name, NOT NULL, type, type's oid), in column order. The type: the model's spelling
    # until ``resolved``, the catalog's format_type(atttypid, NULL); "" when not known. The
    # oids are compared (the names depend on the search_path they are printed with).
    columns: tuple[tuple[str, bool, str, str], ...]
    policies: tuple[tuple[str, PolicyFacts], ...]  # by name
    indexes: tuple[IndexFacts, ...]  # sorted
    foreign_keys: tuple[ForeignKeyFacts, ...]  # sorted
    privileges: frozenset[Privilege]
    column_privileges: frozenset[ColumnPrivilege]

    def without_roles(self, roles: frozenset[str]) -> "TableFacts":
        """The facts with no privilege of ``roles``: a plain PostgreSQL project's model has no
        Supabase roles, while the scaffold the catalog was built on has them."""
        return TableFacts(self.kind, self.rls, self.force_rls, self.columns, self.policies, self.indexes,
                          self.foreign_keys, frozenset(p for p in self.privileges if p[0] not in roles),
                          frozenset(p for p in self.column_privileges if p[1] not in roles))

    def spellings(self) -> set[str]:
        """The model's type spellings, for PostgreSQL to resolve."""
        return {c[2] for c in self.columns if c[2]}

    def resolved(self, types: Mapping[str, list]) -> "TableFacts":
        """The model's facts with each column's spelling replaced by PostgreSQL's type
        (``types``: spelling to [oid, name]; one it could not resolve is not known)."""
        found = lambda spelling: types.get(spelling) or [None, None]  # noqa: E731
        return dataclasses.replace(self, columns=tuple(
            (n, nn, found(t)[1] or "", str(found(t)[0] or "")) for n, nn, t, _ in self.columns))


def _sorted(items) -> tuple:
    return tuple(sorted(items, key=repr))  # repr: tuples that mix str and None


def _sql(expr: Expr | None) -> str | None:
    from rlslint.sql.deparse import predicate_sql

    return None if expr is None else predicate_sql(expr) or ""


def model_facts(table: Table) -> TableFacts:
    return TableFacts(
        kind=table.kind,
        rls=table.rls,
        force_rls=table.force_rls,
        columns=tuple((c.name, c.not_null, c.declared, "") for c in table.columns),
        policies=tuple(sorted((p.name, PolicyFacts(p.command, p.permissive, tuple(sorted(p.roles)), _sql(p.using),
                                                   _sql(p.with_check)))
                              for p in table.policies)),
        indexes=_sorted(IndexFacts(i.name, tuple(i.columns), i.unique, i.partial, i.primary) for i in table.indexes),
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
        columns=tuple((name, not_null, type_name, str(oid)) for name, not_null, type_name, oid in columns),
        policies=tuple(sorted((name, PolicyFacts(command, permissive, tuple(sorted(roles)), using, with_check))
                              for name, command, permissive, roles, using, with_check in policies)),
        indexes=_sorted(IndexFacts(name, tuple(cols), unique, partial, primary)
                        for name, cols, unique, partial, primary in indexes),
        foreign_keys=_sorted(ForeignKeyFacts(tuple(cols), ref, tuple(ref_cols), on_delete)
                             for _, cols, ref, ref_cols, on_delete in foreign_keys),
        privileges=frozenset((grantee, privilege) for grantee, privilege in privileges),
        column_privileges=frozenset((column, grantee, privilege) for column, grantee, privilege in column_privileges),
    )


# How PostgreSQL prints the model's expression when it differs from the catalog's (None: the
# same): ``rlslint.verify.expressions.ExpressionJudge.printed`` for the table compared.
ExpressionCheck = Callable[[str, str], str | None]


def differences(model: TableFacts | None, catalog: TableFacts | None,
                expressions: ExpressionCheck | None = None) -> Iterator[str]:
    """Each way the model's table differs from PostgreSQL's, in words, most telling first.
    The model's column types must be ``resolved``; without ``expressions`` policy
    expressions are not compared."""
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
    yield from _policies(dict(model.policies), dict(catalog.policies), expressions)
    yield from _indexes(model.indexes, catalog.indexes)
    yield from _only("foreign key", model.foreign_keys, catalog.foreign_keys, _fk_words)
    yield from _only("privilege", model.privileges, catalog.privileges, lambda p: f"{p[1]} to {p[0]}")
    yield from _only("column privilege", model.column_privileges, catalog.column_privileges,
                     lambda p: f"{p[2]} ({p[0]}) to {p[1]}")


def _columns(model: tuple[tuple[str, bool, str, str], ...], catalog: tuple[tuple[str, bool, str, str], ...]) -> Iterator[str]:
    in_model = {name: rest for name, *rest in model}
    in_catalog = {name: rest for name, *rest in catalog}
    for name in in_catalog.keys() - in_model.keys():
        yield f"column {name} exists in PostgreSQL but not in the model"
    for name in in_model.keys() - in_catalog.keys():
        yield f"column {name} exists in the model but not in PostgreSQL"
    for name in in_model.keys() & in_catalog.keys():
        (ours_not_null, ours_type, ours_oid), (theirs_not_null, theirs_type, theirs_oid) = in_model[name], in_catalog[name]
        if ours_not_null != theirs_not_null:
            yield f"column {name} is {'NOT NULL' if theirs_not_null else 'nullable'} in PostgreSQL, not in the model"
        if ours_oid and theirs_oid and ours_oid != theirs_oid:
            yield f"column {name} is {theirs_type} in PostgreSQL, {ours_type} in the model"
    shared = [n for n, *_ in model if n in in_catalog]
    if shared != [n for n, *_ in catalog if n in in_model]:
        yield "the columns are in another order in PostgreSQL"


def _policies(model: dict, catalog: dict, expressions: ExpressionCheck | None) -> Iterator[str]:
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
        if expressions is not None:
            yield from _expression(name, "USING", ours.using, theirs.using, expressions)
            yield from _expression(name, "WITH CHECK", ours.with_check, theirs.with_check, expressions)


def differing_expressions(model: TableFacts, catalog: TableFacts, expressions: ExpressionCheck) -> dict[str, list[str]]:
    """The policies whose USING or WITH CHECK differ, with what ``differences`` says of them."""
    ours, theirs = dict(model.policies), dict(catalog.policies)
    found: dict[str, list[str]] = {}
    for name in ours.keys() & theirs.keys():
        said = [*_expression(name, "USING", ours[name].using, theirs[name].using, expressions),
                *_expression(name, "WITH CHECK", ours[name].with_check, theirs[name].with_check, expressions)]
        if said:
            found[name] = said
    return found


def _expression(policy: str, clause: str, ours: str | None, theirs: str | None, check: ExpressionCheck) -> Iterator[str]:
    if ours is None and theirs is None or ours == "":
        return
    if ours is None or theirs is None:
        yield f"policy {policy} has {f'{clause} ({theirs})' if theirs else f'no {clause}'} in PostgreSQL, " \
              f"{f'{clause} ({ours})' if ours else f'no {clause}'} in the model"
        return
    printed = check(ours, theirs)
    if printed is not None:
        yield f"policy {policy} has {clause} ({theirs}) in PostgreSQL, {clause} ({ours}) in the model" + (
            f": {printed}" if printed.startswith("refused") else "")


def _indexes(model: tuple[IndexFacts, ...], catalog: tuple[IndexFacts, ...]) -> Iterator[str]:
    """By name; an index both have under different names is one difference, of its name."""
    ours, theirs = {i.name: i for i in model}, {i.name: i for i in catalog}
    for name in sorted(ours.keys() & theirs.keys()):
        if _definition(ours[name]) != _definition(theirs[name]):
            yield f"index {name} is {_index_words(theirs[name])} in PostgreSQL, {_index_words(ours[name])} in the model"
    only_theirs = [theirs[n] for n in sorted(theirs.keys() - ours.keys())]
    only_ours = [ours[n] for n in sorted(ours.keys() - theirs.keys())]
    for index in list(only_theirs):
        twin = next((i for i in only_ours if _definition(i) == _definition(index)), None)
        if twin is not None:
            only_theirs.remove(index)
            only_ours.remove(twin)
            yield f"index {_index_words(index)} is named {index.name} in PostgreSQL, {twin.name} in the model"
    for index in only_theirs:
        yield f"index {index.name} {_index_words(index)} exists in PostgreSQL but not in the model"
    for index in only_ours:
        yield f"index {index.name} {_index_words(index)} exists in the model but not in PostgreSQL"


def _definition(index: IndexFacts) -> tuple:
    return index.columns, index.unique, index.partial, index.primary


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
