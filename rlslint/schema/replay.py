"""Statements -> schema model: apply each statement, in order, as PostgreSQL would.

One small handler per pglast node type, grouped by what they change (tables.py,
columns.py, constraints.py, policies.py) over a shared state (state.py). Statements the
model does not need pass through; a statement the replay does not understand becomes a
note (and an error under RLSLINT_STRICT, which the tests set, so new node types are
caught there).
"""

from __future__ import annotations

from typing import Callable, Iterable

from rlslint.schema.columns import ColumnStatements
from rlslint.schema.constraints import ConstraintStatements
from rlslint.schema.model import Catalog
from rlslint.schema.policies import PolicyStatements
from rlslint.schema.state import DEFAULT_SEARCH_PATH, strict_mode
from rlslint.schema.tables import TableStatements
from rlslint.sql.parse import Node, ParsedFile, Statement

# Statements that cannot change anything the model holds.
PASS_THROUGH = frozenset(
    {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CommentStmt",
     "GrantStmt", "GrantRoleStmt", "AlterDefaultPrivilegesStmt", "CreateFunctionStmt", "AlterFunctionStmt",
     "CreateTrigStmt", "ViewStmt", "CreateExtensionStmt", "AlterExtensionStmt", "CreateSeqStmt", "AlterSeqStmt",
     "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt", "CreateEnumStmt", "AlterEnumStmt",
     "CompositeTypeStmt", "CreateDomainStmt", "AlterDomainStmt", "DefineStmt", "DoStmt", "CreatePublicationStmt",
     "AlterPublicationStmt", "CreateEventTrigStmt", "RuleStmt", "NotifyStmt", "LockStmt", "VacuumStmt",
     "ExplainStmt", "CallStmt", "AlterOwnerStmt", "CreateCastStmt", "CreateOpClassStmt", "CreateConversionStmt",
     "SecLabelStmt", "CreateStatsStmt", "ClusterStmt", "ReindexStmt", "AnalyzeStmt", "CheckPointStmt",
     "DiscardStmt", "ListenStmt", "UnlistenStmt", "PrepareStmt", "ExecuteStmt", "DeallocateStmt",
     "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "CopyStmt", "TruncateStmt", "CreateForeignTableStmt",
     "CreateFdwStmt", "CreateForeignServerStmt", "CreateUserMappingStmt", "ImportForeignSchemaStmt",
     "CreateTransformStmt", "CreateAmStmt", "CreatePLangStmt", "AlterTSConfigurationStmt", "AlterTSDictionaryStmt",
     "CreateRangeStmt", "AlterTypeStmt", "AlterOperatorStmt", "AlterCollationStmt", "AlterDatabaseSetStmt",
     "AlterDatabaseStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt", "ConstraintsSetStmt", "VariableShowStmt",
     "AlterEventTrigStmt", "CreateSubscriptionStmt", "AlterSubscriptionStmt", "DropSubscriptionStmt",
     "AlterObjectDependsStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt",
     "AlterTableMoveAllStmt", "DropOwnedStmt", "ReassignOwnedStmt", "LoadStmt", "RefreshMatViewStmt",
     "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterStatsStmt", "ReturnStmt", "PLAssignStmt",
     "WaitStmt"}
)


def replay(files: Iterable[ParsedFile], strict: bool | None = None) -> Catalog:
    replayer = Replayer(strict)
    for parsed in files:
        replayer.replay_file(parsed)
    return replayer.catalog()


class Replayer(TableStatements, ColumnStatements, ConstraintStatements, PolicyStatements):
    """The replay in progress; plain data, so a snapshot of it can be kept between runs."""

    def __init__(self, strict: bool | None = None) -> None:
        super().__init__(strict_mode() if strict is None else strict)

    def replay_file(self, parsed: ParsedFile) -> None:
        self.search_path = DEFAULT_SEARCH_PATH  # each migration runs in a fresh session
        self.in_transaction, self.path_before_local = False, None
        self.notes.extend(parsed.notes)
        for statement in parsed.statements:
            self.apply(statement)
        self.stmt = None

    def apply(self, stmt: Statement) -> None:
        self.stmt = stmt
        handler: Callable[[Node], None] | None = getattr(self, "on_" + stmt.kind, None)
        if handler is not None:
            handler(stmt.node)
        elif stmt.kind not in PASS_THROUGH:
            self.unmodelled(f"{stmt.kind} is not modelled")

    # --- schemas and search_path -----------------------------------------------------

    def on_CreateSchemaStmt(self, node: Node) -> None:
        name = node.get("schemaname") or (node.get("authrole") or {}).get("rolename")
        if name:
            self.schemas.add(name)
        if node.get("schemaElts"):
            self.unmodelled("CREATE SCHEMA with embedded elements is not modelled")

    def on_TransactionStmt(self, node: Node) -> None:
        kind = node.get("kind")
        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            self.in_transaction = True
        elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"):
            self.in_transaction = False
            if self.path_before_local is not None:
                self.search_path, self.path_before_local = self.path_before_local, None

    def on_VariableSetStmt(self, node: Node) -> None:
        if node.get("name") != "search_path" and node.get("kind") != "VAR_RESET_ALL":
            return
        if node.get("is_local"):
            if not self.in_transaction:
                return  # SET LOCAL outside a transaction block has no effect
            if self.path_before_local is None:
                self.path_before_local = self.search_path
        if node.get("kind") == "VAR_SET_VALUE":
            values = []
            for arg in node.get("args", ()):
                const = arg.get("A_Const", {})
                value = const.get("sval", {}).get("sval")
                if value is not None:
                    values.extend(v.strip().strip('"') for v in value.split(",") if v.strip())
            self.search_path = tuple(v for v in values if v != "$user")
        elif node.get("kind") in ("VAR_SET_DEFAULT", "VAR_RESET", "VAR_RESET_ALL"):
            self.search_path = DEFAULT_SEARCH_PATH
        else:
            self.note("SET search_path FROM CURRENT is not modelled")
