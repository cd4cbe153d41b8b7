"""The batch endpoint parses a chunk of lines as one JSON array: it must never misalign lines."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac.runtime.serve import _parse_joined, _split_lines


def per_line(lines):
    """Return each line's own parse, or ``None`` if any line is not exactly one JSON value."""
    try:
        return [json.loads(line) for line in lines]
    except ValueError:
        return None


def test_good_lines_parse_at_once():
    lines = ['{"p": {"r": 1}}', " [1, 2] ", "3", '"x"', "null", "true"]
    assert _parse_joined(lines) == per_line(lines)


def test_lines_that_split_or_merge_values_are_not_taken():
    # Each of these parses as a joined array with the right number of items, yet line 2 is
    # not a JSON value: a line holding two values makes up for two lines holding one.
    forged = [
        ['{"v":1},{"v":2}', '{"c":[{}', '{}]}'],
        ['{"v":1}],[{"v":2}', '{"a":[[3', '4]]}'],
        ['{"v":1},null,{"v":2}', '{"a":[[3', '4]]}'],
        ['1,2', '"x', 'y"'],
        ['{"v":1}', ""],
        ["", "1"],
    ]
    for lines in forged:
        assert per_line(lines) is None
        assert _parse_joined(lines) is None, lines


FRAGMENTS = st.sampled_from(['{', '}', '[', ']', ',', ':', '"a"', '"', '1', '-2', 'null',
                             'true', ' ', '{"v":1}', '[1,2]', '],[', '},{', ',null,'])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(FRAGMENTS, max_size=6).map("".join), min_size=1, max_size=6))
def test_the_joined_parse_is_each_lines_parse_or_nothing(lines):
    joined = _parse_joined(lines)
    if joined is not None:
        assert joined == per_line(lines)


def test_split_lines():
    assert _split_lines(b"") == []
    assert _split_lines(b"\n") == [""]
    assert _split_lines(b"a\nb") == ["a", "b"]
    assert _split_lines(b"a\nb\n") == ["a", "b"]
    assert _split_lines(b"a\n\nb\n\n") == ["a", "", "b", ""]
    assert _split_lines(b"a\n\xff\nb") == ["a", "\ufffd", "b"]
