"""The sandbox image: tag hashing, the offline wheel cache, and the built image itself."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker
import docker.errors
import pytest

from contracts.errors import EnvironmentProblem
from sandbox import image

# --- tag and inputs (no Docker) --------------------------------------------------------------


@pytest.fixture()
def fake_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the image inputs at a small copy under tmp_path."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "supervise.py").write_text("print('hi')\n")
    monkeypatch.setattr(image, "DOCKERFILE", tmp_path / "Dockerfile")
    monkeypatch.setattr(image, "REQUIREMENTS", tmp_path / "requirements.txt")
    monkeypatch.setattr(image, "INSIDE_DIR", inside)
    monkeypatch.setenv("TAKEHOME_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_tag_changes_when_an_inside_script_changes(fake_inputs: Path) -> None:
    before = image.inputs_hash("sha256:base")
    (fake_inputs / "inside" / "supervise.py").write_text("print('changed')\n")
    assert image.inputs_hash("sha256:base") != before


def test_tag_changes_when_a_file_is_added_under_inside(fake_inputs: Path) -> None:
    before = image.inputs_hash("sha256:base")
    (fake_inputs / "inside" / "pkg").mkdir()
    (fake_inputs / "inside" / "pkg" / "helper.py").write_text("")
    assert image.inputs_hash("sha256:base") != before


def test_tag_changes_with_requirements_dockerfile_and_base(fake_inputs: Path) -> None:
    before = image.inputs_hash("sha256:base")
    assert image.inputs_hash("sha256:other") != before
    (fake_inputs / "requirements.txt").write_text("numpy==2.4.5\n")
    after_requirements = image.inputs_hash("sha256:base")
    assert after_requirements != before
    (fake_inputs / "Dockerfile").write_text("FROM scratch\nUSER 1\n")
    assert image.inputs_hash("sha256:base") not in (before, after_requirements)


def test_tag_ignores_bytecode_caches_under_inside(fake_inputs: Path) -> None:
    before = image.inputs_hash("sha256:base")
    cache = fake_inputs / "inside" / "__pycache__"
    cache.mkdir()
    (cache / "supervise.cpython-311.pyc").write_bytes(b"\x00junk")
    (fake_inputs / "inside" / "stray.pyc").write_bytes(b"\x00junk")
    assert image.inputs_hash("sha256:base") == before


def test_tag_covers_the_executable_bit(fake_inputs: Path) -> None:
    before = image.inputs_hash("sha256:base")
    (fake_inputs / "inside" / "supervise.py").chmod(0o755)
    assert image.inputs_hash("sha256:base") != before


def _fake_pip_download(saved: list[list[str]]):
    def run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        saved.append(command)
        dest = Path(command[command.index("--dest") + 1])
        (dest / "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"wheel")
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_wheel_download_is_skipped_when_the_cache_is_complete(
    fake_inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(image.subprocess, "run", _fake_pip_download(calls))
    first = image.ensure_wheels(echo=lambda _: None)
    second = image.ensure_wheels(echo=lambda _: None)
    assert first == second
    assert len(calls) == 1
    assert (first / ".complete").read_text().split() == [
        "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"
    ]
    assert "--only-binary=:all:" in calls[0]


def test_wheel_cache_is_downloaded_again_when_a_listed_wheel_is_missing(
    fake_inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(image.subprocess, "run", _fake_pip_download(calls))
    wheels = image.ensure_wheels(echo=lambda _: None)
    next(wheels.glob("*.whl")).unlink()
    image.ensure_wheels(echo=lambda _: None)
    assert len(calls) == 2


def test_changed_requirements_reuse_and_then_prune_the_old_wheel_directory(
    fake_inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(image.subprocess, "run", _fake_pip_download(calls))
    old = image.ensure_wheels(echo=lambda _: None)
    (fake_inputs / "requirements.txt").write_text("numpy==2.4.6\npandas==3.1.1\n")
    new = image.ensure_wheels(echo=lambda _: None)
    assert new != old
    assert ["--find-links", str(old)] == calls[1][calls[1].index(str(old)) - 1 :][:2]
    assert not old.exists()
    assert new.is_dir()


def test_failed_wheel_download_raises_one_line_environment_problem(
    fake_inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        stderr = "Looking in links\nERROR: No matching distribution found for numpy==2.4.6\n"
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(image.subprocess, "run", failing)
    with pytest.raises(EnvironmentProblem) as caught:
        image.ensure_wheels(echo=lambda _: None)
    assert "No matching distribution found for numpy==2.4.6" in str(caught.value)
    assert "\n" not in str(caught.value)
    wheels_root = Path(image.cache_dir()) / "wheels"
    assert [p.name for p in wheels_root.iterdir()] == []  # the partial download is removed


# --- the built image (Docker) ----------------------------------------------------------------


def _run(tag: str, *command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["docker", "run", "--rm", "--network", "none"]
    if user:
        args += ["--user", user]
    return subprocess.run(
        [*args, tag, *command], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.docker
def test_second_build_is_a_noop(sandbox_image: str) -> None:
    first = image.build_image(echo=lambda _: None)
    digest = image.image_digest(first)
    started = time.monotonic()
    messages: list[str] = []
    second = image.build_image(echo=messages.append)
    elapsed = time.monotonic() - started
    assert second == first
    assert image.image_digest(second) == digest
    assert elapsed < 2.0
    assert messages == []  # nothing was pulled, downloaded or built


@pytest.mark.docker
def test_tag_is_named_after_the_inputs(sandbox_image: str) -> None:
    tag = image.build_image(echo=lambda _: None)
    assert tag == image.image_tag()
    assert tag == image.find_image()
    repository, _, digest = tag.partition(":")
    assert repository == "takehome-sandbox"
    assert len(digest) == 12 and int(digest, 16) >= 0


@pytest.mark.docker
def test_image_runs_as_candidate_uid_10001_by_default(sandbox_image: str) -> None:
    result = _run(sandbox_image, "sh", "-c", "id -u; id -g; echo $HOME; pwd")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10001", "10001", "/home/candidate", "/workspace"]


@pytest.mark.docker
def test_image_imports_the_candidate_packages(sandbox_image: str) -> None:
    code = (
        "import sklearn, pandas, numpy, scipy, xgboost, lightgbm, imblearn, statsmodels, "
        "matplotlib.pyplot, seaborn, nbclient, nbformat, ipykernel, pytest, coverage, pylint, "
        "joblib, tabulate, sys; print(sys.prefix, sklearn.__version__, pandas.__version__)"
    )
    result = _run(sandbox_image, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/opt/venv", "1.9.1", "3.1.1"]


@pytest.mark.docker
def test_image_has_the_python3_kernel_in_the_venv(sandbox_image: str) -> None:
    code = (
        "from jupyter_client.kernelspec import KernelSpecManager;"
        "spec = KernelSpecManager().get_kernel_spec('python3'); print(spec.argv[0])"
    )
    result = _run(sandbox_image, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/opt/venv/bin/python"


@pytest.mark.docker
def test_image_has_the_tools_candidates_use(sandbox_image: str) -> None:
    result = _run(
        sandbox_image, "sh", "-c", "for t in make tar sleep; do command -v $t || exit 1; done"
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 3


@pytest.mark.docker
def test_wheels_are_not_in_the_image(sandbox_image: str) -> None:
    cached = set((image.ensure_wheels(echo=lambda _: None) / ".complete").read_text().split())
    result = _run(
        sandbox_image, "sh", "-c", "ls -d /wheels /build 2>/dev/null; find / -xdev -name '*.whl'"
    )
    found = {Path(line).name for line in result.stdout.split()}
    assert "/wheels" not in result.stdout and "/build" not in result.stdout
    assert not found & cached


@pytest.mark.docker
def test_inside_scripts_are_not_writable_by_the_candidate(sandbox_image: str) -> None:
    script = (
        'test "$(stat -c %u /opt/takehome)" = 0 || exit 10; '
        "touch /opt/takehome/new 2>/dev/null && exit 11; "
        'for f in $(find /opt/takehome -type f); do [ -w "$f" ] && exit 12; done; '
        "touch /opt/venv/bin/new 2>/dev/null && exit 13; exit 0"
    )
    result = _run(sandbox_image, "sh", "-c", script)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"


@pytest.mark.docker
def test_explicit_base_image_that_cannot_be_pulled_fails_with_a_clear_message() -> None:
    missing = "127.0.0.1:9/takehome-test-missing-base:0"
    with pytest.raises(EnvironmentProblem) as caught:
        image.build_image(base_image=missing, echo=lambda _: None)
    message = str(caught.value)
    assert missing in message and "--base-image" in message
    assert "\n" not in message


# --- base image resolution (no Docker: a fake engine) -----------------------------------------


class _FakeImages:
    def __init__(self, present: dict[str, str]) -> None:
        self.present = present

    def get(self, ref: str):
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return type("Image", (), {"id": self.present[ref]})()


class _FakeClient:
    def __init__(self, present: dict[str, str]) -> None:
        self.images = _FakeImages(present)


@pytest.fixture()
def base_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record pulls and bootstraps; pulls fail (no registry), bootstraps succeed."""
    calls: list[str] = []

    def pull(ref: str) -> str:
        calls.append(f"pull {ref}")
        raise OSError("no such host")

    def bootstrap(client: _FakeClient, echo) -> str:
        calls.append("bootstrap")
        return "sha256:bootstrapped"

    monkeypatch.setattr(image, "_pull", pull)
    monkeypatch.setattr(image, "_bootstrap_base", bootstrap)
    return calls


