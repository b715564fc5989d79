"""Intake of git repositories and bundles: history is kept, .git is not, and nothing the
submission's git configuration asks for is ever executed."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from contracts.errors import SubmissionRejected
from harness.intake import IntakeCaps, ingest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

DATES = ["2024-03-01T10:00:00+00:00", "2024-03-02T11:30:00+01:00", "2024-03-05T09:15:00-05:00"]
MESSAGES = [
    "Initial commit",
    "Add training script\n\nUses a gradient boosting model.",
    "Fix leakage in the split",
]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo.parent),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Candidate",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Candidate",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        env={**base, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def make_repo(path: Path, commits: int = 3) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    for index in range(commits):
        (path / "train.py").write_text(f"STEP = {index}\n")
        (path / "README.md").write_text("# Solution\n")
        git(path, "add", "-A")
        date = DATES[index % len(DATES)]
        git(
            path,
            "commit",
            "-q",
            "-m",
            MESSAGES[index % len(MESSAGES)],
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
    return path


def make_bundle(repo: Path, path: Path, *revs: str) -> Path:
    git(repo, "bundle", "create", str(path), *(revs or ("--all",)))
    return path


def test_git_repository_keeps_history_and_drops_dot_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    snap = ingest(repo, tmp_path / "out")
    assert snap.kind == "git"
    assert snap.files == ["README.md", "train.py"]
    assert not (snap.root / ".git").exists()
    assert snap.git_commits is not None and len(snap.git_commits) == 3
    assert [c.message for c in snap.git_commits] == MESSAGES  # oldest first, full body
    assert [c.date for c in snap.git_commits] == DATES
    assert snap.git_commits[0].author_email == "ada@example.com"
    head = git(repo, "rev-parse", "HEAD").strip()
    assert snap.git_commits[-1].sha == head
    assert snap.git_commit_count == 3


def test_bundle_keeps_history_and_matches_the_folder_hash(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    folder = ingest(repo, tmp_path / "out")
    bundle = ingest(make_bundle(repo, tmp_path / "alice.bundle"), tmp_path / "out")
    assert bundle.kind == "bundle" and bundle.name == "alice"
    assert bundle.content_hash == folder.content_hash
    assert bundle.git_commits == folder.git_commits


def test_bundle_of_one_branch_without_head_is_accepted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    snap = ingest(make_bundle(repo, tmp_path / "main.bundle", "main"), tmp_path / "out")
    assert snap.git_commits is not None and len(snap.git_commits) == 3


def test_zip_of_a_repository_keeps_history(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(repo.rglob("*")):
            handle.write(path, Path("alice") / path.relative_to(repo))
    snap = ingest(archive, tmp_path / "out")
    assert snap.kind == "zip"
    assert snap.files == ["README.md", "train.py"]
    assert snap.git_commits is not None and [c.message for c in snap.git_commits] == MESSAGES


def test_history_is_capped_to_the_newest_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice", commits=5)
    snap = ingest(repo, tmp_path / "out", IntakeCaps(max_commits=2))
    assert snap.git_commit_count == 5
    assert snap.git_commits is not None and len(snap.git_commits) == 2
    assert snap.git_commits[-1].sha == git(repo, "rev-parse", "HEAD").strip()
    assert snap.git_commits[0].sha == git(repo, "rev-parse", "HEAD~1").strip()


def test_long_commit_messages_are_capped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice", commits=1)
    (repo / "x.py").write_text("x = 1\n")
    git(repo, "add", "x.py")
    git(repo, "commit", "-q", "-m", "y" * 10_000)
    snap = ingest(repo, tmp_path / "out")
    assert snap.git_commits is not None
    assert len(snap.git_commits[-1].message) == 2000


def test_empty_repository_has_empty_history(tmp_path: Path) -> None:
    repo = tmp_path / "alice"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("pass\n")
    snap = ingest(repo, tmp_path / "out")
    assert snap.git_commits == [] and snap.git_commit_count == 0


def test_dot_git_file_is_skipped_without_history(tmp_path: Path) -> None:
    source = tmp_path / "worktree"
    source.mkdir()
    (source / ".git").write_text("gitdir: /somewhere/else/.git/worktrees/x\n")
    (source / "train.py").write_text("pass\n")
    snap = ingest(source, tmp_path / "out")
    assert snap.kind == "directory" and snap.git_commits is None
    assert snap.files == ["train.py"]
    assert any(".git" in note for note in snap.skipped)


def test_nested_repository_is_left_out(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    make_repo(repo / "vendor" / "lib", commits=1)
    snap = ingest(repo, tmp_path / "out")
    assert "vendor/lib/train.py" in snap.files
    assert not any(".git" in f for f in snap.files)
    assert "vendor/lib/.git/ (nested repository)" in snap.skipped


MALICIOUS_CONFIG = """
[core]
    fsmonitor = "touch {marker}"
    pager = "touch {marker}"
    sshCommand = "touch {marker}"
    editor = "touch {marker}"
    hooksPath = hooks
[diff]
    external = "touch {marker}"
[filter "evil"]
    smudge = "touch {marker}"
    clean = "touch {marker}"
    process = "touch {marker}"
[alias]
    log = "!touch {marker}"
[include]
    path = {include}
