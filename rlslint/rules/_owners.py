"""Whose row is it: the owner column that safe fixes are built from.

A fix that cascades a user's deletion, or writes a policy letting a user change rows,
must know which column names the row's owner. rlslint never guesses it from a column's
name. It takes it from the ``owner-columns`` setting, from a foreign key that is the
table's whole primary key (a profile row *is* its user's), or from a policy that
compares the column with ``auth.uid()``. Only a policy that guards writes says who may
change a row: a read policy says who may see it, which is weaker evidence.
"""

from __future__ import annotations

from typing import NamedTuple

from rlslint.rules._facts import Facts
from rlslint.schema.model import ForeignKey, Table
from rlslint.settings import Settings


class Owner(NamedTuple):
    column: str
    why: str  # for the comment above the fix
    guards_writes: bool  # the evidence says who may change the row, not only who may see it


def owner(table: Table, settings: Settings, facts: Facts, for_writes: bool = False) -> Owner | None:
    """The table's owner column, by the strongest evidence there is (None: no evidence)."""
    found = [o for o in _evidence(table, settings, facts) if o.guards_writes or not for_writes]
    return found[0] if found else None


def owner_fk(table: Table, settings: Settings, column: str) -> ForeignKey | None:
    """The one-column foreign key from ``column`` to an owner table."""
    return next((fk for fk in table.foreign_keys
                 if fk.columns == (column,) and fk.ref_table in settings.owner_tables), None)


def _evidence(table: Table, settings: Settings, facts: Facts):
    by_fk = {fk.columns[0]: fk for fk in table.foreign_keys
             if len(fk.columns) == 1 and fk.ref_table in settings.owner_tables}
    if not by_fk:
        return  # every piece of evidence names a column with such a key
    for column in by_fk:
        if column in settings.owner_columns or f"{table.qname}.{column}" in settings.owner_columns:
            yield Owner(column, "the owner-columns setting names it", True)
    primary = next((i.columns for i in table.indexes if i.primary), ())
    for column in by_fk:
        if primary == (column,):
            yield Owner(column, "it is the table's primary key: each row belongs to one user", True)
    for guards in (True, False):
        for policy in table.policies:
            if policy.permissive and (policy.command != "SELECT") == guards:
                columns = [c for expr in (policy.using, policy.with_check) if expr is not None
                           for c in facts(expr, table).uid_columns]
                for column in columns:
                    if column in by_fk:
                        verb = "guards writes with" if guards else "reads rows by"
                        yield Owner(column, f'policy "{policy.name}" {verb} {column} = auth.uid()', guards)
