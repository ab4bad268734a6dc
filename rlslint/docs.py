"""A rule's documentation, rendered from its declaration (used by `rlslint rule` and `rules/`)."""

from __future__ import annotations

import json

from rlslint.rules.base import Rule


def rule_markdown(rule: Rule) -> str:
    sections = rule.sections()
    parts = [f"# {rule.code} {rule.name}", "", rule.summary, "",
             f"Default severity: **{rule.default_severity.label}**. Since {rule.since}.", ""]
    for heading in ("What it flags", "Why it matters"):
        parts += [f"## {heading}", "", sections.get(heading, ""), ""]
    parts += ["## Example", "", "Each of these migrations is reported:", ""]
    for sql in rule.bad:
        parts += ["```sql", sql, "```", ""]
    parts += ["## Use instead", "", "None of these is reported:", ""]
    for sql in rule.good:
        parts += ["```sql", sql, "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def rule_json(rule: Rule) -> str:
    sections = rule.sections()
    return json.dumps(
        {"code": rule.code, "name": rule.name, "summary": rule.summary, "severity": rule.default_severity.label,
         "since": rule.since, "what_it_flags": sections.get("What it flags", ""),
         "why_it_matters": sections.get("Why it matters", ""), "bad": list(rule.bad), "good": list(rule.good)},
        indent=2,
    )
