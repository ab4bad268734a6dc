"""The escaping helpers' shortcuts change nothing: what the patterns alone would give, for any text.

Reports skip the pattern search for a line of printable ASCII, and write indented JSON
without json.dumps' generators; both must be exactly what the slower way writes.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings, strategies as st

from rlslint import escape
from rlslint.sql.names import UNPRINTABLE, UNPRINTABLE_BUT_LINE_FEED

# Every character, surrogates included (os.fsdecode leaves them in file names), and a mix
# that often holds what the shortcuts must not miss: controls, DEL, colons, "##[".
ANY = st.text(st.characters(blacklist_categories=()))
TRICKY = st.lists(st.sampled_from(["a", "Z", " ", ":", "::", "#", "##[", "\t", "\n", "\r", "\x00", "\x1b", "\x7f",
                                   "\x85", "\u202e", "\u2028", "\ufeff", "é", "\udc80"])).map("".join)


def _visible_by_pattern(text: str) -> str:
    return UNPRINTABLE.sub(escape._shown, text)


def _log_line_by_patterns(line: str) -> str:
    return re.sub(r"^(\s*):(?=:)", r"\1\\x3a", _visible_by_pattern(line)).replace("##[", "#\\x23[")


@settings(max_examples=400)
@given(text=st.one_of(ANY, TRICKY))
def test_visible_and_log_line_are_what_the_patterns_give(text):
    assert escape.visible(text) == _visible_by_pattern(text)
    assert escape.log_line(text) == _log_line_by_patterns(text)


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.one_of(ANY, TRICKY),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.one_of(ANY, TRICKY), inner, max_size=4),
    max_leaves=30,
)


def _json_by_dumps(document) -> str:
    text = json.dumps(document, indent=2, ensure_ascii=False)
    text = UNPRINTABLE_BUT_LINE_FEED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.replace("##[", "#\\u0023[")


@settings(max_examples=300)
@given(document=PLAIN)
def test_json_text_is_json_dumps_escaped(document):
    assert "".join(escape._indented_pieces(document)) == json.dumps(document, indent=2, ensure_ascii=False)
    assert escape.json_text(document) == _json_by_dumps(document)


def test_json_text_leaves_other_values_to_json_dumps():
    for document in ({"a": 1.5}, {"a": (1, 2)}, {1: "x"}, [float("nan")], {"a": {None: True}}):
        assert escape.json_text(document) == _json_by_dumps(document)


def test_ascii_json_with_del_is_still_escaped():
    assert escape.json_text({"name": "a\x7fb"}) == '{\n  "name": "a\\u007fb"\n}'


@settings(max_examples=200)
@given(document=PLAIN)
def test_json_in_pieces_is_json_text(document, monkeypatch):
    """Pieces handed out after every small string (not tens of kilobytes): joined, the same text,
    ``##[`` and control characters escaped even where two strings meet at a piece's end."""
    monkeypatch.setattr(escape, "_PIECE", 1)
    assert "".join(escape.json_pieces(document)) == _json_by_dumps(document)


def test_a_generator_is_written_as_the_array_of_what_it_yields(monkeypatch):
    monkeypatch.setattr(escape, "_PIECE", 1)
    made = []

    def rows(n):
        for i in range(n):
            made.append(i)
            yield {"row": i, "of": [i, "##["]}

    document = {"rows": rows(3), "none": rows(0), "deep": [[[[rows(2)]]]]}
    pieces, made_by_then = [], []
    for piece in escape.json_pieces(document):
        pieces.append(piece)
        made_by_then.append(len(made))
    assert made_by_then[0] == 1 and made_by_then[-1] == 5, "each row made as it is written"
    listed = {"rows": [{"row": i, "of": [i, "##["]} for i in range(3)], "none": [],
              "deep": [[[[[{"row": i, "of": [i, "##["]} for i in range(2)]]]]]}
    assert "".join(pieces) == _json_by_dumps(listed)


def test_json_with_other_values_in_pieces_keeps_their_indentation(monkeypatch):
    monkeypatch.setattr(escape, "_PIECE", 1)
    document = {"a": [{"b": (1, [2.5, {3: ()}]), "c": {"d": [float("inf"), {None: (True,)}]}}]}
    assert "".join(escape.json_pieces(document)) == json.dumps(document, indent=2, ensure_ascii=False)
