"""PEP 508 environment markers (``python_version < "3.13" and sys_platform == "linux"``), evaluated with the
standard library (``packaging`` may not be installed yet)."""

from __future__ import annotations

import platform
import re
from typing import Optional


def marker_environment(python: tuple[int, int], system: Optional[str] = None,
                       machine: Optional[str] = None) -> dict[str, str]:
    """The PEP 508 marker variables for ``python`` on this (or the given) system."""
    system = system or platform.system()
    return {
        "python_version": f"{python[0]}.{python[1]}",
        "python_full_version": f"{python[0]}.{python[1]}.0",
        "platform_system": system,
        "sys_platform": {"Windows": "win32", "Darwin": "darwin"}.get(system, system.lower()),
        "os_name": "nt" if system == "Windows" else "posix",
        "platform_machine": machine or platform.machine(),
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


_MARKER_TOKEN = re.compile(r"\s*(\(|\)|==|!=|<=|>=|<|>|\band\b|\bor\b|\bnot in\b|\bin\b|\"[^\"]*\"|'[^']*'|[A-Za-z_]+)")


def evaluate_marker(marker: str, environment: dict[str, str]) -> bool:
    """Evaluate a PEP 508 environment marker (``python_version < "3.13" and sys_platform == "linux"``).

    Supports the comparison operators, ``in``/``not in``, ``and``/``or`` and parentheses; versions compare
    numerically. Empty marker: True. Raises ValueError for anything else (a broken requirement file).
    """
    tokens, pos, text = [], 0, marker.strip()
    while pos < len(text):
        match = _MARKER_TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot read the marker {marker!r} at {text[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    if not tokens:
        return True

    def value(tok: str) -> str:
        if tok[0] in "\"'":
            return tok[1:-1]
        if tok not in environment:
            raise ValueError(f"unknown marker variable {tok!r} in {marker!r}")
        return environment[tok]

    def compare(left: str, op: str, right: str, versions: bool) -> bool:
        if op in ("in", "not in"):
            return (left in right) == (op == "in")
        if versions and all(re.fullmatch(r"\d+(\.\d+)*", v) for v in (left, right)):
            a, b = [tuple(int(x) for x in v.split(".")) for v in (left, right)]
            width = max(len(a), len(b))
            a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
        else:
            a, b = left, right
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def atom(i: int) -> tuple[bool, int]:
        if tokens[i] == "(":
            result, i = disjunction(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise ValueError(f"unbalanced parentheses in {marker!r}")
            return result, i + 1
        if i + 2 >= len(tokens):
            raise ValueError(f"incomplete marker {marker!r}")
        left, op, right = tokens[i], tokens[i + 1], tokens[i + 2]
        if op not in ("==", "!=", "<", "<=", ">", ">=", "in", "not in"):
            raise ValueError(f"unknown operator {op!r} in {marker!r}")
        versions = "version" in left or "version" in right
        return compare(value(left), op, value(right), versions), i + 3

    def conjunction(i: int) -> tuple[bool, int]:
        result, i = atom(i)
        while i < len(tokens) and tokens[i] == "and":
            other, i = atom(i + 1)
            result = result and other
        return result, i

    def disjunction(i: int) -> tuple[bool, int]:
        result, i = conjunction(i)
        while i < len(tokens) and tokens[i] == "or":
            other, i = conjunction(i + 1)
            result = result or other
        return result, i

    try:
        result, end = disjunction(0)
    except IndexError:
        raise ValueError(f"incomplete marker {marker!r}") from None
    if end != len(tokens):
        raise ValueError(f"cannot read the marker {marker!r}")
    return result
