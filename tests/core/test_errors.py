"""core/errors.py: one line per message, whatever the exception held."""

from __future__ import annotations

from core.errors import one_line


def test_one_line():
    assert one_line(ValueError("bad\n  header\tin   member")) == "bad header in member"
    assert one_line(KeyError()) == "KeyError"  # an exception without a message: its type
    assert one_line("") == ""  # a text stays a text
    assert one_line("x" * 10, limit=5) == "xxxx…" and one_line("x" * 5, limit=5) == "xxxxx"