def test_local_default_base_is_used_without_pulling(base_calls: list[str]) -> None:
    client = _FakeClient({"python:3.11-slim": "sha256:slim", image.BOOTSTRAP_BASE_IMAGE: "x"})
    resolved = image.resolve_base_image(client, None, echo=lambda _: None)
    assert resolved == ("python:3.11-slim", "sha256:slim")
    assert base_calls == []


def test_bootstrapped_base_is_reused_without_pulling(base_calls: list[str]) -> None:
    client = _FakeClient({image.BOOTSTRAP_BASE_IMAGE: "sha256:boot"})
    resolved = image.resolve_base_image(client, None, echo=lambda _: None)
    assert resolved == (image.BOOTSTRAP_BASE_IMAGE, "sha256:boot")
    assert base_calls == []


def test_unpullable_default_base_falls_back_to_a_local_bootstrap(base_calls: list[str]) -> None:
    messages: list[str] = []
    resolved = image.resolve_base_image(_FakeClient({}), None, echo=messages.append)
    assert resolved == (image.BOOTSTRAP_BASE_IMAGE, "sha256:bootstrapped")
    assert base_calls == ["pull python:3.11-slim", "bootstrap"]
    assert any("no such host" in message for message in messages)


def test_unpullable_explicit_base_fails_without_bootstrapping(base_calls: list[str]) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        image.resolve_base_image(_FakeClient({}), "example/base:1", echo=lambda _: None)
    assert "example/base:1" in str(caught.value) and "no such host" in str(caught.value)
    assert base_calls == ["pull example/base:1"]


