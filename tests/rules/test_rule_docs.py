"""Rule declarations tell the truth: examples fire (or not), docs render from them, rules/ is fresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint import engine
from rlslint.cli import main
from rlslint.docs import rule_markdown, stale_pages
from rlslint.rules import KNOWN_RULES, VERIFY_RULES
from rlslint.settings import Settings

RULES_DIR = Path(__file__).parents[2] / "rules"


def codes_found(sql: str, tmp_path: Path, verifier=None) -> set[str]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_example.sql").write_text(sql + "\n", encoding="utf-8")
    # Opt-in rules included; the examples are Supabase migrations.
    every_rule = Settings(enabled=frozenset(r.code for r in KNOWN_RULES), platform="supabase")
    result = engine.lint([str(migrations)], tmp_path, lambda _: every_rule, verifier=verifier)
    assert result.errors == ()
    return {d.code for d in result.diagnostics}


def _verifier_for(rule, request):
    """The verify rules judge what a real PostgreSQL did: their examples run with --verify."""
    if rule not in VERIFY_RULES:
        return None
    from tests.support.verifying import session_verifier

    return session_verifier(request.getfixturevalue("pg"))


def _examples(kind: str):
    for rule in KNOWN_RULES:
        for i, sql in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, sql, id=f"{rule.code}-{kind}{i}")


@pytest.mark.parametrize("rule, sql", list(_examples("bad")))
def test_bad_example_fires_its_rule(rule, sql, tmp_path, request):
    verifier = _verifier_for(rule, request)
    try:
        assert rule.code in codes_found(sql, tmp_path, verifier)
    finally:
        if verifier is not None:
            verifier.close()


@pytest.mark.parametrize("rule, sql", list(_examples("good")))
def test_good_example_does_not_fire_its_rule(rule, sql, tmp_path, request):
    verifier = _verifier_for(rule, request)
    try:
        assert rule.code not in codes_found(sql, tmp_path, verifier)
    finally:
        if verifier is not None:
            verifier.close()


@pytest.mark.parametrize("rule", KNOWN_RULES, ids=lambda r: r.code)
def test_declaration_is_complete(rule):
    assert set(rule.sections()) >= {"What it flags", "Why it matters"}
    assert rule.bad and rule.good and rule.summary
    assert all(o.name == o.name.lower() and o.doc for o in rule.options)


def test_readme_rule_tables_are_up_to_date():
    from rlslint.docs import readme_with_tables
    from rlslint.rules import ALL_RULES

    readme = (RULES_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert readme_with_tables(readme, ALL_RULES) == readme, "run `make docs`"
    for rule in ALL_RULES:
        assert f"| {rule.code} | `{rule.name}` |" in readme


def test_generated_rules_folder_is_up_to_date():
    assert stale_pages(RULES_DIR, KNOWN_RULES) == [], "run `python -m rlslint.docs --write rules/`"


def test_stale_pages_are_detected(tmp_path):
    from rlslint.docs import write_pages

    write_pages(tmp_path, KNOWN_RULES)
    (tmp_path / "RLS001-table-without-rls.md").write_text("edited by hand\n")
    (tmp_path / "OLD001-gone.md").write_text("")
    assert stale_pages(tmp_path, KNOWN_RULES) == ["OLD001-gone.md", "RLS001-table-without-rls.md"]


def test_rule_command_by_code_and_name():
    by_code = CliRunner().invoke(main, ["rule", "FK001"])
    by_name = CliRunner().invoke(main, ["rule", "owner-fk-without-cascade"])
    fk001 = next(r for r in KNOWN_RULES if r.code == "FK001")
    assert (by_code.exit_code, by_code.stdout) == (0, rule_markdown(fk001) + "\n")
    assert by_name.stdout == by_code.stdout
    assert "## Options" in by_code.stdout and "`on-delete`" in by_code.stdout


def test_rule_command_json_lists_options():
    result = CliRunner().invoke(main, ["rule", "FK001", "--format", "json"])
    document = json.loads(result.stdout)
    assert document["options"] == [{
        "name": "on-delete", "type": "list[str]", "default": ["CASCADE", "SET NULL", "SET DEFAULT"],
        "doc": "ON DELETE actions accepted on a foreign key to an owner table; SET NULL only on nullable columns.",
        "choices": ["NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"],
    }]


def test_unknown_rule_is_exit_2():
    result = CliRunner().invoke(main, ["rule", "RLS999"])
    assert (result.exit_code, result.stderr) == (2, "rlslint: error: unknown rule 'RLS999'; `rlslint rules` lists them\n")


def test_rules_command_text_and_json():
    text = CliRunner().invoke(main, ["rules"])
    assert [line.split()[0] for line in text.stdout.splitlines()] == [r.code for r in KNOWN_RULES]
    listed = json.loads(CliRunner().invoke(main, ["rules", "--format", "json"]).stdout)
    assert [(r["code"], r["name"]) for r in listed] == [(r.code, r.name) for r in KNOWN_RULES]
