"""The CI-facing formats (github, sarif, markdown), several reports per run, and `rlslint report`."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import FORMATS, main
from rlslint.diagnostics import Cell, Diagnostic, Kind, LintResult, Severity, SourceError, SourceText, Subject, TablePosture
from rlslint.report import REPORTERS, ReportContext, renderer
from rlslint.rules import ALL_RULES, KNOWN_RULES, VERIFY_RULES
from rlslint.sql.spans import LineIndex, Span
from tests.support.ci_support import sarif_errors, snippet

INIT = """create table public.legacy (id bigint primary key, owner uuid references auth.users);
"""
TODOS = """create table public.todos (
  id bigint primary key,
  user_id uuid not null references auth.users on delete cascade
);
create index on public.todos (user_id);
alter table public.todos enable row level security;
create policy todos_read on public.todos for select using ((select auth.uid()) = user_id);
"""
PRIVATE = """create schema private;
create table private.jobs (id bigint primary key);
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (tmp_path / "supabase" / "config.toml").write_text('[api]\nschemas = ["public"]\n')
    (migrations / "20240101000000_init.sql").write_text(INIT)
    (migrations / "20240102000000_todos.sql").write_text(TODOS)
    (migrations / "20240103000000_private.sql").write_text(PRIVATE)
    return tmp_path


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner(env=env).invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)


# --- the GitHub format: escaping and decoding as actions/toolkit and the runner do ---


def runner_decode(line: str) -> tuple[str, dict[str, str], str]:
    """Parse one workflow command as actions/runner (ActionCommand.TryParseV2) does."""
    assert line.startswith("::")
    end = line.index("::", 2)
    name, _, props = line[2:end].partition(" ")
    data = line[end + 2:]
    unescape = lambda s, keys: _unescape(s, keys)  # noqa: E731
    properties = {}
    for prop in filter(None, props.split(",")):
        key, _, value = prop.partition("=")
        properties[key] = unescape(value, ("%0D", "%0A", "%3A", "%2C", "%25"))
    return name, properties, unescape(data, ("%0D", "%0A", "%25"))


