"""PL/pgSQL errors as the evaluation raises and catches them: SQLSTATEs and condition names.

Migrations guard statements that may fail with ``EXCEPTION WHEN duplicate_object THEN
null``. The replay knows some refusals (a policy that exists, a table that exists, see
state.DUPLICATE_OBJECT) and the evaluation knows ``RAISE`` and ``ASSERT``; a handler catches
such an error when one of its conditions names the error's SQLSTATE, its class (``…000``) or
``others``. A condition name outside the table below cannot be decided here, and is reported
rather than guessed.
"""

from __future__ import annotations

from rlslint.sql.spans import Span

# The condition names migrations catch, with their SQLSTATEs as PostgreSQL's errcodes.txt
# defines them (tests/postgres/test_plpgsql_errors.py reads that file of the real server).
SQLSTATES = {
    "feature_not_supported": "0A000", "data_exception": "22000", "invalid_parameter_value": "22023",
    "invalid_text_representation": "22P02", "integrity_constraint_violation": "23000",
    "not_null_violation": "23502", "foreign_key_violation": "23503", "unique_violation": "23505",
    "check_violation": "23514", "dependent_objects_still_exist": "2BP01", "invalid_schema_name": "3F000",
    "syntax_error_or_access_rule_violation": "42000", "syntax_error": "42601", "insufficient_privilege": "42501",
    "wrong_object_type": "42809", "undefined_column": "42703", "undefined_function": "42883",
    "undefined_table": "42P01", "undefined_object": "42704", "duplicate_column": "42701",
    "duplicate_function": "42723", "duplicate_schema": "42P06", "duplicate_table": "42P07",
    "duplicate_object": "42710", "invalid_table_definition": "42P16", "invalid_object_definition": "42P17",
    "object_not_in_prerequisite_state": "55000", "object_in_use": "55006", "query_canceled": "57014",
    "plpgsql_error": "P0000", "raise_exception": "P0001", "no_data_found": "P0002", "too_many_rows": "P0003",
    "assert_failure": "P0004",
}
RAISE_EXCEPTION, ASSERT_FAILURE = SQLSTATES["raise_exception"], SQLSTATES["assert_failure"]
# WHEN OTHERS catches every error but these two (PL/pgSQL's exception_matches_conditions)
_NOT_OTHERS = (SQLSTATES["query_canceled"], ASSERT_FAILURE)


class Undecided(Exception):
    """Whether a handler catches an error is not known here; the message says why."""


class Raised(Exception):
    """An error a statement of the block raised, on its way to a handler or out of the block.

    ``sqlstate``: "" when not known; ``name``: the condition name it was raised by, if any."""

    def __init__(self, sqlstate: str, why: str, span: Span, name: str | None = None) -> None:
        super().__init__(why)
        self.sqlstate, self.why, self.span, self.name = sqlstate, why, span, name


def is_sqlstate(text: str) -> bool:
    return len(text) == 5 and text.isalnum() and text.upper() == text


def raised_by(condition: str, why: str, span: Span) -> Raised:
    """The error of ``RAISE <condition>`` or ``USING ERRCODE = <condition>``: a name or a SQLSTATE."""
    if is_sqlstate(condition):
        return Raised(condition, why, span)
    return Raised(SQLSTATES.get(condition.lower(), ""), why, span, condition.lower())


def catches(condition: str, error: Raised) -> bool:
    """Whether a handler's condition (``others``, a name, or a SQLSTATE) catches ``error``."""
    if condition == "others":
        return error.sqlstate not in _NOT_OTHERS
    code = condition if is_sqlstate(condition) else SQLSTATES.get(condition)
    if code is None:
        if error.name == condition:
            return True
        raise Undecided(f"the condition {condition} is not one the evaluation knows")
    if not error.sqlstate:
        if error.name is not None and error.name == condition:
            return True
        raise Undecided(f"the SQLSTATE of {error.name or 'the error'} is not known here")
    if code.endswith("000"):  # a class: every SQLSTATE that starts like it
        return error.sqlstate[:2] == code[:2]
    return error.sqlstate == code
