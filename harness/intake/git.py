"""Reading submitted git history without trusting the submission's git configuration.

The safe route, for a repository folder or a ``.git`` inside an archive:

1. the ``.git`` folder is *copied* into the staging folder by the same capped, link-rejecting
   reader as every other file, keeping only ``HEAD``, ``config``, ``packed-refs``, ``shallow``,
   ``refs/`` and ``objects/`` (never ``objects/info``: no alternates pointing at host
   repositories). Hooks, ``info/``, worktrees, modules and the index are never read;
2. the copied ``config`` is read with ``git config --file`` (no includes) for one key,
   ``extensions.objectFormat``, and then *replaced* by a config intake writes itself;
3. git then only runs read-only plumbing (``rev-parse``, ``rev-list``, ``log``) on that copy.

A bundle is cloned ``--bare`` (no checkout: no filters, smudge or attributes) into the staging
folder with only the ``file`` protocol allowed (bundle transport needs it), and its files are
read from the tree of HEAD with ``ls-tree`` + ``cat-file --batch`` (raw committed bytes).

Every git process gets an environment built from scratch: ``GIT_CONFIG_NOSYSTEM=1``,
``GIT_CONFIG_GLOBAL=/dev/null``, ``HOME`` in the staging folder, ``GIT_TERMINAL_PROMPT=0``,
``GIT_LFS_SKIP_SMUDGE=1``, no replace objects, no optional locks, ``core.hooksPath=/dev/null``,
``core.fsmonitor=false``; a virtual-memory ulimit and a wall-clock timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from contracts.errors import EnvironmentProblem, SubmissionRejected
from harness.intake.archives import reject_special
from harness.intake.models import GitCommit, IntakeCaps
from harness.intake.paths import Parts, Placement, normalise_name
from harness.intake.staging import Stager

MEMORY_LIMIT_KIB = 4 * 1024 * 1024  # ulimit -v for every git process
LOG_OUTPUT_MAX_BYTES = 64 * 1024 * 1024
TREE_OUTPUT_MAX_BYTES = 64 * 1024 * 1024
_FIELD = b"\x1f"
_LOG_FORMAT = "%H%x1f%an%x1f%ae%x1f%aI%x1f%B"
_GLOBAL_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.untrackedCache=false",
    "core.packedGitLimit=256m",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "protocol.allow=never",
    "protocol.file.allow=always",  # bundle transport is a "file" transport; nothing else runs
    "submodule.recurse=false",
)
_OWN_CONFIG = "[core]\n\trepositoryformatversion = {version}\n\tbare = true\n{extensions}"


def _kill_group(process: subprocess.Popen) -> None:
    """Kill a git process and its helpers (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class GitError(Exception):
    """A git command failed; ``message`` is git's first stderr line."""


class GitRunner:
    """Runs git with a scrubbed environment and hard limits; ``home`` is a private folder."""

    def __init__(self, home: Path, timeout_s: float):
        git = shutil.which("git")
        if git is None:
            raise EnvironmentProblem(
                "git is not installed", hint="install git (apt-get install git)"
            )
        home.mkdir(parents=True, exist_ok=True)
        self.git = git
        self.timeout_s = timeout_s
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_CEILING_DIRECTORIES": str(home.parent),
            "LC_ALL": "C",
            "TZ": "UTC",
        }

    def command(self, args: list[str], git_dir: Path | None) -> list[str]:
        """The full argv: a shell that sets the memory ulimit, then git with safe options."""
        argv = [self.git, "--no-pager", "--no-optional-locks", "--no-replace-objects"]
        for item in _GLOBAL_CONFIG:
            argv += ["-c", item]
        if git_dir is not None:
            argv.append(f"--git-dir={git_dir}")
        argv += args
        return ["/bin/sh", "-c", f'ulimit -v {MEMORY_LIMIT_KIB} && exec "$@"', "sh", *argv]

    def popen(
        self, args: list[str], git_dir: Path | None, stdin: int | None = None
    ) -> tuple[subprocess.Popen[bytes], IO[bytes], threading.Timer]:
        """Start git; stderr goes to a temporary file (read by :meth:`error_of`)."""
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
        process = subprocess.Popen(
            self.command(args, git_dir),
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=self.env,
            cwd=self.env["HOME"],
            start_new_session=True,
        )
        timer = threading.Timer(self.timeout_s, _kill_group, (process,))
        timer.daemon = True
        timer.start()
        return process, errors, timer

    @staticmethod
    def error_of(errors: IO[bytes]) -> str:
        """git's first stderr line (cut), for a one-line message."""
        errors.seek(0)
        lines = errors.read(4096).decode("utf-8", "replace").strip().splitlines()
        return lines[0][:200] if lines else "git failed"

    def run(self, args: list[str], git_dir: Path | None, max_output: int = 1 << 20) -> bytes:
        """Run git to completion and return stdout (at most ``max_output`` bytes)."""
        process, errors, timer = self.popen(args, git_dir)
        try:
            assert process.stdout is not None
            output = process.stdout.read(max_output + 1)
            if len(output) > max_output:
                _kill_group(process)
                raise SubmissionRejected(
                    f"git output for `{args[0]}` exceeds {max_output} bytes",
                    hint="submit a smaller repository",
                )
            code = process.wait()
            if timer.finished.is_set() and code != 0:
                raise SubmissionRejected(
                    f"git `{args[0]}` took longer than {self.timeout_s:g}s",
                    hint="submit a smaller repository or raise git_timeout_s",
                )
            if code != 0:
                raise GitError(self.error_of(errors))
            return output
        finally:
            timer.cancel()
            if process.poll() is None:
                _kill_group(process)
                process.wait()
            errors.close()