def _unescape(text: str, keys: tuple[str, ...]) -> str:
    plain = {"%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ",", "%25": "%"}
    for key in keys:  # "%25" last, as the runner does
        text = text.replace(key, plain[key])
    return text


def _result(path: str, text: str, diagnostics=(), errors=()) -> LintResult:
    return LintResult(tuple(diagnostics), tuple(errors), (), {path: SourceText(path, text, LineIndex(text))}, 1)


def test_github_message_with_percent_colon_comma_and_newline_round_trips():
    path = "supabase/migrations/2024_a,b:c.sql"
    text = "-- x\ncreate table public.t (id int);\n"
    message = "RLS disabled on public.t: 100% exposed, really\r\nsecond line"
    d = Diagnostic("RLS001", "table-without-rls", Severity.ERROR, message, Span(path, 5, 36),
                   Subject(Kind.TABLE, "public", "t"), "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;")
    out = renderer("github")(_result(path, text, [d]), ReportContext(ALL_RULES))
    assert out == (
        "::error file=supabase/migrations/2024_a%2Cb%3Ac.sql,line=2,col=1,endLine=2,endColumn=32,"
        "title=RLS001%3A table-without-rls::RLS disabled on public.t: 100%25 exposed, really%0D%0Asecond line"
        "%0AFix (in a new migration):%0AALTER TABLE public.t ENABLE ROW LEVEL SECURITY;\n"
    )
    name, properties, data = runner_decode(out.rstrip("\n"))
    assert name == "error"
    assert properties == {"file": path, "line": "2", "col": "1", "endLine": "2", "endColumn": "32",
                          "title": "RLS001: table-without-rls"}
    assert data == message + "\nFix (in a new migration):\nALTER TABLE public.t ENABLE ROW LEVEL SECURITY;"


def test_github_multi_line_span_has_no_columns_and_levels_follow_severity():
    path = "m/1_a.sql"
    text = "create table public.t (\n  id int\n);\n"
    spans = [(Severity.WARNING, Span(path, 0, 34)), (Severity.INFO, Span(path, 26, 32))]
    ds = [Diagnostic("X001", "x", sev, "m", span, Subject(Kind.TABLE, "public", "t"), "fix") for sev, span in spans]
    out = renderer("github")(_result(path, text, ds), ReportContext(ALL_RULES))
    assert out.splitlines() == [
        "::warning file=m/1_a.sql,line=1,endLine=3,title=X001%3A x::m%0AFix (in a new migration):%0Afix",
        "::notice file=m/1_a.sql,line=2,col=3,endLine=2,endColumn=9,title=X001%3A x::m%0AFix (in a new migration):%0Afix",
    ]


def test_github_annotates_file_errors_and_puts_the_most_severe_first(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text("create table public.t (id int primary key, o uuid references auth.users);\n")
    (migrations / "2_b.sql").write_text("select 1 from x where\n")
    result = run(["m", "--format", "github"], tmp_path)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    # Where PostgreSQL puts "end of input": after the last character, past the final newline.
    assert lines[0] == "::error file=m/2_b.sql,line=2,col=1,title=rlslint%3A syntax error::syntax error at end of input"
    assert [runner_decode(line)[1]["title"] for line in lines] == [
        "rlslint: syntax error", "RLS001: table-without-rls", "FK001: owner-fk-without-cascade", "IDX001: unindexed-foreign-key"]
    assert [runner_decode(line)[0] for line in lines] == ["error", "error", "error", "warning"]


def test_github_says_how_many_annotations_github_will_not_show():
    path = "m/1_a.sql"
    text = "x\n" * 30
    ds = [Diagnostic("X001", "x", Severity.WARNING, "m", Span(path, 2 * i, 2 * i + 1),
                     Subject(Kind.TABLE, "public", f"t{i}"), "f") for i in range(12)]
    out = renderer("github")(_result(path, text, ds), ReportContext(ALL_RULES)).splitlines()
    assert len(out) == 13
    assert out[-1] == ("::notice title=rlslint::GitHub shows 10 annotations of each level per step, so 2 of 12 are not "
                       "shown as annotations; the job log and the job summary list them all.")


def test_annotations_follow_the_text_on_github_actions_unless_a_format_is_chosen(project):
    plain = run(["--no-color"], project)
    on_actions = run(["--no-color"], project, env={"GITHUB_ACTIONS": "true"})
    github = run(["--format", "github"], project)
    assert on_actions.exit_code == plain.exit_code == 1
    assert on_actions.output == plain.output + github.output
    assert run(["--format", "text", "--no-color"], project, env={"GITHUB_ACTIONS": "true"}).output == plain.output


# --- SARIF ---


def _sarif(project: Path, *args: str) -> dict:
    result = run(["--format", "sarif", *args], project)
    assert result.exit_code == 1, result.output
    assert sarif_errors(result.output) == []
    return json.loads(result.output)


def test_sarif_is_valid_and_has_what_github_code_scanning_needs(project):
    document = _sarif(project)
    assert document["version"] == "2.1.0"
    run_ = document["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    # the rule table that ran, found or not (opt-in rules only when selected; the verify rules with --verify)
    assert [r["id"] for r in rules] == [r.code for r in KNOWN_RULES if r.default_enabled and r not in VERIFY_RULES]
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["helpUri"] == f"https://github.com/rlslint/rlslint/blob/main/rules/{rule['id']}-{rule['name']}.md"
        assert rule["helpUri"] in rule["help"]["markdown"]
    assert {r["id"]: r["defaultConfiguration"]["level"] for r in rules[:5]} == {
        "RLS001": "error", "RLS002": "error", "IDX001": "warning", "IDX002": "warning", "FK001": "error"}
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r for r in run_["results"]}
    rls = results[("RLS002", "supabase/migrations/20240102000000_todos.sql")]
    assert rules[rls["ruleIndex"]]["id"] == "RLS002"
    assert rls["level"] == "error"
    assert rls["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 1, "endLine": 6, "endColumn": 51}
    assert rls["message"]["text"].startswith("table public.todos has row level security enabled but no permissive policy")
    assert set(rls["partialFingerprints"]) == {"primaryLocationLineHash", "rlslint/v1"}
    assert results[("IDX001", "supabase/migrations/20240101000000_init.sql")]["level"] == "warning"
    assert run_["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def test_sarif_fingerprints_survive_a_line_insertion(project):
    before = _sarif(project)["runs"][0]["results"]
    init = project / "supabase" / "migrations" / "20240101000000_init.sql"
    init.write_text("-- a comment\n\n" + INIT)
    after = _sarif(project)["runs"][0]["results"]
    key = lambda r: (r["ruleId"], r["partialFingerprints"]["primaryLocationLineHash"])  # noqa: E731
    assert sorted(map(key, before)) == sorted(map(key, after))
    lines = lambda rs: sorted((r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in rs)  # noqa: E731
    assert lines(after) == [(c, n + 2 if n == 1 else n) for c, n in lines(before)]
    assert len({key(r) for r in before}) == len(before)


def test_sarif_levels_come_from_the_configured_rule_table(project):
    from dataclasses import replace

    rules = tuple(replace(r, default_severity=Severity.INFO) if r.code == "IDX001" else r for r in ALL_RULES)
    result = LintResult((), (), (), {}, 0)
    document = json.loads(renderer("sarif")(result, ReportContext(rules)))
    assert sarif_errors(json.dumps(document)) == []
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert levels["IDX001"] == "note"


def test_sarif_levels_follow_the_project_configuration(project):
    (project / "rlslint.toml").write_text('[rules.unindexed-foreign-key]\nseverity = "error"\n[rules.RLS001]\nseverity = "info"\n')
    document = _sarif(project)
    run_ = document["runs"][0]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run_["tool"]["driver"]["rules"]}
    assert (levels["IDX001"], levels["RLS001"], levels["FK001"]) == ("error", "note", "error")
    assert sorted((r["ruleId"], r["level"]) for r in run_["results"]) == [
        ("FK001", "error"), ("IDX001", "error"), ("RLS001", "note"), ("RLS002", "error")]


def test_sarif_tags_are_the_rules_declared_tags():
    document = json.loads(renderer("sarif")(LintResult((), (), (), {}, 0), ReportContext(KNOWN_RULES)))
    tags = {r["id"]: r["properties"]["tags"] for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert tags == {r.code: list(r.tags) for r in KNOWN_RULES}
    assert (tags["SEC001"], tags["PERF001"], tags["FK001"]) == (["security"], ["performance"], ["reliability"])


def test_sarif_levels_are_those_each_project_configured(tmp_path):
    """Two projects in one run, IDX001 an info in one and an error in the other: the rule
    table claims neither for both, and each project's invocation says what applies to it."""
    for name, severity in (("quiet", "info"), ("strict", "error")):
        migrations = tmp_path / name / "supabase" / "migrations"
        migrations.mkdir(parents=True)
        (migrations / "20240101000000_init.sql").write_text(INIT)
        (tmp_path / name / "rlslint.toml").write_text(f'[rules.IDX001]\nseverity = "{severity}"\n')
    result = run(["quiet", "strict", "--format", "sarif"], tmp_path)
    assert sarif_errors(result.output) == []
    run_ = json.loads(result.output)["runs"][0]
    defaults = {r["id"]: r["defaultConfiguration"]["level"] for r in run_["tool"]["driver"]["rules"]}
    assert defaults["IDX001"] == "warning"  # IDX001's own default: the projects disagree
    applies = {}
    for invocation in run_["invocations"]:
        overrides = {o["descriptor"]["id"]: o["configuration"]["level"]
                     for o in invocation.get("ruleConfigurationOverrides", ())}
        applies[invocation["properties"]["project"].split("/")[0]] = {**defaults, **overrides}
    assert (applies["quiet"]["IDX001"], applies["strict"]["IDX001"]) == ("note", "error")
    levels = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].split("/")[0], r["ruleId"]): r["level"]
              for r in run_["results"]}
    assert (levels[("quiet", "IDX001")], levels[("strict", "IDX001")]) == ("note", "error")
    assert all(level == applies[project][code] for (project, code), level in levels.items())


def test_sarif_reports_a_syntax_error_as_a_failed_execution(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "supabase").mkdir()  # a Supabase project: the API roles reach public.t
    (tmp_path / "m" / "1 a.sql").write_text("create table public.t (id int primary key);\nselect 1 from x where\n")
    result = run(["m", "--format", "sarif"], tmp_path)
    assert result.exit_code == 2
    assert sarif_errors(result.output) == []
    run_ = json.loads(result.output)["runs"][0]
    assert run_["invocations"] == [{"executionSuccessful": False, "toolExecutionNotifications": [
        {"level": "error", "message": {"text": "syntax error at end of input"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "m/1%20a.sql"},
                                             "region": {"startLine": 3, "startColumn": 1}}}]}]}]
    assert [r["ruleId"] for r in run_["results"]] == ["RLS001"]


