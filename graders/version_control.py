"""Version control grader: how the candidate used git, judged from the submitted history.

Applies only when the submission came with git history (intake puts it in
``snapshot_meta["git_commits"]`` as a list of ``{sha, author_name, author_email, date,
message}``). Reports are sometimes blind, so nothing here ever names an author: sentences and
evidence carry counts, dates, short hashes and messages only (e-mail addresses inside messages are
masked too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag, clip

MAX_COMMITS = 10_000  # history beyond this is ignored (it is candidate-controlled input)
MIN_COMMITS = 3  # fewer commits than this is not an incremental history
MIN_GOOD_MESSAGE_SHARE = 0.5
MIN_MESSAGE_WORDS = 4  # "> 3 words"
MAX_EVIDENCE = 10

TRIVIAL_MESSAGES = frozenset(
    {
        "",
        ".",
        "..",
        "...",
        "-",
        "add",
        "added",
        "changes",
        "commit",
        "done",
        "final",
        "fix",
        "fixed",
        "fixes",
        "initial",
        "initial commit",
        "first commit",
        "misc",
        "minor",
        "more",
        "stuff",
        "test",
        "tmp",
        "update",
        "updated",
        "updates",
        "wip",
        "work",
    }
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NON_WORD = re.compile(r"[^\w\s]+")
_MERGE_FROM = re.compile(r"(pull request #\d+ from )[\w.\-]+/", re.IGNORECASE)
_HOST_USER = re.compile(r"((?:github|gitlab|bitbucket)\.(?:com|org)[:/])[\w.\-]+/", re.IGNORECASE)


@dataclass(frozen=True)
class Commit:
    """One commit as read from intake metadata, with identities already dropped."""

    sha: str
    date: datetime | None
    date_text: str
    message: str

    @property
    def subject(self) -> str:
        """First line of the message, e-mail addresses masked."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return mask_identities(first.strip())


def mask_identities(text: str) -> str:
    """Mask identities in a commit subject: e-mail addresses and account names of merges.

    ``jane@x.org`` -> ``<email>``; ``Merge pull request #3 from jane/eda`` ->
    ``... from <user>/eda``; ``github.com:jane/repo`` -> ``github.com:<user>/repo``.
    """
    text = _EMAIL.sub("<email>", text)
    text = _MERGE_FROM.sub(r"\1<user>/", text)
    return _HOST_USER.sub(r"\1<user>/", text)


def parse_date(value: Any) -> datetime | None:
    """Parse an ISO 8601 date into an aware UTC datetime, or None when malformed."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_commits(raw: list[Any]) -> list[Commit]:
    """Turn intake's commit dicts into :class:`Commit` objects, oldest first (ties by sha)."""
    commits: list[Commit] = []
    for item in raw[:MAX_COMMITS]:
        if not isinstance(item, dict):
            continue
        sha = item.get("sha")
        message = item.get("message")
        date_text = item.get("date")
        commits.append(
            Commit(
                sha=sha[:40] if isinstance(sha, str) else "",
                date=parse_date(date_text),
                date_text=date_text[:64] if isinstance(date_text, str) else "",
                message=message[:10_000] if isinstance(message, str) else "",
            )
        )
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(commits, key=lambda c: (c.date or far_future, c.sha, c.message))


def is_informative(subject: str) -> bool:
    """True when a commit subject says something: not a stock word and more than 3 words."""
    normalised = " ".join(_NON_WORD.sub(" ", subject.lower()).split())
    if normalised in TRIVIAL_MESSAGES or subject.strip() in TRIVIAL_MESSAGES:
        return False
    return len(normalised.split()) >= MIN_MESSAGE_WORDS


def commit_evidence(commit: Commit, note: str | None = None) -> Evidence:
    """Evidence naming a commit by short hash, date and subject (never its author)."""
    return Evidence(
        excerpt=clip(f"{commit.sha[:10]} {commit.date_text} {commit.subject}".strip(), 200),
        note=note,
    )


def _span_hours(commits: list[Commit]) -> float | None:
    dates = [c.date for c in commits if c.date is not None]
    if not dates:
        return None
    return round((max(dates) - min(dates)).total_seconds() / 3600, 2)