"""


def plant_malicious_config(repo: Path, marker: Path) -> None:
    include = repo.parent / "included.cfg"
    include.write_text(f'[core]\n    fsmonitor = "touch {marker}"\n')
    with (repo / ".git" / "config").open("a") as handle:
        handle.write(MALICIOUS_CONFIG.format(marker=marker, include=include))
    (repo / ".gitattributes").write_text("* filter=evil\n")
    for hook in (
        "post-checkout",
        "pre-commit",
        "post-merge",
        "reference-transaction",
        "fsmonitor-watchman",
        "pre-auto-gc",
        "post-index-change",
    ):
        for folder in (repo / ".git" / "hooks", repo / "hooks"):
            folder.mkdir(exist_ok=True)
            script = folder / hook
            script.write_text(f"#!/bin/sh\ntouch {marker}\n")
            script.chmod(0o755)


def test_malicious_git_config_and_hooks_are_not_executed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    marker = tmp_path / "PWNED"
    plant_malicious_config(repo, marker)
    snap = ingest(repo, tmp_path / "out")
    assert not marker.exists(), "intake ran a command from the submission's git config"
    assert snap.git_commits is not None and len(snap.git_commits) == 3
    assert ".gitattributes" in snap.files and "hooks/pre-commit" in snap.files  # plain files


def test_malicious_git_config_in_an_archive_is_not_executed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    marker = tmp_path / "PWNED"
    plant_malicious_config(repo, marker)
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(repo.rglob("*")):
            handle.write(path, path.relative_to(repo))
    snap = ingest(archive, tmp_path / "out")
    assert not marker.exists()
    assert snap.git_commits is not None and len(snap.git_commits) == 3


def test_alternates_pointing_at_host_repositories_are_not_followed(tmp_path: Path) -> None:
    host = make_repo(tmp_path / "host-repo")
    borrower = tmp_path / "alice"
    git(tmp_path, "clone", "-q", "--shared", str(host), str(borrower))
    assert (borrower / ".git/objects/info/alternates").exists()
    dest = tmp_path / "out"
    with pytest.raises(SubmissionRejected, match="git history is unreadable"):
        ingest(borrower, dest)
    assert os.listdir(dest) == []


def test_bundle_with_a_committed_symlink_is_rejected(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice", commits=1)
    (repo / "passwd").symlink_to("/etc/passwd")
    git(repo, "add", "passwd")
    git(repo, "commit", "-q", "-m", "link")
    dest = tmp_path / "out"
    with pytest.raises(SubmissionRejected, match="symlink in submission: 'passwd'"):
        ingest(make_bundle(repo, tmp_path / "alice.bundle"), dest)
    assert os.listdir(dest) == []


def _commit_raw_tree(repo: Path, entries: str) -> None:
    """Commit a tree written with `git mktree` (which accepts names like '..')."""

    def run(*args: str, data: str | None = None) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, input=data, capture_output=True, check=True, text=True
        ).stdout.strip()

    blob = run("hash-object", "-w", "--stdin", data="pwned\n")
    inner = run("mktree", data=f"100644 blob {blob}\tevil.py\n")
    tree = run("mktree", data=entries.format(blob=blob, inner=inner))
    commit = git(repo, "commit-tree", tree, "-m", "hostile tree").strip()
    git(repo, "update-ref", "refs/heads/main", commit)


def test_bundle_with_dotdot_tree_entry_is_rejected(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice", commits=1)
    _commit_raw_tree(repo, "040000 tree {inner}\t..\n100644 blob {blob}\tok.py\n")
    dest = tmp_path / "out"
    with pytest.raises(SubmissionRejected, match="escapes the submission"):
        ingest(make_bundle(repo, tmp_path / "alice.bundle"), dest)
    assert os.listdir(dest) == [] and not (tmp_path / "evil.py").exists()


def test_bundle_with_committed_dot_git_keeps_it_out(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice", commits=1)
    _commit_raw_tree(repo, "040000 tree {inner}\t.git\n100644 blob {blob}\tok.py\n")
    snap = ingest(make_bundle(repo, tmp_path / "alice.bundle"), tmp_path / "out")
    assert snap.files == ["ok.py"]


def test_incremental_bundle_is_rejected(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    bundle = make_bundle(repo, tmp_path / "inc.bundle", "HEAD~1..main")
    dest = tmp_path / "out"
    with pytest.raises(SubmissionRejected, match="bundle cannot be cloned"):
        ingest(bundle, dest)
    assert os.listdir(dest) == []


def test_git_internals_have_their_own_cap(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "alice")
    dest = tmp_path / "out"
    with pytest.raises(SubmissionRejected, match=r"\.git has more than 3 files"):
        ingest(repo, dest, IntakeCaps(max_git_files=3))
    assert os.listdir(dest) == []


def test_sha256_repository_keeps_history(tmp_path: Path) -> None:
    repo = tmp_path / "alice"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256")
    (repo / "train.py").write_text("pass\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "sha256 history")
    snap = ingest(repo, tmp_path / "out")
    assert snap.git_commits is not None and len(snap.git_commits) == 1
    assert len(snap.git_commits[0].sha) == 64


def test_git_repository_ingests_into_a_relative_output_folder(tmp_path, monkeypatch):
    """A relative destination (the CLI's default `out`) works for git history too."""
    import subprocess

    from harness.intake import ingest

    repo = tmp_path / "jane"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "J", "GIT_AUTHOR_EMAIL": "j@example.com",
           "GIT_COMMITTER_NAME": "J", "GIT_COMMITTER_EMAIL": "j@example.com",
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    (repo / "a.py").write_text("x = 1\n")
    for args in (["init", "-q"], ["add", "a.py"], ["commit", "-q", "-m", "first commit here"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    snapshot = ingest(repo, Path("out/snapshots"))
    assert snapshot.git_commits is not None and len(snapshot.git_commits) == 1
    assert snapshot.root.is_absolute()
