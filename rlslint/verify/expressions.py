"""Whether a policy expression of the model means what PostgreSQL's means, judged by PostgreSQL.

PostgreSQL stores a policy's USING and WITH CHECK as trees of object ids and prints them with
``pg_get_expr``, normalised: casts on constants, parentheses, aliases on sub-select targets,
``IN (…)`` as ``= ANY (ARRAY[…])``, constants in their type's canonical form. Comparing that
text with the model's, however normalised, either misses differences or finds false ones.
So PostgreSQL prints the model's expression too: it is created as a policy of the same table,
behind a savepoint that is then rolled back, and printed the same way at the same moment. The
two texts are equal exactly when the expressions are. A model expression PostgreSQL refuses
on that table (a column or function it lacks) differs; one it could not try (no right to
create a policy there) is not judged.
"""

from __future__ import annotations

from rlslint.sql.names import QName, quote_ident
from rlslint.verify.catalog import PRINTING_PATH, literal
from rlslint.verify.wire import Connection, ServerError

_PROBE = "rlslint_verify_probe"
# The expression names something the table or the database lacks: a real difference.
_UNDEFINED = frozenset({"42703", "42883", "42P01", "42704", "42P10", "42804", "42725"})


UNJUDGED = "unjudged"  # ``known``'s answer before PostgreSQL was asked


class ExpressionJudge:
    """One per migration set's connection; verdicts are kept per (table, model text, catalog text)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._verdicts: dict[tuple[QName, str, str], str | None] = {}

    def printed(self, table: QName, ours: str, theirs: str) -> str | None:
        """None when the model's expression ``ours`` is PostgreSQL's ``theirs``; else how
        PostgreSQL prints the model's expression (or why it refuses it). Asks PostgreSQL
        (a query of its own) unless the pair was judged before."""
        verdict = self.known(table, ours, theirs)
        if verdict is UNJUDGED:
            verdict = self._verdicts[(table, ours, theirs)] = self._judge(table, ours, theirs)
        return verdict

    def known(self, table: QName, ours: str, theirs: str) -> str | None:
        """``printed``'s answer if it needs no query, else ``UNJUDGED``."""
        return None if ours == theirs else self._verdicts.get((table, ours, theirs), UNJUDGED)

    def _judge(self, table: QName, ours: str, theirs: str) -> str | None:
        relation = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
        # Created as the statements were (the session's search_path), printed as the catalog's is.
        probe = (f"reset role; create policy {_PROBE} on {relation} using ({ours}); "
                 f"set local search_path = {PRINTING_PATH}; select pg_get_expr(polqual, polrelid) from pg_policy "
                 f"where polrelid = {literal(relation)}::regclass and polname = {literal(_PROBE)}")
        query = self.connection.query
        inside = self.connection.status == "T"
        try:
            if inside:
                rows = query(f"savepoint {_PROBE}; {probe}; rollback to savepoint {_PROBE}; release savepoint {_PROBE}").rows
            else:
                rows = query(f"begin; {probe}; rollback").rows
        except ServerError as exc:
            if inside:
                query(f"rollback to savepoint {_PROBE}; release savepoint {_PROBE}")
            else:
                query("rollback")
            return f"refused by PostgreSQL ({exc.message})" if exc.sqlstate in _UNDEFINED else None
        printed = rows[0][0] if rows else None
        return None if printed is None or printed == theirs else printed
