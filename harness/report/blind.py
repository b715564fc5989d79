"""Blind reports: hide the candidate's identity in every format.

The submission name becomes a stable pseudonym from the content hash (``Candidate 1a2b3c4d``),
the source path and git authors are dropped, e-mail addresses anywhere in the result are masked,
and every occurrence of the name or an author's name in any text (excerpts, sentences, file
paths) is replaced. Other submissions named in similarity pairs get their own pseudonyms.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from harness.result import GradingResult

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
AUTHOR = re.compile(r"^\s*(?P<name>[^<]*?)\s*(?:<(?P<email>[^>]*)>)?\s*$")
MIN_NAME_CHARS = 3


def pseudonym(content_hash: str, name: str = "") -> str:
    """``Candidate <first 8 hex digits of the content hash>``.

    Without a content hash (a rejected submission), the digits come from a hash of the name, so
    the pseudonym stays stable without revealing the name.
    """
    digest = content_hash.split(":", 1)[-1].strip().lower()
    if not digest:
        digest = hashlib.sha256(("takehome-name:" + name).encode("utf-8")).hexdigest()
    return f"Candidate {digest[:8]}"


def _identities(result: GradingResult) -> dict[str, str]:
    """Strings to replace, mapped to what replaces them (longest first when applied)."""
    names: dict[str, str] = {}
    own = pseudonym(result.submission.content_hash, result.submission.name)

    def add(text: str, replacement: str) -> None:
        text = text.strip()
        if len(text) >= MIN_NAME_CHARS:
            names[text] = replacement
            for part in re.split(r"[\s._\-]+", text):
                # the parts of a person's name ("Ada", "Lovelace") are identifying too
                if len(part) >= 4 and part.isalpha() and part.lower() not in _COMMON_WORDS:
                    names.setdefault(part, replacement)

    add(result.submission.name, own)
    if result.git:
        for author in result.git.authors:
            match = AUTHOR.match(author)
            if match and match.group("name"):
                add(match.group("name"), "[author hidden]")
    for pair in result.similarity:
        add(pair.other, pseudonym(pair.other_content_hash) if pair.other_content_hash
            else "another submission")
    return names


_COMMON_WORDS = {
    "submission", "solution", "final", "project", "notebook", "model", "data", "test",
    "tests", "main", "master", "repo", "take", "home", "takehome", "candidate", "analysis",
}


# values of these keys are identifiers, hashes or enums: never rewritten
_ID_KEYS = {
    "id", "grader", "graders", "criterion", "trigger", "severity", "status", "verdict", "stage",
    "rubric", "rubric_hash", "content_hash", "other_content_hash", "image_digest", "schema_version",
    "version", "harness_version", "mode", "kind", "total_basis",
}


def _scrub(value: Any, pattern: re.Pattern[str] | None, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        value = EMAIL.sub("[email hidden]", value)
        if pattern is not None:
            value = pattern.sub(lambda m: names[m.group(0).lower()], value)
        return value
    if isinstance(value, list):
        return [_scrub(v, pattern, names) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _ID_KEYS and not isinstance(v, (dict, list)) else
                _scrub(v, pattern, names) for k, v in value.items()}
    return value


def blind_result(result: GradingResult) -> GradingResult:
    """A copy of ``result`` with the candidate's (and other candidates') identities hidden."""
    if result.blind:
        return result
    names = _identities(result)
    lowered = {k.lower(): v for k, v in names.items()}
    pattern = None
    if lowered:
        alternatives = sorted(lowered, key=len, reverse=True)
        # whole words only: "Ada" must not rewrite "adapter"
        pattern = re.compile(
            r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(a) for a in alternatives)
            + r")(?![A-Za-z0-9])", re.IGNORECASE)
    data = result.model_dump(mode="json")
    own = pseudonym(result.submission.content_hash, result.submission.name)
    # fields replaced wholesale (before scrubbing the rest)
    data["submission"]["name"] = own
    data["submission"]["source"] = "(hidden)"
    if data.get("git"):
        data["git"]["authors"] = []
    for pair in data.get("similarity", []):
        pair["other"] = (pseudonym(pair["other_content_hash"]) if pair.get("other_content_hash")
                         else "another submission")
    protected = {
        "submission": data.pop("submission"),
        "similarity_names": [p.pop("other") for p in data.get("similarity", [])],
    }
    scrubbed = _scrub(data, pattern, {k.lower(): v for k, v in lowered.items()})
    scrubbed["submission"] = {
        **_scrub({k: v for k, v in protected["submission"].items()
                  if k not in ("name", "content_hash")}, pattern, lowered),
        "name": protected["submission"]["name"],
        "content_hash": protected["submission"]["content_hash"],
    }
    for pair, other in zip(scrubbed.get("similarity", []), protected["similarity_names"]):
        pair["other"] = other
    scrubbed["blind"] = True
    return GradingResult.model_validate(scrubbed)
