"""The version_control grader: commit count, message quality, single commit, blind-safe text."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, make_context

from graders.base import GraderContext, GraderResult
from graders.registry import is_harness_fault, run_grader
from graders.version_control import VersionControlGrader, is_informative, parse_commits


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(VersionControlGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def commit(sha: str, date: str, message: str, who: str = "Jane Doe") -> dict[str, str]:
    """One commit dict as intake writes it."""
    return {
        "sha": sha * 40 if len(sha) == 1 else sha,
        "author_name": who,
        "author_email": "jane.doe@example.com",
        "date": date,
        "message": message,
    }


def context_with(tmp_path: Path, commits: object) -> GraderContext:
    """A context whose intake metadata holds ``commits`` as the git history."""
    root = tmp_path / "snap"
    root.mkdir()
    context = make_context(root)
    meta = dict(context.snapshot_meta)
    if commits is not ...:
        meta["git_commits"] = commits
    return GraderContext(
        snapshot_root=root, snapshot_meta=meta, assignment=context.assignment, artifacts=None
    )


def test_no_history_is_not_applicable(tmp_path: Path) -> None:
    result = grade(context_with(tmp_path, ...))
    assert result.not_applicable
    assert result.score is None
    assert result.reason == "No git history submitted."


def test_empty_history_is_not_applicable(tmp_path: Path) -> None:
    result = grade(context_with(tmp_path, []))
    assert result.not_applicable
    assert "no commits" in (result.reason or "")


def test_incremental_history_with_good_messages_passes(tmp_path: Path) -> None:
    commits = [
        commit("c", "2024-03-02T12:00:00+00:00", "Add gradient boosting baseline with CV"),
        commit("a", "2024-03-01T09:00:00+00:00", "Load data and explore class balance"),
        commit("b", "2024-03-01T15:30:00+01:00", "Impute missing amounts with the median"),
        commit("d", "2024-03-02T13:00:00+00:00", "wip"),
    ]
    result = grade(context_with(tmp_path, commits))
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if c.passed] == [
        "version_control.commit_count",
        "version_control.message_quality",
    ]
    assert result.score == 1.0
    assert result.red_flags == []
    count = checks["version_control.commit_count"]
    assert "4 commits over 28 hours" in count.sentence
    assert count.evidence[1].excerpt.startswith("aaaaaaaaaa 2024-03-01T09:00:00+00:00 Load data")
    assert count.evidence[2].note == "last commit"
    quality = checks["version_control.message_quality"]
    assert quality.evidence[0].metric == {"informative_share": 0.75}
    assert [e.excerpt for e in quality.evidence[1:]] == ["dddddddddd 2024-03-02T13:00:00+00:00 wip"]
    assert result.details["commit_count"] == 4
    assert result.details["distinct_authors"] == 1


def test_single_commit_raises_low_red_flag(tmp_path: Path) -> None:
    commits = [commit("e", "2024-03-01T09:00:00Z", "Initial commit")]
    result = grade(context_with(tmp_path, commits))
    assert [c.id for c in result.checks if not c.passed] == [
        "version_control.commit_count",
        "version_control.message_quality",
    ]
    assert result.score == 0.0
    [flag] = result.red_flags
    assert flag.id == "version_control.single_commit"
    assert flag.severity == "low"
    assert flag.evidence[0].excerpt == "eeeeeeeeee 2024-03-01T09:00:00Z Initial commit"


def test_author_identity_never_appears(tmp_path: Path) -> None:
    commits = [
        commit("f", "2024-03-01T09:00:00Z", "Fix bug reported by jane.doe@example.com today"),
        commit("0", "2024-03-01T10:00:00Z", "update"),
    ]
    result = grade(context_with(tmp_path, commits))
    text = result.model_dump_json()
    assert "jane.doe@example.com" not in text
    assert "Jane Doe" not in text
    assert "<email>" in text


def test_malformed_entries_are_ignored(tmp_path: Path) -> None:
    commits = ["junk", {"sha": 5, "date": "not a date", "message": None}]
    result = grade(context_with(tmp_path, commits))
    assert result.details["commit_count"] == 1
    assert result.details["span_hours"] is None
    assert "with no readable dates" in by_id(result.checks)["version_control.commit_count"].sentence


def test_trivial_messages() -> None:
    assert not is_informative("update")
    assert not is_informative("WIP.")
    assert not is_informative("fix the model")  # three words
    assert is_informative("Fix leakage in the scaler")
    assert [
        c.sha
        for c in parse_commits(
            [commit("b", "2024-01-02T00:00:00Z", "x"), commit("a", "2024-01-01T00:00:00Z", "y")]
        )
    ] == [
        "a" * 40,
        "b" * 40,
    ]


def test_account_names_in_merge_subjects_are_masked(tmp_path: Path) -> None:
    commits = [
        commit("1", "2024-03-01T09:00:00Z", "Merge pull request #3 from janedoe/eda-notebook"),
        commit("2", "2024-03-01T10:00:00Z", "Merge branch 'main' of github.com:janedoe/fraud"),
    ]
    result = grade(context_with(tmp_path, commits))
    text = result.model_dump_json()
    assert "janedoe" not in text
    assert "from <user>/eda-notebook" in text
    assert "github.com:<user>/fraud" in text