# --- Markdown and the checklist matrix ---

MARKDOWN_HEAD = """## rlslint

❌ **4 findings** (3 errors, 1 warning) in 3 files.

### Checklist

#### `private`: 1 table, 0 failing

| Table | RLS on | SELECT | INSERT | UPDATE | DELETE | FKs indexed | Owner FKs cascade |
| --- | :-: | :-: | :-: | :-: | :-: | :-: | :-: |
| `private.jobs` | ➖ | ➖ | ➖ | ➖ | ➖ | ➖ | ➖ |

#### `public`: 2 tables, 2 failing

| Table | RLS on | SELECT | INSERT | UPDATE | DELETE | FKs indexed | Owner FKs cascade |
| --- | :-: | :-: | :-: | :-: | :-: | :-: | :-: |
| `public.legacy` | ❌ | ➖ | ➖ | ➖ | ➖ | ❌ | ❌ |
| `public.todos` | ✅ | ✅ | ❌ | ❌ | ❌ | ✅ | ✅ |

✅ passes · ❌ fails · ➖ does not apply (not exposed, RLS off, no such foreign key, or not checked) · ❔ unknown (changed by SQL rlslint could not analyse)

### Findings

- **error** [RLS001 table-without-rls](https://github.com/rlslint/rlslint/blob/main/rules/RLS001-table-without-rls.md) \
at `supabase/migrations/20240101000000_init.sql:1:1`: table `public.legacy` is exposed through the API (schema public) \
but it is created without row level security: anon and authenticated can SELECT, INSERT, UPDATE and DELETE every row

  Fix (in a new migration):

  ```sql
  -- with row level security on, public.legacy is deny-all for SELECT, INSERT, UPDATE, DELETE to the API's roles (anon, authenticated)
  -- until policies grant them: the app stops reading or writing it.
  ALTER TABLE public.legacy ENABLE ROW LEVEL SECURITY;
"""


