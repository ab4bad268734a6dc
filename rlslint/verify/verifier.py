"""Apply a migration set to PostgreSQL as the Supabase CLI does, and compare the catalog with the model.

Each set gets a database of its own, with the Supabase scaffold (``rlslint.platform``)
before its first migration. Each file runs in one transaction, after ``RESET ALL``;
within it each statement is a query of its own, and after each one that may change a
table the catalog of the tables it changed is compared with the model after that
statement, so a difference is reported where it begins. The queries of a file are sent
ahead of their answers (``_pipelined_run`` says when that changes nothing). What PostgreSQL refuses inside a transaction
block (``CREATE INDEX CONCURRENTLY`` …) runs between two, as the Supabase CLI runs it.
A statement PostgreSQL rejects is reported with its message and position (where the
Supabase CLI would stop) and undone alone; the run goes on, so every rejected statement is
reported in one run, and the replay, which skips what PostgreSQL would refuse, stays in
step. A failure at COMMIT ends the set.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

from rlslint import platform
from rlslint.diagnostics import Note, SourceError
from rlslint.schema.model import Catalog, Table
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.spans import Span
from rlslint.verify import VerifyError
from rlslint.verify.catalog import SETUP_SQL, TRANSACTION_ID_SQL, CatalogReader, literal
from rlslint.verify.decided import decided_table
from rlslint.verify.expressions import UNJUDGED, ExpressionJudge
from rlslint.verify.facts import TableFacts, differences, differing_expressions
from rlslint.verify.server import Endpoint
from rlslint.verify.trace import FileTrace, Step
from rlslint.verify.wire import Connection, ProtocolError, ServerError

# Statements that write no table's catalog rows: the catalog is not read after them
# unless the model changed a table in them. (INSERT, UPDATE and DELETE are read after:
# a trigger they fire may alter tables.)
_NO_TABLE_CHANGES = frozenset({
    "CreateFunctionStmt", "VariableSetStmt",
    "CommentStmt", "TransactionStmt", "CreateEnumStmt", "AlterEnumStmt", "CreateDomainStmt", "CompositeTypeStmt", "ViewStmt",
    "CreateSeqStmt", "AlterSeqStmt", "CreateTrigStmt", "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt",
    "DropRoleStmt", "CreateSchemaStmt", "NotifyStmt", "AlterFunctionStmt", "CreateEventTrigStmt",
})


@dataclass(frozen=True)
class Difference:
    span: Span  # the statement after which the model and the catalog diverge
    table: QName
    what: str


@dataclass(frozen=True)
class Unavailable:
    span: Span  # the CREATE EXTENSION, not applied
    extension: str


@dataclass(frozen=True)
class Verification:
    server: str  # which server and version, for messages
    differences: tuple[Difference, ...]
    # Tables the model marked unknown (``Table.unanalysed``), as the catalog has them.
    decided: Mapping[QName, Table]
    unavailable: tuple[Unavailable, ...]  # extensions the server lacks
    errors: tuple[SourceError, ...]  # migrations PostgreSQL rejected
    notes: tuple[Note, ...]

    def catalog_for_rules(self, catalog: Catalog) -> Catalog:
        """The model with its unknown tables replaced by what PostgreSQL decided."""
        if not self.decided:
            return catalog
        from dataclasses import replace

        return replace(catalog, tables=MappingProxyType({**catalog.tables, **self.decided}))


_databases = itertools.count()
_SAVEPOINT = "savepoint rlslint; "
_UNDO = "rollback to savepoint rlslint; release savepoint rlslint"
_IN_FAILED_TRANSACTION = "25P02"  # what PostgreSQL answers to a query sent after a failed one
# Statements sent before the first of them is answered: enough to keep the server busy,
# few enough that a rejected one leaves little to send again.
_PIPELINE_DEPTH = 64


def _guarded(text: str, read: str | None) -> str:
    """The statement behind a savepoint, and the catalog query after it: one message."""
    return f"{_SAVEPOINT}{text}\n; release savepoint rlslint" + (f"; {read}" if read else "")


class Verifier:
    """One server for the whole run; each migration set in a database of its own, copied
    from one that holds the scaffold (made once per run: copying is cheaper than building it)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._prefix = f"rlslint_verify_{os.getpid()}_{next(_databases)}"
        self._template: str | None = None
        self._strategy = "wal_log"
        self._admin: Connection | None = None
        self._roles_before: tuple[frozenset[str], frozenset[tuple[str, str]]] | None = None
        self._sets = itertools.count()
        # The last set's database and the roles before it. In a throwaway cluster it is
        # dropped only when another set needs the roles undone: removing the cluster removes it faster.
        self._pending: tuple[str, tuple[frozenset[str], frozenset[tuple[str, str]]]] | None = None

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None and not issubclass(kind, Exception) and self.endpoint.throwaway and self._admin is not None:
            # Ctrl-C or SIGTERM while the pipeline's thread may still be using the connection:
            # the throwaway cluster is removed next anyway.
            self._admin.close()
            self._admin = None
        self.close()

    def close(self) -> None:
        """Drop the scaffold's database and undo the roles this run made (they belong to the cluster)."""
        admin, self._admin = self._admin, None
        if admin is None:
            return
        if self.endpoint.throwaway:
            admin.close()
            return
        try:
            self._drop_pending(admin)
            if self._template is not None:
                admin.query(f"drop database if exists {quote_ident(self._template)} with (force)")
            if self._roles_before is not None:
                _undo_roles(admin, self._roles_before)
        except (ProtocolError, ServerError):
            pass  # a server that is gone holds nothing to undo; a named one keeps what could not be dropped
        finally:
            admin.close()

    def verify(self, files: tuple[FileTrace, ...], catalog: Catalog, unparsed: frozenset[str]) -> Verification:
        """``files``: the set's trace; ``catalog``: the model after it; ``unparsed``: files with
        syntax errors, where verifying stops (PostgreSQL would reject them anyway)."""
        try:
            admin = self._ready()
            self._drop_pending(admin)
            name = f"{self._prefix}_{next(self._sets)}"
            self._pending = (name, _roles(admin))
            admin.query(f"create database {quote_ident(name)} template {quote_ident(self._template)} "
                        f"strategy {self._strategy}")
            admin.query(f'alter database {quote_ident(name)} set search_path = "$user", public, extensions')
            connection = self.endpoint.connect(name)
            try:
                _as_migration_role(connection, catalog.access.migration_role)
                return _Run(connection, self.endpoint.described, catalog).apply(files, unparsed)
            finally:
                connection.close()
                if not self.endpoint.throwaway:
                    self._drop_pending(admin)
        except (ProtocolError, ServerError) as exc:
            raise VerifyError(f"{self.endpoint.described}: {exc}") from None

    def _drop_pending(self, admin: Connection) -> None:
        if self._pending is None:
            return
        name, roles_before = self._pending
        self._pending = None
        admin.query(f"drop database if exists {quote_ident(name)} with (force)")
        _undo_roles(admin, roles_before)

    def _ready(self) -> Connection:
        if self._admin is not None:
            return self._admin
        self._admin = admin = self.endpoint.connect()
        self._roles_before = _roles(admin)
        # Copying the files of the scaffold's database is cheapest, unless every copy must reach the disk.
        self._strategy = "file_copy" if admin.value("show fsync") == "off" else "wal_log"
        template = f"{self._prefix}_scaffold"
        admin.query(f"create database {quote_ident(template)}")
        self._template = template
        scaffold = self.endpoint.connect(template)
        try:
            scaffold.query(platform.SUPABASE_SCAFFOLD)
            scaffold.query(SETUP_SQL)
        finally:
            scaffold.close()
        return admin


