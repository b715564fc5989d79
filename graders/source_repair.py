"""Code that does not parse here, read as far as it can be (imbalance and modeling graders).

Two general causes make a submission's file unreadable to this Python while its author ran it:
Python 3.12 f-strings that reuse the string's own quote inside a replacement field
(``f'{name.replace(' ', '_')}.png'``, PEP 701), and a few non-Python lines (a pasted shell
command, a stray magic). The first is rewritten with the other quote inside the braces, which
means the same; what still fails goes through :func:`graders.source.salvage_tree`, which keeps
the lines that parse. Nothing is executed.
"""

from __future__ import annotations

import ast
import dataclasses
import functools

from graders.source import MAX_SALVAGE_CHARS, SubmissionSource, parse_python, salvage_tree

PREFIXES = frozenset("fFrRbBuU")


def requote_fstrings(code: str) -> str:
    """``code`` with quotes inside single-quoted f-strings' replacement fields swapped for the
    other quote (a no-op on code that already parses: before 3.12 such quotes end the string).

    A small scanner: ordinary strings, triple-quoted strings and comments are skipped whole.
    """
    out: list[str] = []
    i, n = 0, len(code)
    while i < n:
        char = code[i]
        if char == "#":
            end = code.find("\n", i)
            end = n if end < 0 else end
            out.append(code[i:end])
            i = end
            continue
        if char not in "'\"":
            out.append(char)
            i += 1
            continue
        k = i
        while k > 0 and i - k < 2 and code[k - 1] in PREFIXES:
            k -= 1
        part_of_name = k > 0 and (code[k - 1].isalnum() or code[k - 1] == "_")
        prefix = "" if part_of_name else code[k:i].lower()
        if code.startswith(char * 3, i):  # triple-quoted: copied as is
            end = code.find(char * 3, i + 3)
            end = n if end < 0 else end + 3
            out.append(code[i:end])
            i = end
            continue
        if "f" not in prefix:
            j = i + 1
            while j < n and code[j] not in (char, "\n"):
                j += 2 if code[j] == "\\" else 1
            out.append(code[i : j + 1])
            i = j + 1
            continue
        other = "'" if char == '"' else '"'
        out.append(char)
        depth, j = 0, i + 1
        while j < n and code[j] != "\n":
            c = code[j]
            if c == "\\" and depth == 0:
                out.append(code[j : j + 2])
                j += 2
                continue
            if c == "{":
                if depth == 0 and code.startswith("{{", j):
                    out.append("{{")
                    j += 2
                    continue
                depth += 1
            elif c == "}" and depth > 0:
                depth -= 1
            elif c == char:
                if depth == 0:
                    break
                c = other
            out.append(c)
            j += 1
        if j < n and code[j] == char:
            out.append(char)
            j += 1
        i = j
    return "".join(out)


def repaired_tree(code: str) -> ast.Module | None:
    """A tree for code that does not parse: requoted f-strings first, then salvaged lines."""
    if len(code) > MAX_SALVAGE_CHARS:
        return None
    requoted = requote_fstrings(code)
    if requoted != code:
        try:
            return parse_python(requoted)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return salvage_tree(requoted)
    return salvage_tree(code)


@functools.lru_cache(maxsize=32)
def repaired_source(source: SubmissionSource) -> SubmissionSource:
    """``source`` itself when every unit parsed, else a copy whose unparsed units carry the
    repaired trees (cached, so graders share one copy and its derived indexes)."""
    if all(unit.tree is not None for unit in source.code_units):
        return source
    units = []
    for unit in source.code_units:
        tree = repaired_tree(unit.code) if unit.tree is None else None
        units.append(dataclasses.replace(unit, tree=tree) if tree is not None else unit)
    return dataclasses.replace(source, code_units=tuple(units))