def test_markdown_has_the_checklist_matrix_and_each_finding_with_its_fix(project):
    result = run(["--format", "markdown"], project)
    assert result.exit_code == 1
    assert result.output.startswith(MARKDOWN_HEAD)
    assert result.output.count("\n- **") == 4
    assert result.output.index("**warning** [IDX001") > result.output.index("**error** [RLS002")
    assert "foreign key legacy\\_owner\\_fkey on `public.legacy`" in result.output


def test_markdown_matrix_marks_follow_the_posture():
    P, F, N, U = Cell.PASS, Cell.FAIL, Cell.NOT_APPLICABLE, Cell.UNKNOWN
    tables = (
        TablePosture("public.a", "public", (P, P, F, P, F, N, N)),
        TablePosture('public."we|rd`"', "public", (P, N, N, N, N, P, F)),
        TablePosture("public.dynamic", "public", (U,) * 7),
    )
    result = LintResult((), (), (), {}, 2, tables)
    out = renderer("markdown")(result, ReportContext(ALL_RULES))
    assert "| `public.a` | ✅ | ✅ | ❌ | ✅ | ❌ | ➖ | ➖ |\n" in out
    assert '| ``public."we\\|rd`"`` | ✅ | ➖ | ➖ | ➖ | ➖ | ✅ | ❌ |\n' in out
    assert "| `public.dynamic` | ❔ | ❔ | ❔ | ❔ | ❔ | ❔ | ❔ |\n" in out
    assert out.startswith("## rlslint\n\n✅ No findings in 2 files.\n")