# --- a copied .git -----------------------------------------------------------------------------


def prepare_gitdir(gitdir: Path, runner: GitRunner) -> bool:
    """Turn a copied ``.git`` into a bare repository with intake's own config.

    Returns False when the copy is not a repository (no ``HEAD``)."""
    if not (gitdir / "HEAD").is_file():
        return False
    object_format = "sha1"
    config = gitdir / "config"
    if config.is_file():
        try:
            found = (
                runner.run(
                    ["config", "--file", str(config), "--get", "extensions.objectformat"], None
                )
                .decode("ascii", "replace")
                .strip()
                .lower()
            )
        except GitError:
            found = ""
        if found in ("sha1", "sha256"):
            object_format = found
        config.unlink()
    extensions = ""
    version = 0
    if object_format == "sha256":
        version, extensions = 1, "[extensions]\n\tobjectformat = sha256\n"
    config.write_text(_OWN_CONFIG.format(version=version, extensions=extensions))
    for needed in ("refs", "objects"):
        (gitdir / needed).mkdir(exist_ok=True)
    return True


# --- history -----------------------------------------------------------------------------------


def _head_commit(repo: Path, runner: GitRunner, label: str) -> str | None:
    """HEAD's commit id, the only branch when HEAD is dangling, or None for an empty repo."""
    try:
        return runner.run(["rev-parse", "--verify", "-q", "HEAD^{commit}"], repo).decode().strip()
    except GitError:
        pass
    heads = runner.run(["for-each-ref", "--format=%(objectname)", "refs/heads"], repo).split()
    if not heads:
        refs = runner.run(["for-each-ref", "--count=1"], repo).strip()
        if not refs:
            return None
    if len(heads) == 1:
        return heads[0].decode("ascii", "replace")
    raise SubmissionRejected(
        f"{label}: HEAD does not point to a commit",
        hint="check out the branch to grade (or `git bundle create x.bundle --all`)",
    )


def _parse_log(output: bytes) -> list[GitCommit]:
    commits = []
    for record in output.split(b"\x00"):
        record = record.lstrip(b"\n")
        if not record:
            continue
        fields = record.split(_FIELD, 4)
        if len(fields) != 5:
            continue
        sha, name, email, date, message = (f.decode("utf-8", "replace") for f in fields)
        commits.append(
            GitCommit(
                sha=sha.strip(),
                author_name=name,
                author_email=email,
                date=date,
                message=message.strip(),
            )
        )
    commits.reverse()  # oldest first
    return commits


def read_history(
    repo: Path, runner: GitRunner, caps: IntakeCaps, label: str
) -> tuple[list[GitCommit], int]:
    """The newest ``caps.max_commits`` commits of HEAD (oldest first) and the total count."""
    try:
        head = _head_commit(repo, runner, label)
        if head is None:
            return [], 0
        count = int(runner.run(["rev-list", "--count", head], repo).strip() or 0)
        output = runner.run(
            [
                "log",
                "-z",
                "--no-color",
                "--encoding=UTF-8",
                f"--max-count={caps.max_commits}",
                f"--format={_LOG_FORMAT}",
                head,
            ],
            repo,
            max_output=LOG_OUTPUT_MAX_BYTES,
        )
    except GitError as error:
        raise SubmissionRejected(
            f"{label}: git history is unreadable: {error}",
            hint="repair the repository (git fsck), or leave .git out to submit without history",
        ) from None
    return _parse_log(output), count


# --- bundles -----------------------------------------------------------------------------------


