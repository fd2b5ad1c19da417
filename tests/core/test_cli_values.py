"""core/cli/values.py: the one set of value parsers behind capture, refine, batch lists and the speed options."""

from __future__ import annotations

import argparse

import pytest

from core.cli import values as cv


@pytest.mark.parametrize("parse, text, value", [
    (cv.frame_range, "10:20", (10, 20)), (cv.frame_range, ":20", (0, 20)), (cv.frame_range, "5:", (5, None)),
    (cv.positive, "2.5", 2.5), (cv.non_negative, "0", 0.0), (cv.count, "0", 0), (cv.at_least_one, "3", 3),
    (cv.odd, "5", 5),
])
def test_good_values(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text, words", [
    (cv.frame_range, "10", "START:END"), (cv.frame_range, "20:10", "0 <= START <= END"),
    (cv.positive, "0", "positive"), (cv.positive, "inf", "positive"), (cv.positive, "x", "positive"),
    (cv.non_negative, "-1", ">= 0"), (cv.count, "-1", ">= 0"), (cv.count, "1.5", ">= 0"),
    (cv.at_least_one, "0", ">= 1"), (cv.odd, "4", "odd"),
])
def test_bad_values_say_what_was_expected(parse, text, words):
    with pytest.raises(cv.BadValue, match=words) as err:
        parse(text)
    assert isinstance(err.value, ValueError) and isinstance(err.value, argparse.ArgumentTypeError)
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--x", type=parse)
    with pytest.raises(argparse.ArgumentError, match=words):  # argparse shows our message, not a generic one
        parser.parse_args(["--x", text])