@pytest.mark.docker
def test_prune_removes_old_tags_keeps_the_current_and_those_in_use(sandbox_image: str) -> None:
    import uuid

    from click.testing import CliRunner

    from harness.cli import main

    client = docker.from_env()
    current = client.images.get(sandbox_image)
    old = f"{image.IMAGE_REPOSITORY}:prune-test-{uuid.uuid4().hex[:8]}"
    in_use = f"{image.IMAGE_REPOSITORY}:prune-test-{uuid.uuid4().hex[:8]}"
    # a distinct image (its own id) that a stopped container still refers to
    container = client.containers.create(sandbox_image, ["true"], labels={"takehome.test": "1"})
    committed = container.commit(repository=image.IMAGE_REPOSITORY, tag=in_use.split(":", 1)[1])
    user = client.containers.create(committed.id, ["true"], labels={"takehome.test": "1"})
    current.tag(old)
    try:
        dry = CliRunner().invoke(main, ["sandbox", "prune", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would remove {old}" in dry.output
        assert f"kept {in_use}: a container still uses it" in dry.output
        assert old in client.images.get(sandbox_image).tags  # a dry run removes nothing

        real = CliRunner().invoke(main, ["sandbox", "prune"])
        assert real.exit_code == 0, real.output
        assert f"removed {old}" in real.output
        tags = client.images.get(sandbox_image).tags
        assert sandbox_image in tags and old not in tags
        assert in_use in client.images.get(committed.id).tags
    finally:
        for leftover in (user, container):
            leftover.remove(force=True)
        for tag in (old, in_use):
            try:
                client.images.remove(tag)
            except docker.errors.ImageNotFound:
                pass
        client.close()