def clone_bundle(bundle: Path, target: Path, runner: GitRunner, caps: IntakeCaps) -> Path:
    """Clone ``bundle`` bare into ``target`` (which must not exist) and return it."""
    size = bundle.stat().st_size
    if size > caps.max_git_bytes:
        raise SubmissionRejected(
            f"bundle is larger than {caps.max_git_bytes} bytes",
            hint="submit a smaller repository or raise max_git_bytes",
        )
    with bundle.open("rb") as handle:
        header = handle.read(32)
    if not header.startswith((b"# v2 git bundle\n", b"# v3 git bundle\n")):
        raise SubmissionRejected(
            "not a git bundle (bad header)",
            hint="create it with `git bundle create x.bundle --all`",
        )
    try:
        runner.run(
            [
                "clone",
                "--bare",
                "--quiet",
                "--no-hardlinks",
                "--template=",
                "--",
                str(bundle),
                str(target),
            ],
            None,
        )
    except GitError as error:
        raise SubmissionRejected(
            f"git bundle cannot be cloned: {error}",
            hint="create a complete bundle with `git bundle create x.bundle --all`",
        ) from None
    return target


def _parse_tree(output: bytes) -> Iterator[tuple[str, str, str, str, str]]:
    for record in output.split(b"\x00"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4:
            raise GitError(f"unexpected ls-tree line {record[:80]!r}")
        mode, kind, sha, size = (f.decode("ascii", "replace") for f in fields)
        path = raw_path.decode("utf-8", "surrogateescape")
        yield mode, kind, sha, size, path


def read_tree(repo: Path, runner: GitRunner, stager: Stager, label: str) -> None:
    """Stage the files of HEAD's tree (raw blobs: no filters, no attributes)."""
    head = _head_commit(repo, runner, label)
    if head is None:
        raise SubmissionRejected(f"{label} has no commits", hint="commit your work first")
    try:
        listing = runner.run(
            ["ls-tree", "-r", "-z", "-l", "--full-tree", head],
            repo,
            max_output=TREE_OUTPUT_MAX_BYTES,
        )
        entries = list(_parse_tree(listing))
    except GitError as error:
        raise SubmissionRejected(
            f"{label}: unreadable tree: {error}", hint="re-create it"
        ) from None
    wanted = []
    for mode, kind, sha, size, raw in entries:
        parts = normalise_name(raw, stager.caps)
        rel = "/".join(parts)
        if mode == "120000":
            raise reject_special("symlink", rel)
        if kind == "commit":
            stager.place(parts, is_dir=True)
            stager.skip(f"{rel} (submodule, not included)")
            continue
        if kind != "blob" or mode not in ("100644", "100755", "100664"):
            raise SubmissionRejected(
                f"unsupported git tree entry {rel!r} (mode {mode})",
                hint="commit regular files only",
            )
        placement = stager.place(parts, is_dir=False)
        if placement.kind != "content":
            continue  # junk, or a committed .git path (never kept)
        stager.precheck_size(parts, int(size), placement)
        wanted.append((parts, sha, placement))
    if wanted:
        _stage_blobs(repo, runner, stager, wanted)


def _stage_blobs(
    repo: Path, runner: GitRunner, stager: Stager, wanted: list[tuple[Parts, str, Placement]]
) -> None:
    """Stream the wanted blobs through one ``git cat-file --batch`` process."""
    process, errors, timer = runner.popen(["cat-file", "--batch"], repo, stdin=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    try:
        for parts, sha, placement in wanted:
            process.stdin.write(sha.encode("ascii") + b"\n")
            process.stdin.flush()
            header = process.stdout.readline(200).split()
            if len(header) != 3 or header[1] != b"blob":
                raise SubmissionRejected(
                    f"git object for {'/'.join(parts)!r} is missing or corrupt",
                    hint="re-create the bundle with `git bundle create x.bundle --all`",
                )
            size = int(header[2])
            stager.write_file(parts, _read_exactly(process.stdout, size), placement)
            process.stdout.read(1)  # the newline after each object
    except (BrokenPipeError, ValueError) as error:
        raise SubmissionRejected(f"git cat-file failed: {error}", hint="re-create it") from None
    finally:
        timer.cancel()
        _kill_group(process)
        process.wait()
        errors.close()


def _read_exactly(stream: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left:
        chunk = stream.read(min(left, 1024 * 1024))
        if not chunk:
            raise SubmissionRejected("git object stream ended early", hint="re-create it")
        left -= len(chunk)
        yield chunk


def is_repository_folder(source: Path) -> bool:
    """True when ``source`` has a real ``.git`` folder (not a link, not a ``gitdir:`` file)."""
    try:
        return os.path.isdir(source / ".git") and not os.path.islink(source / ".git")
    except OSError:
        return False