def test_markdown_lists_files_that_could_not_be_parsed():
    result = _result("m/1_a.sql", "select 1 from x where\n", errors=[SourceError("m/1_a.sql", "syntax error at <end>", 21, "syntax")])
    out = renderer("markdown")(result, ReportContext(ALL_RULES))
    assert out == ("## rlslint\n\n❌ No findings in 1 file; 1 file could not be parsed.\n\n"
                   "### Files rlslint could not read or parse\n\n- `m/1_a.sql:1:22`: syntax error at \\<end\\>\n")


def test_report_command_shows_the_matrix_in_the_terminal(project):
    result = run(["report", "--no-color"], project, env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert result.output == """\
                                  rlslint checklist (3 tables)                                  
┏━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Table         ┃ RLS on ┃ SELECT ┃ INSERT ┃ UPDATE ┃ DELETE ┃ FKs indexed ┃ Owner FKs cascade ┃
┡━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ private.jobs  │   –    │   –    │   –    │   –    │   –    │      –      │         –         │
├───────────────┼────────┼────────┼────────┼────────┼────────┼─────────────┼───────────────────┤
│ public.legacy │   ✗    │   –    │   –    │   –    │   –    │      ✗      │         ✗         │
│ public.todos  │   ✓    │   ✓    │   ✗    │   ✗    │   ✗    │      ✓      │         ✓         │
└───────────────┴────────┴────────┴────────┴────────┴────────┴─────────────┴───────────────────┘
"""


def test_given_files_the_matrix_shows_only_their_tables(project):
    result = run(["--format", "markdown", "supabase/migrations/20240102000000_todos.sql"], project)
    assert "| `public.todos` |" in result.output
    assert "public.legacy" not in result.output


# --- several reports from one run ---


def test_one_run_writes_text_to_the_terminal_and_sarif_and_markdown_to_files(project):
    result = run(["--no-color", "--report", "sarif:out/r.sarif", "--report", "markdown:out/r.md", "-o", "out/r.txt",
                  "--format", "json"], project)
    assert result.exit_code == 1
    assert result.output == ""
    for fmt, name in (("sarif", "r.sarif"), ("markdown", "r.md"), ("json", "r.txt")):
        assert (project / "out" / name).read_text(encoding="utf-8") == run(["--format", fmt], project).output
    assert sarif_errors((project / "out" / "r.sarif").read_text(encoding="utf-8")) == []
    assert sorted(p.name for p in (project / "out").iterdir()) == ["r.md", "r.sarif", "r.txt"]  # no temporary files left


@pytest.mark.parametrize("value", ["sarif", "xml:out.xml", "sarif:"])
def test_a_bad_report_option_is_a_usage_error(project, value):
    result = run(["--report", value], project)
    assert result.exit_code == 2
    assert "FORMAT:FILE" in result.output


def test_the_cli_offers_every_registered_format():
    assert FORMATS == tuple(REPORTERS)


def test_the_documented_cli_snippets_run(project):
    for name in ("cli-reports", "cli-report-matrix"):
        argv = shlex.split(snippet(name))
        assert argv[0] == "rlslint"
        result = run(argv[1:] + ["--no-color"] * (name == "cli-report-matrix"), project)
        assert result.exit_code == (1 if name == "cli-reports" else 0)
    assert sarif_errors((project / "rlslint.sarif").read_text(encoding="utf-8")) == []
    assert (project / "rlslint.md").read_text(encoding="utf-8").startswith(MARKDOWN_HEAD)