class _Run:
    def __init__(self, connection: Connection, server: str, catalog: Catalog) -> None:
        self.connection = connection
        self.reader = CatalogReader(connection)
        self.judge = ExpressionJudge(connection)
        self.spellings: set[str] = set()  # every column type spelling the model has used
        # Comparisons whose policy expressions were not judged yet: (statement, table, the
        # model's facts, the catalog's, the differences found without them). PostgreSQL judges
        # them with queries of its own, so only between statements and batches (``_judge_pending``).
        self._pending: list[tuple[Span, QName, TableFacts, TableFacts, list[str]]] = []
        self.server = server
        self.catalog = catalog
        # A plain PostgreSQL project's model has none of the Supabase roles the scaffold made.
        self.strip = frozenset() if catalog.access.platform == "supabase" else platform.SUPABASE_ROLE_NAMES
        self.unknown = frozenset(q for q, t in catalog.tables.items() if t.unanalysed)
        self.model: dict[QName, TableFacts] = {}
        self.known: dict[QName, frozenset[str]] = {}  # the differences already reported, per table
        self.history: dict[QName, list[tuple[Span, TableFacts | None]]] = {}  # the catalog's facts as they changed
        self.differences: list[Difference] = []
        self.errors: list[SourceError] = []
        self.notes: list[Note] = []
        self.unavailable: list[Unavailable] = []
        self.available = frozenset(row[0] for row in connection.query("select name from pg_available_extensions").rows)
        self.version = connection.parameters.get("server_version", "")

    def apply(self, files: Iterable[FileTrace], unparsed: frozenset[str]) -> Verification:
        last: Span | None = None
        for file in files:
            if file.path in unparsed:
                self.notes.append(Note(Span(file.path, 0, 0), "--verify stopped here: this file has syntax errors"))
                break
            if not self._apply_file(file):
                break
            last = file.steps[-1].span if file.steps else last
        else:
            if last is not None:
                self._compare(self.reader.everything(self.spellings), last, everything=True)
                self._judge_pending()
        visible = lambda name: QName("public", name) if QName("public", name) in self.catalog.tables else None  # noqa: E731
        decided = {q: decided_table(self.catalog.tables[q], self.reader.details[q], self.history.get(q, []),
                                    lambda ours, theirs, q=q: self.judge.printed(q, ours, theirs), visible)
                   for q in self.unknown if q in self.reader.details}
        return Verification(f"{self.server}, PostgreSQL {self.version}", tuple(self.differences), MappingProxyType(decided),
                            tuple(self.unavailable), tuple(self.errors), tuple(self.notes))

    def _apply_file(self, file: FileTrace) -> bool:
        """Apply one file; False when PostgreSQL rejected it."""
        connection = self.connection
        connection.pipeline(["reset all", "begin", TRANSACTION_ID_SQL])
        connection.result()
        connection.result()
        since = connection.result().rows[0][0] or "0"
        steps, at = file.steps, 0
        while at < len(steps):
            run = self._pipelined_run(steps, at)
            if run:
                at += self._apply_pipelined(file, steps[at:at + run], since)
            else:
                self._apply_alone(file, steps[at], since)
                at += 1
        if connection.status != "I":
            try:
                connection.query("commit")
            except ServerError as exc:  # a deferred constraint, checked at commit
                self.errors.append(SourceError(file.path, f"PostgreSQL rejects this migration at COMMIT: {exc.message}",
                                               kind="verify"))
                return False
        return True

    def _pipelined_run(self, steps: tuple[Step, ...], at: int) -> int:
        """How many steps from ``at`` on can be sent without waiting for each other's outcome.

        Inside the file's transaction each statement runs behind a savepoint (``_guarded``),
        so what is sent next never depends on the outcome: after a success the transaction
        is open again, and after a failure PostgreSQL refuses every query until the rollback
        to the savepoint, unrun (the statements after it are sent again). Not so for what
        changes the transaction (COMMIT, BEGIN …, the statements run between two
        transactions) nor for COPY, which may wait for data from this client.
        """
        if self.connection.status != "T":
            return 0
        run = 0
        texts: dict[QName, frozenset] = {}
        while (at + run < len(steps) and run < _PIPELINE_DEPTH and not steps[at + run].standalone
               and steps[at + run].kind not in ("TransactionStmt", "CopyStmt")):
            run += 1
            if self._writes_expressions(steps[at + run - 1], texts):
                break  # its policy expressions are judged against the tables as it leaves them
        return run

    def _writes_expressions(self, step: Step, texts: dict[QName, frozenset]) -> bool:
        """Whether the model's policy expressions change in ``step`` (``texts``: the model's, as
        the steps before it in the batch leave them)."""
        changed = False
        for qname, facts in step.changed.items():
            if facts is None:
                continue
            before = texts.get(qname)
            if before is None:
                known = self.model.get(qname)
                before = frozenset((n, p.using, p.with_check) for n, p in known.policies) if known else frozenset()
            texts[qname] = frozenset((n, p.using, p.with_check) for n, p in facts.policies)
            changed = changed or bool(texts[qname] - before)
        return changed

    def _apply_pipelined(self, file: FileTrace, steps: tuple[Step, ...], since: str) -> int:
        """Send ``steps`` at once, then take their outcomes in order; how many were applied
        (up to and including the first PostgreSQL rejected)."""
        connection = self.connection
        reads = [self._read_for(step, since) for step in steps]
        connection.pipeline([_guarded(step.text, read) for step, read in zip(steps, reads) if not self._skipped(step)])
        waiting = sum(not self._skipped(step) for step in steps)
        for done, (step, read) in enumerate(zip(steps, reads), 1):
            if not self._enter(step):
                continue
            waiting -= 1
            try:
                rows = connection.result().rows
            except ServerError as exc:
                self._rejected(file, step, exc, guarded=True)
                for _ in range(waiting):
                    try:
                        connection.result()
                    except ServerError as refused:
                        if refused.sqlstate == _IN_FAILED_TRANSACTION:
                            continue
                    raise ProtocolError("PostgreSQL ran a query sent after a failed statement")
                connection.query(_UNDO)
                self._judge_pending()
                return done
            if read is not None:
                self._compare(self.reader.facts(rows), step.span, names=step.changed.keys())
        self._judge_pending()
        return len(steps)

    def _apply_alone(self, file: FileTrace, step: Step, since: str) -> None:
        if not self._enter(step):
            return
        read = self._read_for(step, since)
        rows = self._run(file, step, read)
        if rows is not None and read is not None:
            self._compare(self.reader.facts(rows), step.span, names=step.changed.keys())
            self._judge_pending()

    def _skipped(self, step: Step) -> bool:
        """What is not applied: a CREATE EXTENSION the server lacks, and ALTER SYSTEM (the
        server's configuration, not the schema)."""
        return (step.extension is not None and step.extension not in self.available) or step.kind == "AlterSystemStmt"

    def _enter(self, step: Step) -> bool:
        """The model after ``step``; False, and say why, when the step is skipped."""
        for qname, facts in step.changed.items():
            if facts is None:
                self.model.pop(qname, None)
            else:
                self.model[qname] = facts
        if not self._skipped(step):
            return True
        if step.kind == "AlterSystemStmt":
            self.notes.append(Note(step.span, "--verify does not apply ALTER SYSTEM"))
        else:
            self.unavailable.append(Unavailable(step.span, step.extension or ""))
        return False

    def _read_for(self, step: Step, since: str) -> str | None:
        """The catalog query to send after ``step``, or None where it cannot have changed a table."""
        for facts in step.changed.values():  # in step order, so each read has every spelling so far
            if facts is not None:
                self.spellings |= facts.spellings()
        if step.kind in _NO_TABLE_CHANGES and not step.changed:
            return None
        return self.reader.changed_sql(since, step.changed.keys(), self.spellings)

    def _run(self, file: FileTrace, step: Step, read: str | None) -> tuple | None:
        """Send one statement, then ``read`` (the catalog query) if given; its rows, or None
        when PostgreSQL rejected the statement.

        Inside the file's transaction each statement runs behind a savepoint, and the
        savepoint, the statement and the catalog query travel in one message: a rejected
        statement is reported and undone alone, as the replay does not apply what
        PostgreSQL refuses either, and the files after it still verify.
        """
        query = self.connection.query
        guarded = self.connection.status == "T" and not step.standalone and step.kind != "TransactionStmt"
        try:
            if step.standalone and self.connection.status == "T":
                query("commit")
            if guarded:
                return query(_guarded(step.text, read)).rows
            query(step.text)
            if step.standalone:
                query("begin")
            return query(read).rows if read else ()
        except ServerError as exc:
            self._rejected(file, step, exc, guarded)
            if guarded:
                query(_UNDO)
            elif self.connection.status == "E":
                query("rollback")
                query("begin")
            elif step.standalone:
                query("begin")
            return None

    def _rejected(self, file: FileTrace, step: Step, exc: ServerError, guarded: bool) -> None:
        position = exc.position - len(_SAVEPOINT) if exc.position and guarded else exc.position
        offset = step.span.start + position - 1 if position and position > 0 else step.span.start
        # The context's last line is the outermost: where in the DO block or function it failed.
        where = f" ({exc.context.splitlines()[-1]})" if exc.context else ""
        hint = f"; {exc.hint}" if exc.hint else ""
        self.errors.append(SourceError(file.path, f"PostgreSQL rejects this statement: {exc.message}{where}{hint}",
                                       offset, kind="verify"))

    def _compare(self, catalog: dict[QName, TableFacts], span: Span, names: Iterable[QName] = (),
                 everything: bool = False) -> None:
        looked_at = set(catalog) | set(names) | (set(self.model) if everything else set())
        for qname in sorted(looked_at):
            theirs = catalog.get(qname)
            seen = self.history.setdefault(qname, [])
            if not seen or seen[-1][1] != theirs:
                seen.append((span, theirs))
            if qname in self.unknown:
                continue  # the model said it cannot know: the catalog decides this table
            ours = self.model.get(qname)
            if ours is not None:
                ours = ours.resolved(self.reader.types)
            if self.strip:
                ours = ours.without_roles(self.strip) if ours else None
                theirs = theirs.without_roles(self.strip) if theirs else None
            unjudged = []

            def verdict(mine: str, catalogs: str, q: QName = qname) -> str | None:
                known = self.judge.known(q, mine, catalogs)
                if known is UNJUDGED:
                    unjudged.append(q)
                    return None
                return known

            found = list(differences(ours, theirs, verdict))
            if unjudged and ours is not None and theirs is not None:
                self._pending.append((span, qname, ours, theirs, found))
            self._report(span, qname, found)
            self.known[qname] = frozenset(found)

    def _report(self, span: Span, qname: QName, found: list[str]) -> None:
        reported = self.known.get(qname, frozenset())
        for what in found:
            if what not in reported:
                self.differences.append(Difference(span, qname, what))

    def _judge_pending(self) -> None:
        """Judge the expressions the comparisons since the last call left open, and report what
        differs at the statement after which it was compared.

        After a batch of statements sent ahead, PostgreSQL judges each against the tables as
        the batch left them, where a later statement may have renamed what the expression
        reads: a difference is reported only for a policy whose expressions still differ
        now (a difference that a later statement of the batch undid goes unreported).
        """
        pending, self._pending = self._pending, []
        printed = lambda q: lambda mine, catalogs: self.judge.printed(q, mine, catalogs)  # noqa: E731
        for span, qname, ours, theirs, found in pending:
            then = differing_expressions(ours, theirs, printed(qname))
            if not then:
                continue
            now = self._latest(qname)
            still = differing_expressions(*now, printed(qname)) if now is not None else {}
            added = [what for name in then.keys() & still.keys() for what in then[name] if what not in found]
            self._report(span, qname, added)
            self.known[qname] = self.known.get(qname, frozenset()) | frozenset(added)

    def _latest(self, qname: QName) -> tuple[TableFacts, TableFacts] | None:
        """The model's and the catalog's facts of the table as last compared."""
        ours, seen = self.model.get(qname), self.history.get(qname)
        theirs = seen[-1][1] if seen else None
        if ours is None or theirs is None:
            return None
        ours = ours.resolved(self.reader.types)
        if self.strip:
            ours, theirs = ours.without_roles(self.strip), theirs.without_roles(self.strip)
        return ours, theirs

