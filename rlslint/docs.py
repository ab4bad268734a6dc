"""A rule's documentation, rendered from its declaration (used by `rlslint rule` and `rules/`).

``python -m rlslint.docs --write rules/`` regenerates the browsable pages; ``--check``
exits 1 when they are stale (the tests run the same comparison).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rlslint.rules.base import Rule, RuleOption

REPOSITORY_URL = "https://github.com/rlslint/rlslint"
# The generated rule pages (rules/<code>-<name>.md) on the default branch; linked from SARIF and Markdown.
DOCS_URL = f"{REPOSITORY_URL}/blob/main/rules"


def rule_url(rule: Rule) -> str:
    return f"{DOCS_URL}/{rule.code}-{rule.name}.md"


def _selection_note(rule: Rule) -> str:
    if rule.default_enabled:
        return "On by default."
    return f'Off by default: turn it on with `extend-select = ["{rule.code}"]` or `--extend-select {rule.code}`.'


def rule_markdown(rule: Rule) -> str:
    sections = rule.sections()
    parts = [f"# {rule.code} {rule.name}", "", rule.summary, "",
             f"Default severity: **{rule.default_severity.label}**. Since {rule.since}. " + _selection_note(rule), ""]
    for heading in ("What it flags", "Why it matters"):
        parts += [f"## {heading}", "", sections.get(heading, ""), ""]
    parts += ["## Example", "", "Each of these migrations is reported:", ""]
    for sql in rule.bad:
        parts += ["```sql", sql, "```", ""]
    parts += ["## Use instead", "", "None of these is reported:", ""]
    for sql in rule.good:
        parts += ["```sql", sql, "```", ""]
    if rule.options:
        parts += ["## Options", "", f"Set under `[tool.rlslint.rules.{rule.code}]`:", ""]
        parts += [f"- `{o.name}` ({o.type}, default `{_toml(o.default)}`): {o.doc}{_choices(o)}" for o in rule.options]
        parts += [""]
    return "\n".join(parts).rstrip() + "\n"


def _toml(value: object) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def _choices(option: RuleOption) -> str:
    return f" One of {', '.join(f'`{c}`' for c in option.choices)}." if option.choices else ""


def rule_json(rule: Rule) -> str:
    sections = rule.sections()
    return json.dumps(
        {"code": rule.code, "name": rule.name, "summary": rule.summary, "severity": rule.default_severity.label,
         "default_enabled": rule.default_enabled,
         "since": rule.since, "what_it_flags": sections.get("What it flags", ""),
         "why_it_matters": sections.get("Why it matters", ""), "bad": list(rule.bad), "good": list(rule.good),
         "options": [{"name": o.name, "type": o.type, "default": o.default, "doc": o.doc, "choices": list(o.choices)}
                     for o in rule.options]},
        indent=2,
    )


# --- the generated rules/ folder --------------------------------------------------------


def page_name(rule: Rule) -> str:
    return f"{rule.code}-{rule.name}.md"


def rules_index(rules: tuple[Rule, ...]) -> str:
    lines = ["# rlslint rules", "",
             "Generated from the rule declarations by `python -m rlslint.docs --write rules/`; do not edit.", "",
             "| code | name | default severity | on by default | summary |", "|---|---|---|---|---|"]
    lines += [f"| {r.code} | [{r.name}]({page_name(r)}) | {r.default_severity.label} | "
              f"{'yes' if r.default_enabled else 'no (opt-in)'} | {r.summary} |" for r in rules]
    return "\n".join(lines) + "\n"


def generated_pages(rules: tuple[Rule, ...]) -> dict[str, str]:
    """File name -> content of every page of the rules/ folder."""
    return {"README.md": rules_index(rules), **{page_name(r): rule_markdown(r) for r in rules}}


def stale_pages(directory: Path, rules: tuple[Rule, ...]) -> list[str]:
    """Pages that are missing, differ from a fresh render, or belong to no rule."""
    expected = generated_pages(rules)
    present = {p.name for p in directory.glob("*.md")} if directory.is_dir() else set()
    differing = [n for n, text in expected.items()
                 if n not in present or (directory / n).read_text(encoding="utf-8") != text]
    return sorted(differing + [n for n in present if n not in expected])


def write_pages(directory: Path, rules: tuple[Rule, ...]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = generated_pages(rules)
    for stale in directory.glob("*.md"):
        if stale.name not in expected:
            stale.unlink()
    for name, text in expected.items():
        (directory / name).write_text(text, encoding="utf-8", newline="\n")


# --- the README's rule tables -----------------------------------------------------------

_README_TABLES = {  # marker label -> (which rules, table head)
    "checklist": (lambda r: r.checklist, "| code | name | default | fires when (on the model after all migrations) | points at |"),
    "advisor": (lambda r: not r.checklist, "| code | name | default | fires when | points at |"),
}
_README_END = "<!-- end of generated table -->\n"


def _readme_start(label: str) -> str:
    return f"<!-- {label} rules: generated from the rule declarations by `make docs` -->\n"


def readme_table(rules: tuple[Rule, ...], label: str) -> str:
    wanted, head = _README_TABLES[label]
    chosen = [r for r in rules if wanted(r)]
    chosen.sort(key=lambda r: not r.default_enabled)  # on by default first, registry order within
    lines = [head, "|---|---|---|---|---|"]
    lines += [f"| {r.code} | `{r.name}` | {r.default_severity.label}{'' if r.default_enabled else ', opt-in'} | "
              f"{r.fires_when} | {r.points_at} |" for r in chosen]
    return "\n".join(lines) + "\n"


def readme_with_tables(text: str, rules: tuple[Rule, ...]) -> str:
    """The README with each generated rule table rendered afresh between its markers."""
    for label in _README_TABLES:
        start = text.index(_readme_start(label)) + len(_readme_start(label))
        end = text.index(_README_END, start)
        text = text[:start] + readme_table(rules, label) + text[end:]
    return text


def main(argv: list[str]) -> int:
    from rlslint.rules import KNOWN_RULES

    if len(argv) != 2 or argv[0] not in ("--write", "--check", "--readme"):
        print("usage: python -m rlslint.docs --write|--check DIRECTORY, or --readme README.md", file=sys.stderr)
        return 2
    if argv[0] == "--readme":
        from rlslint.rules import ALL_RULES

        readme = Path(argv[1])
        readme.write_text(readme_with_tables(readme.read_text(encoding="utf-8"), ALL_RULES), encoding="utf-8", newline="\n")
        return 0
    directory = Path(argv[1])
    if argv[0] == "--write":
        write_pages(directory, KNOWN_RULES)
        return 0
    stale = stale_pages(directory, KNOWN_RULES)
    for name in stale:
        print(f"{directory / name}: stale; run `python -m rlslint.docs --write {directory}`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
