"""Statements -> schema model: apply each statement, in order, as PostgreSQL would.

One handler per pglast statement type, a function of (statement, state), found in the
table below. Each module that models something (session.py, tables.py, constraints.py,
policies.py) declares the statement types it handles in its own ``HANDLERS`` and the
object types of ``DROP`` it handles in ``DROPS``; a new module is added to
``HANDLER_MODULES`` and contributes its entries the same way. Statements the model does not need pass
through; a statement the replay does not understand becomes a note (and an error under
RLSLINT_STRICT, which the tests set, so new node types are caught there).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from rlslint.schema import constraints, extensions, policies, privileges, roles, routines, session, tables, views
from rlslint.schema.model import Catalog
from rlslint.schema.state import ReplayState, strs
from rlslint.sql.parse import ParsedFile, Statement
from rlslint.sql.problems import strict_mode

Handler = Callable[[Statement, ReplayState], None]
# DROP of one object: (statement, state, its dotted name (a function's ObjectWithArgs node),
# IF EXISTS, CASCADE)
DropHandler = Callable[[Statement, ReplayState, tuple[str, ...], bool, bool], None]

HANDLER_MODULES = (session, tables, constraints, policies, privileges, roles, routines, extensions, views)


def merged(modules: Iterable, attribute: str) -> Mapping[str, Callable]:
    """Every module's table ``attribute`` in one; two modules claiming one key is a bug."""
    table: dict[str, Callable] = {}
    for module in modules:
        for key, handler in getattr(module, attribute, {}).items():
            if key in table:
                raise ValueError(f"{key} is handled by both {table[key].__module__} and {module.__name__}")
            table[key] = handler
    return MappingProxyType(table)


DROPS: Mapping[str, DropHandler] = merged(HANDLER_MODULES, "DROPS")


def drop(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    handler = DROPS.get(node.get("removeType"))
    if handler is None:
        return  # DROP of an object the model does not hold
    missing_ok, cascade = bool(node.get("missing_ok")), node.get("behavior") == "DROP_CASCADE"
    for obj in node.get("objects", ()):
        if "ObjectWithArgs" in obj:  # a function: its argument types say which one
            handler(stmt, state, obj["ObjectWithArgs"], missing_ok, cascade)
        else:
            handler(stmt, state, strs(obj["List"]["items"]) if "List" in obj else strs([obj]), missing_ok, cascade)


HANDLERS: Mapping[str, Handler] = MappingProxyType({**merged(HANDLER_MODULES, "HANDLERS"), "DropStmt": drop})

# Statements that cannot change anything the model holds.
PASS_THROUGH = frozenset(
    {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CommentStmt",
     "AlterFunctionStmt",
     "CreateTrigStmt", "AlterExtensionStmt", "AlterSeqStmt",
     "AlterRoleSetStmt", "CreateEnumStmt", "AlterEnumStmt",
     "CompositeTypeStmt", "CreateDomainStmt", "AlterDomainStmt", "DefineStmt", "CreatePublicationStmt",
     "AlterPublicationStmt", "RuleStmt", "NotifyStmt", "LockStmt", "VacuumStmt",
     "ExplainStmt", "CreateCastStmt", "CreateOpClassStmt", "CreateConversionStmt",
     "SecLabelStmt", "CreateStatsStmt", "ClusterStmt", "ReindexStmt", "AnalyzeStmt", "CheckPointStmt",
     "DiscardStmt", "ListenStmt", "UnlistenStmt", "PrepareStmt", "ExecuteStmt", "DeallocateStmt",
     "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "CopyStmt", "TruncateStmt", "CreateForeignTableStmt",
     "CreateFdwStmt", "CreateForeignServerStmt", "CreateUserMappingStmt", "ImportForeignSchemaStmt",
     "CreateTransformStmt", "CreateAmStmt", "CreatePLangStmt", "AlterTSConfigurationStmt", "AlterTSDictionaryStmt",
     "CreateRangeStmt", "AlterTypeStmt", "AlterOperatorStmt", "AlterCollationStmt", "AlterDatabaseSetStmt",
     "AlterDatabaseStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt", "ConstraintsSetStmt", "VariableShowStmt",
     "CreateSubscriptionStmt", "AlterSubscriptionStmt", "DropSubscriptionStmt",
     "AlterObjectDependsStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt",
     "AlterTableMoveAllStmt", "LoadStmt", "RefreshMatViewStmt",
     "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterStatsStmt", "ReturnStmt", "PLAssignStmt",
     "WaitStmt"}
)


# Statements that change no table: a PL/pgSQL guard the model cannot answer, around only
# these (CREATE TYPE, CREATE TRIGGER, CREATE EXTENSION …), leaves every table as it is.
CHANGES_NO_TABLE = PASS_THROUGH | {"CreateExtensionStmt", "ViewStmt"}


def replay(files: Iterable[ParsedFile], strict: bool | None = None, start: str | None = None) -> Catalog:
    """The model after ``files``; ``start``: where the project starts from (see AccessState)."""
    state = ReplayState(strict_mode() if strict is None else strict, start)
    for parsed in files:
        replay_file(parsed, state)
    return state.catalog()


# Told of each statement once the replay applied it (``rlslint check --verify`` compares the
# model at that point with PostgreSQL's catalog).
Observer = Callable[[Statement, ReplayState], None]


def replay_file(parsed: ParsedFile, state: ReplayState, observe: Observer | None = None) -> None:
    state.new_session()
    state.notes.extend(parsed.notes)
    for statement in parsed.statements:
        apply(statement, state)
        if observe is not None:
            observe(statement, state)


def apply(stmt: Statement, state: ReplayState) -> None:
    state.failure = None
    handler = HANDLERS.get(stmt.kind)
    if handler is not None:
        handler(stmt, state)
    elif stmt.kind not in PASS_THROUGH:
        state.unmodelled(stmt, f"{stmt.kind} is not modelled")
    if state.event_triggers and state.failure is None:  # a refused statement fires no trigger
        routines.fire_event_triggers(stmt, state)