def _describe_span(hours: float | None) -> str:
    if hours is None:
        return "with no readable dates"
    if hours < 1:
        return f"within {round(hours * 60)} minutes"
    if hours < 48:
        return f"over {hours:g} hours"
    return f"over {hours / 24:.1f} days"


def commit_count_check(commits: list[Commit]) -> Check:
    """Passes when the history has at least MIN_COMMITS commits."""
    count = len(commits)
    span = _span_hours(commits)
    dated = [c for c in commits if c.date is not None]
    when = ""
    if dated:
        when = f" (from {dated[0].date_text} to {dated[-1].date_text})"
    noun = "commit" if count == 1 else "commits"
    verdict = "an incremental history" if count >= MIN_COMMITS else "not an incremental history"
    return Check(
        id="version_control.commit_count",
        passed=count >= MIN_COMMITS,
        sentence=(
            f"The submitted history has {count} {noun} {_describe_span(span)}{when}: "
            f"{verdict} (at least {MIN_COMMITS} commits expected)."
        ),
        evidence=[Evidence(metric={"commits": count, "span_hours": span})]
        + [commit_evidence(commits[0], note="first commit")]
        + ([commit_evidence(commits[-1], note="last commit")] if count > 1 else []),
    )


def message_quality_check(commits: list[Commit]) -> Check:
    """Passes when at least half of the commit subjects are informative."""
    trivial = [c for c in commits if not is_informative(c.subject)]
    good = len(commits) - len(trivial)
    share = good / len(commits)
    evidence = [commit_evidence(c, note="uninformative message") for c in trivial[:MAX_EVIDENCE]]
    more = len(trivial) - MAX_EVIDENCE
    if more > 0:
        evidence.append(Evidence(note=f"{more} more uninformative messages not listed"))
    return Check(
        id="version_control.message_quality",
        passed=share >= MIN_GOOD_MESSAGE_SHARE,
        sentence=(
            f"{good} of {len(commits)} commit messages ({share:.0%}) describe the change in more "
            f'than 3 words and are not stock words like "update", "wip" or "fix" '
            f"(at least {MIN_GOOD_MESSAGE_SHARE:.0%} expected)."
        ),
        evidence=[Evidence(metric={"informative_share": round(share, 4)})] + evidence,
    )


class VersionControlGrader:
    """Judges the submitted git history: size, spread and commit messages."""

    name = "version_control"
    version = "1"
    reads_artifacts = False  # the snapshot's git history only: graded while the sandbox runs

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the git history in ``context.snapshot_meta["git_commits"]``."""
        raw = context.snapshot_meta.get("git_commits") if context.snapshot_meta else None
        if not isinstance(raw, list):
            return GraderResult.not_applicable_result(
                self.name, self.version, "No git history submitted."
            )
        commits = parse_commits(raw)
        if not commits:
            return GraderResult.not_applicable_result(
                self.name, self.version, "The submitted git history has no commits."
            )
        checks = [commit_count_check(commits), message_quality_check(commits)]
        red_flags: list[RedFlag] = []
        if len(commits) == 1:
            red_flags.append(
                RedFlag(
                    id="version_control.single_commit",
                    severity="low",
                    sentence=(
                        "The whole submission is one commit, so the history shows nothing of "
                        "how the work progressed."
                    ),
                    evidence=[commit_evidence(commits[0])],
                )
            )
        span = _span_hours(commits)
        dated = [c for c in commits if c.date is not None]
        details = {
            "commit_count": len(commits),
            "span_hours": span,
            "first_date": dated[0].date_text if dated else None,
            "last_date": dated[-1].date_text if dated else None,
            "informative_messages": sum(1 for c in commits if is_informative(c.subject)),
            "distinct_authors": len(
                {
                    str(item.get("author_email") or item.get("author_name") or "")
                    for item in raw[:MAX_COMMITS]
                    if isinstance(item, dict)
                }
            ),
        }
        reason = f"{len(commits)} commits {_describe_span(span)}."
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )
