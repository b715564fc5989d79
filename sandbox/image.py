"""The sandbox image: its tag, its offline wheel cache, its base image, and the build.

The tag is ``takehome-sandbox:<12 hex>``, a hash of everything that goes into the image: the
Dockerfile, requirements.txt, every file under ``sandbox/inside/`` and the id of the resolved base
image. Building with unchanged inputs is a no-op that returns the existing tag.

Python packages are installed offline: ``pip download`` fills a wheel cache on the host
(``.cache/wheels/<requirements hash>/``) and the build installs from it with ``--no-index``.

Base image resolution (``base_image=None``): ``python:3.11-slim`` when present locally, else the
locally bootstrapped ``takehome-base:bookworm`` when present, else a pull of ``python:3.11-slim``,
else a fresh bootstrap with ``sandbox/scripts/bootstrap_base.sh`` (debootstrap). An explicitly
requested base image must be present or pullable; there is no fallback for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker import DockerClient

from contracts.errors import EnvironmentProblem

Echo = Callable[[str], None]

IMAGE_REPOSITORY = "takehome-sandbox"
INPUTS_LABEL = "org.takehome.inputs"  # on every image built here: the digest of its inputs
DEFAULT_BASE_IMAGE = "python:3.11-slim"
BOOTSTRAP_BASE_IMAGE = "takehome-base:bookworm"
# Bump when the build procedure changes in a way the hashed files do not show.
BUILD_FORMAT = "takehome-sandbox-build/1"

ENGINE_HINT = "run `make engine` or `sudo bash sandbox/scripts/ensure_docker.sh`"
PULL_TIMEOUT_SECONDS = 30  # longest silence tolerated from a pull before giving up
BUILD_TIMEOUT_SECONDS = 3600  # longest silence tolerated from the engine during a build
WHEELS_TIMEOUT_SECONDS = 1800

SANDBOX_DIR = Path(__file__).resolve().parent
DOCKERFILE = SANDBOX_DIR / "Dockerfile"
REQUIREMENTS = SANDBOX_DIR / "requirements.txt"
INSIDE_DIR = SANDBOX_DIR / "inside"
BOOTSTRAP_SCRIPT = SANDBOX_DIR / "scripts" / "bootstrap_base.sh"

_IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


# --- locations -----------------------------------------------------------------------------


def repo_root() -> Path | None:
    """The checkout that holds this package (installed editable), or None when installed."""
    candidate = SANDBOX_DIR.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Where the wheel cache, the build lock and the last build log live.

    ``TAKEHOME_CACHE_DIR`` wins; else ``<repo>/.cache``; else ``~/.cache/takehome``.
    """
    override = os.environ.get("TAKEHOME_CACHE_DIR")
    if override:
        path = Path(override)
    else:
        root = repo_root()
        path = root / ".cache" if root else Path.home() / ".cache" / "takehome"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- engine --------------------------------------------------------------------------------


def docker_client(timeout: int = 60) -> DockerClient:
    """Return a Docker SDK client that has answered a ping.

    Raises EnvironmentProblem with a one-line reason and the fix when the engine is unreachable.
    """
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # the SDK raises many types for "no engine"
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        raise EnvironmentProblem(
            f"Docker engine not reachable at {where}: {_root_cause(exc)}", hint=ENGINE_HINT
        ) from exc
    return client


def _root_cause(exc: BaseException) -> str:
    """The innermost OS-level reason (e.g. "Connection refused") behind an SDK error."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending += [*current.args, current.__cause__, current.__context__]
    return _one_line(exc)


def _one_line(exc: BaseException, limit: int = 160) -> str:
    explanation = getattr(exc, "explanation", None)  # docker APIError: the engine's own words
    text = " ".join(str(explanation or exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- inputs and tag ------------------------------------------------------------------------


def _inside_files() -> list[Path]:
    """Files under sandbox/inside/ that go into the image, sorted, caches excluded."""
    if not INSIDE_DIR.is_dir():
        return []
    files = []
    for path in sorted(INSIDE_DIR.rglob("*")):
        relative = path.relative_to(INSIDE_DIR)
        if any(part in _IGNORED_NAMES for part in relative.parts):
            continue
        if path.name.endswith(_IGNORED_SUFFIXES) or not path.is_file():
            continue
        files.append(path)
    return files


@dataclass(frozen=True)
class ImageInputs:
    """The files that go into the image, read once: the tag and the build context both come
    from this snapshot, so an edit during a build cannot give an image the wrong tag."""

    dockerfile: bytes
    requirements: bytes
    inside: tuple[tuple[str, bool, bytes], ...]  # (posix path under inside/, executable, bytes)

    def digest(self, base_image_id: str) -> str:
        """SHA-256 over the build format, the files and the base image id."""
        digest = hashlib.sha256()

        def feed(label: str, data: bytes) -> None:
            digest.update(f"{label}\0{len(data)}\0".encode())
            digest.update(data)

        feed("format", BUILD_FORMAT.encode())
        feed("base", base_image_id.encode())
        feed("Dockerfile", self.dockerfile)
        feed("requirements.txt", self.requirements)
        for relative, executable, content in self.inside:
            feed(f"inside/{relative}:{'x' if executable else '-'}", content)
        return digest.hexdigest()

    def tag(self, base_image_id: str) -> str:
        """``takehome-sandbox:<first 12 hex of the digest>``."""
        return f"{IMAGE_REPOSITORY}:{self.digest(base_image_id)[:12]}"

    def write_context(self, directory: Path, wheels: Path) -> None:
        """Fill ``directory`` with the build context: Dockerfile, requirements, wheels/, inside/.

        File modes are normalised (0644, 0755 when executable, directories 0755) so the image
        does not depend on the checkout's umask.
        """
        (directory / "Dockerfile").write_bytes(self.dockerfile)
        (directory / "requirements.txt").write_bytes(self.requirements)
        (directory / "wheels").mkdir()
        for name in (wheels / ".complete").read_text().split():
            _link_or_copy(wheels / name, directory / "wheels" / name)
        inside = directory / "inside"
        inside.mkdir()
        for relative, executable, content in self.inside:
            target = inside / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o755 if executable else 0o644)
        for path in [inside, *inside.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)


def read_inputs() -> ImageInputs:
    """Snapshot the Dockerfile, requirements.txt and every file under sandbox/inside/."""
    inside = tuple(
        (path.relative_to(INSIDE_DIR).as_posix(), os.access(path, os.X_OK), path.read_bytes())
        for path in _inside_files()
    )
    return ImageInputs(DOCKERFILE.read_bytes(), REQUIREMENTS.read_bytes(), inside)


def requirements_hash() -> str:
    """SHA-256 of requirements.txt (keys the wheel cache)."""
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def inputs_hash(base_image_id: str) -> str:
    """SHA-256 over the build format, Dockerfile, requirements, inside/ files and the base id."""
    return read_inputs().digest(base_image_id)


def _tag_for(base_image_id: str) -> str:
    return read_inputs().tag(base_image_id)


def _local_image_id(client: DockerClient, ref: str) -> str | None:
    try:
        return client.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        raise


def _local_base(client: DockerClient, base_image: str | None) -> tuple[str, str] | None:
    """(ref, id) of the base image that a build would use, if it is already present locally."""
    candidates = [base_image] if base_image else [DEFAULT_BASE_IMAGE, BOOTSTRAP_BASE_IMAGE]
    for ref in candidates:
        image_id = _local_image_id(client, ref)
        if image_id:
            return ref, image_id
    return None


def image_tag(base_image: str | None = None) -> str:
    """The tag the image for the current inputs has (or would have), without building.

    Raises EnvironmentProblem when the base image is not present locally yet.
    """
    client = docker_client()
    base = _local_base(client, base_image)
    if base is None:
        wanted = base_image or f"{DEFAULT_BASE_IMAGE} or {BOOTSTRAP_BASE_IMAGE}"
        raise EnvironmentProblem(
            f"base image {wanted} is not present, so the sandbox image tag is not known yet",
            hint="run `takehome sandbox build`",
        )
    return _tag_for(base[1])


def find_image(base_image: str | None = None) -> str | None:
    """The tag of the image for the current inputs when it exists in the engine, else None."""
    client = docker_client()
    base = _local_base(client, base_image)
    if base is None:
        return None
    tag = _tag_for(base[1])
    return tag if _local_image_id(client, tag) else None


def image_digest(tag: str) -> str:
    """The image id (``sha256:…``) of ``tag``; EnvironmentProblem when it does not exist."""
    image_id = _local_image_id(docker_client(), tag)
    if image_id is None:
        raise EnvironmentProblem(f"image {tag} does not exist", hint="run `takehome sandbox build`")
    return image_id


# --- base image ----------------------------------------------------------------------------


def _pull(ref: str) -> str:
    """Pull ``ref``; return its id. Raises docker/requests errors when it cannot be pulled."""
    api = docker.from_env(timeout=PULL_TIMEOUT_SECONDS).api
    for event in api.pull(ref, stream=True, decode=True):
        if "error" in event:
            raise docker.errors.APIError(event["error"])
    return api.inspect_image(ref)["Id"]


def _bootstrap_base(client: DockerClient, echo: Echo) -> str:
    """Build takehome-base:bookworm with debootstrap (root on Debian); return its id."""
    echo(f"building the base image {BOOTSTRAP_BASE_IMAGE} with debootstrap (a few minutes)")
    result = subprocess.run(
        ["bash", str(BOOTSTRAP_SCRIPT), BOOTSTRAP_BASE_IMAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stderr.splitlines():
        echo(f"  {line}")
    image_id = _local_image_id(client, BOOTSTRAP_BASE_IMAGE)
    if result.returncode != 0 or image_id is None:
        last = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentProblem(
            f"cannot pull {DEFAULT_BASE_IMAGE} and bootstrapping {BOOTSTRAP_BASE_IMAGE} failed: "
            f"{last[0]}",
            hint="pass an existing image with python3.11 via --base-image",
        )
    return image_id


def resolve_base_image(
    client: DockerClient, base_image: str | None, echo: Echo = print
) -> tuple[str, str]:
    """Return (ref, id) of the base image to build on, pulling or bootstrapping it if needed."""
    local = _local_base(client, base_image)
    if local:
        return local
    ref = base_image or DEFAULT_BASE_IMAGE
    echo(f"pulling {ref}")
    try:
        return ref, _pull(ref)
    except Exception as exc:  # any pull failure leads to the same decision
        if base_image:
            raise EnvironmentProblem(
                f"base image {base_image} is not present locally and cannot be pulled: "
                f"{_one_line(exc)}",
                hint="pull or build it first, or omit --base-image to use the default",
            ) from exc
        echo(f"cannot pull {ref} ({_one_line(exc, 100)}); using a local Debian base instead")
    return BOOTSTRAP_BASE_IMAGE, _bootstrap_base(client, echo)


# --- wheel cache ---------------------------------------------------------------------------


def _pip_target_args() -> list[str]:
    """pip download options for CPython 3.11 on x86_64 Linux when the host is something else."""
    host_matches = (
        sys.implementation.name == "cpython"
        and sys.version_info[:2] == (3, 11)
        and sys.platform == "linux"
        and platform.machine() == "x86_64"
    )
    if host_matches:
        return []
    args = ["--implementation", "cp", "--python-version", "3.11"]
    for abi in ("cp311", "abi3", "none"):
        args += ["--abi", abi]
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    for name in platforms:
        args += ["--platform", name]
    return args


def ensure_wheels(echo: Echo = print) -> Path:
    """Return the wheel directory for the current requirements.txt, downloading it if needed.

    The directory is ``<cache>/wheels/<first 16 hex of the requirements hash>/``; a ``.complete``
    stamp listing its files marks it usable. Other requirement versions' directories are used as
    extra find-links (so unchanged wheels are not downloaded again) and then removed.
    """
    root = cache_dir() / "wheels"
    target = root / requirements_hash()[:16]
    stamp = target / ".complete"
    if _wheels_complete(target, stamp):
        return target
    root.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    others = [p for p in root.iterdir() if p.is_dir() and p.name != partial.name]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--requirement",
        str(REQUIREMENTS),
        "--dest",
        str(partial),
        "--only-binary=:all:",
        *_pip_target_args(),
    ]
    for other in others:
        command += ["--find-links", str(other)]
    echo(f"downloading wheels for {REQUIREMENTS.name} into {target}")
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=WHEELS_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise EnvironmentProblem(
            f"pip download of the sandbox wheels took over {WHEELS_TIMEOUT_SECONDS}s",
            hint="check the package index configured for pip (pip config list)",
        ) from exc
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
        reason = (errors or result.stderr.strip().splitlines()[-1:] or ["no output"])[0]
        raise EnvironmentProblem(
            f"pip download of the sandbox wheels failed: {reason.strip()}",
            hint="check the package index configured for pip (pip config list) and "
            "sandbox/requirements.txt",
        )
    names = sorted(p.name for p in partial.iterdir() if p.name.endswith(".whl"))
    (partial / ".complete").write_text("\n".join(names) + "\n")
    partial.rename(target)
    for other in others:
        shutil.rmtree(other, ignore_errors=True)
    echo(f"{len(names)} wheels ready")
    return target


def _wheels_complete(target: Path, stamp: Path) -> bool:
    if not stamp.is_file():
        return False
    names = [line for line in stamp.read_text().splitlines() if line]
    return bool(names) and all((target / name).is_file() for name in names)


# --- build ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _build_lock(echo: Echo) -> Iterator[None]:
    """An exclusive lock so that concurrent builds (parallel test runs) do not collide."""
    with open(cache_dir() / "sandbox-build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo("waiting for another sandbox build to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def build_image(base_image: str | None = None, force: bool = False, echo: Echo = print) -> str:
    """Build the sandbox image for the current inputs and return its tag.

    A no-op returning the existing tag when it is already built (unless ``force``, which
    rebuilds without the build cache). ``base_image`` None means the default resolution
    described in the module docstring.
    """
    client = docker_client()
    if not force:
        tag = find_image(base_image)
        if tag:
            return tag
    with _build_lock(echo):
        base_ref, base_id = resolve_base_image(client, base_image, echo)
        inputs = read_inputs()
        tag = inputs.tag(base_id)
        if not force and _local_image_id(client, tag):
            return tag  # another process built it while we waited for the lock
        wheels = ensure_wheels(echo)
        with tempfile.TemporaryDirectory(prefix="build-context-", dir=cache_dir()) as context:
            inputs.write_context(Path(context), wheels)
            labels = {
                INPUTS_LABEL: inputs.digest(base_id),
                "org.takehome.base": f"{base_ref}@{base_id}",
            }
            _run_build(Path(context), tag, base_id, labels, force, echo)
    return tag


def _run_build(
    context: Path, tag: str, base_id: str, labels: dict[str, str], force: bool, echo: Echo
) -> None:
    """Run the build through the engine API, echoing the steps; the full log goes to a file."""
    api = docker_client(timeout=BUILD_TIMEOUT_SECONDS).api
    log_path = cache_dir() / "sandbox-build.log"
    tail: deque[str] = deque(maxlen=15)
    echo(f"building {tag} on {labels['org.takehome.base'][:60]}")
    started = time.monotonic()
    error: str | None = None
    with open(log_path, "w") as log:
        stream = api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base_id},
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=force,
            decode=True,
        )
        for event in stream:
            if "error" in event:
                error = " ".join(str(event["error"]).split())
                log.write(f"ERROR: {error}\n")
                break
            text = event.get("stream")
            if not text:
                continue
            log.write(text)
            for line in text.splitlines():
                line = line.rstrip()
                if not line:
                    continue
                tail.append(line)
                if line.startswith("Step "):
                    echo(f"  {line if len(line) <= 100 else line[:99] + '…'}")
    if error is not None:
        for line in tail:
            echo(f"  | {line}")
        raise EnvironmentProblem(
            f"building the sandbox image failed: {error}",
            hint=f"full log in {log_path}",
        )
    if _local_image_id(docker_client(), tag) is None:
        raise EnvironmentProblem(
            f"the build finished but {tag} does not exist", hint=f"full log in {log_path}"
        )
    echo(f"built {tag} in {time.monotonic() - started:.0f}s")


# --- clean-up ------------------------------------------------------------------------------


@dataclass
class PruneReport:
    """What :func:`prune_images` removed (or would remove) and what it had to keep."""

    removed: list[str]
    kept_in_use: list[str]
    freed_bytes: int


def prune_images(keep: str | None = None, dry_run: bool = False) -> PruneReport:
    """Remove ``takehome-sandbox`` tags other than ``keep`` (default: the current image's tag).

    Every input change builds a new tag of about 0.8 GB and old ones are never used again;
    earlier builds of a tag rebuilt with ``--force`` (our label, no tag left) go too. An image
    that a container still uses is kept (the engine refuses to remove it) and listed in
    ``kept_in_use``. ``freed_bytes`` counts images that go entirely. With ``dry_run``, nothing
    is removed.
    """
    client = docker_client()
    keep = keep if keep is not None else find_image()
    used = {c.attrs.get("Image") for c in client.containers.list(all=True)}  # image ids
    report = PruneReport(removed=[], kept_in_use=[], freed_bytes=0)
    for image in client.images.list(name=IMAGE_REPOSITORY):
        stale = sorted(t for t in image.tags if t.startswith(f"{IMAGE_REPOSITORY}:") and t != keep)
        goes_entirely = bool(stale) and len(stale) == len(image.tags)
        if goes_entirely and image.id in used:
            report.kept_in_use += stale
            continue
        removed = [tag for tag in stale if _remove_image(client, tag, tag, report, dry_run)]
        if goes_entirely and removed == stale:
            report.freed_bytes += int(image.attrs.get("Size") or 0)
    for image in client.images.list(filters={"dangling": True, "label": INPUTS_LABEL}):
        name = f"{image.short_id.removeprefix('sha256:')} (untagged)"
        if image.id in used:
            report.kept_in_use.append(name)
        elif _remove_image(client, image.id, name, report, dry_run):
            report.freed_bytes += int(image.attrs.get("Size") or 0)
    return report


def _remove_image(
    client: DockerClient, ref: str, name: str, report: PruneReport, dry_run: bool
) -> bool:
    """Remove (untag) one image reference, noting it in ``report``; False when it stays."""
    if not dry_run:
        try:
            client.images.remove(ref)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise EnvironmentProblem(f"cannot remove image {name}: {_one_line(exc)}") from None
            report.kept_in_use.append(name)  # a container started using it meanwhile
            return False
    report.removed.append(name)
    return True