def _as_migration_role(connection: Connection, role: str) -> None:
    """Run the migrations as the role the model runs them as (``postgres``) when the URL names
    another superuser: the scaffold's default privileges are that role's, and what it creates
    is owned by it. ``RESET ALL`` between files keeps the session's authorization."""
    user, exists, superuser = connection.query(
        f"select session_user, exists (select from pg_roles where rolname = {literal(role)}), "
        "(select rolsuper from pg_roles where rolname = session_user)").rows[0]
    if user != role and exists == "t" and superuser == "t":
        connection.query(f"set session authorization {quote_ident(role)}")


def _roles(connection: Connection) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    roles = frozenset(r[0] for r in connection.query("select rolname from pg_roles").rows)
    memberships = frozenset((r[0], r[1]) for r in connection.query(
        "select g.rolname, m.rolname from pg_auth_members a join pg_roles g on g.oid = a.roleid "
        "join pg_roles m on m.oid = a.member").rows)
    return roles, memberships


def _undo_roles(connection: Connection, before: tuple[frozenset[str], frozenset[tuple[str, str]]]) -> None:
    """Roles belong to the cluster, not the database: undo what the scaffold and the migrations added."""
    roles, memberships = _roles(connection)
    for role, member in sorted(memberships - before[1]):
        if role in before[0] and member in before[0]:
            connection.query(f"revoke {quote_ident(role)} from {quote_ident(member)} cascade")
    for role in sorted(roles - before[0]):
        connection.query(f"drop role if exists {quote_ident(role)}")
