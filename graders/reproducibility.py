"""Reproducibility grader: does the work run again, from scratch, somewhere else?

* ``reproducibility.runs_clean``: the sandbox ran the notebook / run command top to bottom in a
  clean environment (stage verdict and the first failing cell). Not scored with ``--no-run``.
* ``reproducibility.execution_order``: the submitted notebooks' stored execution counts are
  1, 2, 3, ... in cell order (out of order or gaps mean hidden state when they were saved).
* ``reproducibility.dependencies_declared`` / ``reproducibility.dependencies_satisfied``:
  requirements.txt, pyproject.toml, environment.yml, setup.cfg or Pipfile, and whether the
  sandbox image's installed packages satisfy them.

Run time and peak memory of each stage go to ``details``.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from graders.artifacts import read_bytes_capped, read_json_capped, read_notebook_capped
from graders.base import Artifacts, Check, Evidence, GraderContext, GraderResult, RedFlag, clip
from graders.source import source_for

MAX_DEPENDENCY_FILE_BYTES = 1_000_000
MAX_REQUIREMENTS = 2_000
MAX_EVIDENCE = 10
TRACEBACK_TAIL_CHARS = 600
# ``requirements.txt``, ``requirement.txt``, ``high_requirements.txt``, ``requirements-prod.txt``
REQUIREMENT_FILE = re.compile(r"^([\w.\-]*requirements[\w.\-]*|requirement[\w.\-]*)\.txt$",
                              re.IGNORECASE)
REQUIREMENT_DIRS = frozenset({"requirements", "requirement", "reqs"})  # requirements/base.txt
# requirements-dev.txt, test_requirements.txt, requirements/docs.txt: tooling, not the work's
TOOLING_FILE = re.compile(r"(^|[-_.])(dev|develop|test|tests|testing|docs?|lint|ci)([-_.]|$)",
                          re.IGNORECASE)
SKIPPED_DEPENDENCY_DIRS = frozenset({"node_modules", "site-packages", "venv", ".venv", "env",
                                     "__pycache__", "build", "dist"})
# The run carries this weight when it was not made (--no-run): counted as half passed, so a
# level never rests on one static check alone (a requirements file alone gives level 3 at most).
UNJUDGED_RUN_WEIGHT = 3.0
# ``environment.yml``, ``conda_environment.yaml``, ``conda-env.yml``: a conda environment file
CONDA_FILE = re.compile(r"^([\w\-]*environment[\w\-]*|conda[\w\-]*)\.ya?ml$", re.IGNORECASE)
DEPENDENCY_FILES = ("pyproject.toml", "environment.yml", "environment.yaml", "setup.cfg", "Pipfile")
SKIPPED_CONDA = frozenset({"python", "pip"})
VERDICT_WORDS = {
    "exit_nonzero": "exited with an error",
    "timeout": "did not finish within the time limit",
    "oom": "ran out of memory",
    "pids_exhausted": "started too many processes",
    "output_limit": "wrote more output than allowed",
    "sandbox_error": "could not be run because of a sandbox error",
}


# --------------------------------------------------------------------------- the clean run


def _snapshot_file(root: Path, rel: Any) -> str | None:
    """``rel`` when it names a regular file in the snapshot (no escapes), else None."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
        return None
    try:
        return rel if stat.S_ISREG(os.lstat(root / rel).st_mode) else None
    except (OSError, ValueError):
        return None


def _tail(text: str, limit: int = TRACEBACK_TAIL_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


STATUS_WORDS = {
    "error": "an error",
    "timeout": "a cell that did not finish within its time limit",
    "kernel_died": "the kernel dying (often out of memory)",
    "budget_exhausted": "the run's time budget running out",
    "unreadable": "a notebook file that could not be read",
    "missing": "a missing notebook file",
}


@dataclass(frozen=True)
class NotebookFailure:
    """The first failing cell of one notebook in the sandbox run."""

    path: str
    cell: int | None
    status: str
    ename: str
    evalue: str
    traceback: str

    def describe(self) -> str:
        """``failed at analysis.ipynb cell 7 with KeyError: 'price'``."""
        where = f"{self.path} cell {self.cell}" if self.cell is not None else self.path
        if self.ename:
            return f"failed at {where} with {self.ename}" + (
                f": {clip(self.evalue, 160)}" if self.evalue else ""
            )
        return f"failed at {where} because of {STATUS_WORDS.get(self.status, self.status)}"


def notebook_failures(errors: dict[str, Any]) -> list[NotebookFailure]:
    """Failures from ``Artifacts.notebook_errors``, sorted by path (malformed values dropped)."""
    failures = []
    for path, error in sorted(errors.items(), key=lambda item: str(item[0])):
        if not isinstance(path, str) or not isinstance(error, dict):
            continue
        cell = error.get("cell", error.get("failing_cell"))
        failures.append(
            NotebookFailure(
                path=path[:500],
                cell=cell if isinstance(cell, int) and not isinstance(cell, bool) else None,
                status=clip(str(error.get("status") or "error"), 40),
                ename=clip(str(error.get("ename") or ""), 100),
                evalue=clip(str(error.get("evalue") or ""), 300),
                traceback=str(error.get("traceback") or "")[-20_000:],
            )
        )
    return failures


def describe_failure(verdict: str, reason: str, failures: list[NotebookFailure]) -> str:
    """What went wrong, as the end of "the submission ...": verdict first, then the cell."""
    if failures and verdict in {"ok", "exit_nonzero"}:
        what = failures[0].describe()
    else:
        what = VERDICT_WORDS.get(verdict, f"ended with verdict {verdict}")
        what += f" ({clip(reason, 160)})" if reason else ""
        what += f"; it {failures[0].describe()}" if failures else ""
    if len(failures) > 1:
        what += f" (and {len(failures) - 1} more notebooks failed)"
    return what


def _failure_evidence(failure: NotebookFailure, root: Path) -> list[Evidence]:
    rel = _snapshot_file(root, failure.path)
    cell = failure.cell if rel else None
    summary = f"{failure.ename}: {failure.evalue}" if failure.ename else failure.status
    evidence = [
        Evidence(
            path=rel,
            cell=cell,
            excerpt=clip(summary, 300),
            note="first failing cell"
            if rel
            else f"first failing cell in {clip(failure.path, 200)}",
        )
    ]
    if failure.traceback.strip():
        evidence.append(
            Evidence(path=rel, cell=cell, excerpt=_tail(failure.traceback), note="end of traceback")
        )
    return evidence


@dataclass(frozen=True)
class RunJudgement:
    """The clean-run check, its red flag, and a note for the grader's reason."""

    check: Check | None
    flag: RedFlag | None
    note: str | None


def run_check(artifacts: Artifacts, root: Path) -> RunJudgement:
    """``reproducibility.runs_clean`` and ``reproducibility.failed_to_run`` from the run stage.

    A ``sandbox_error`` verdict is the harness's fault, never the candidate's: not scored.
    """
    stage = artifacts.stages.get("run")
    failures = notebook_failures(artifacts.notebook_errors)
    if stage is None and not failures:
        return RunJudgement(None, None, "the sandbox did not run the submission")
    verdict = stage.verdict if stage is not None else "exit_nonzero"
    if verdict == "sandbox_error":
        return RunJudgement(
            None,
            None,
            "the clean run is not scored: the sandbox failed (not the candidate's fault)",
        )
    if stage is not None and verdict == "ok" and not failures:
        check = Check(
            id="reproducibility.runs_clean",
            passed=True,
            weight=3.0,
            sentence=(
                "The submission ran top to bottom in a clean environment in "
                f"{stage.wall_time_s:.0f} s."
            ),
            evidence=[Evidence(metric=_stage_metric(stage))],
        )
        return RunJudgement(check, None, None)
    evidence = [e for failure in failures for e in _failure_evidence(failure, root)]
    if stage is not None:
        tail = stage.stderr_tail or stage.stdout_tail
        if not failures and tail.strip():
            evidence.append(Evidence(excerpt=_tail(tail), note="end of the run's output"))
        evidence.append(Evidence(metric=_stage_metric(stage)))
    what = describe_failure(verdict, stage.reason if stage else "", failures)
    check = Check(
        id="reproducibility.runs_clean",
        passed=False,
        weight=3.0,
        sentence=f"Run top to bottom in a clean environment, the submission {what}.",
        evidence=evidence,
    )
    flag = RedFlag(
        id="reproducibility.failed_to_run",
        severity="high",
        sentence=f"The submission does not run from scratch: it {what}.",
        evidence=evidence,
    )
    return RunJudgement(check, flag, f"the submission does not run from scratch: it {what}")


def _stage_metric(stage: Any) -> dict[str, float | int | str | None]:
    return {
        "verdict": stage.verdict,
        "wall_time_s": round(stage.wall_time_s, 3),
        "peak_memory_bytes": stage.peak_memory_bytes,
        "exit_code": stage.exit_code,
    }


# --------------------------------------------------------------------------- execution order


def execution_counts(root: Path, path: str) -> list[tuple[int, int | None, str]] | None:
    """``(cell index, execution_count, first source line)`` of each non-empty code cell.

    Read from the notebook as submitted; cell indexes count all cells, like
    :mod:`graders.source`. None when the notebook is unreadable.
    """
    notebook = read_notebook_capped(root / path)
    cells: Any
    if notebook is not None:
        cells = notebook.cells
    else:
        document = read_json_capped(root / path)
        cells = document.get("cells") if isinstance(document, dict) else None
        if not isinstance(cells, list):
            return None
    found = []
    index = -1
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        index += 1
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        source = (
            "".join(s for s in source if isinstance(s, str))
            if isinstance(source, list)
            else (source if isinstance(source, str) else "")
        )
        if not source.strip():
            continue
        count = cell.get("execution_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        found.append((index, count, clip(first, 160)))
    return found


def order_problems(counts: list[tuple[int, int | None, str]]) -> list[tuple[int, str, str]]:
    """``(cell, problem, first line)`` where stored counts break 1, 2, 3, ... order."""
    if all(count is None for _, count, _ in counts):
        return []
    problems = []
    previous: int | None = 0
    for cell, count, first in counts:
        if count is None:
            problems.append((cell, "not run before saving (no execution count)", first))
            continue
        if previous is not None and count <= previous:
            problems.append((cell, f"execution count {count} after {previous}", first))
        elif previous is not None and count > previous + 1:
            problems.append((cell, f"execution count {count} after {previous} (a gap)", first))
        previous = count
    return problems


def order_check(root: Path, notebooks: list[str]) -> Check | None:
    """``reproducibility.execution_order`` over the submitted notebooks; None without any."""
    problems: list[tuple[str, int, str, str]] = []
    cleared: list[str] = []
    read = 0
    for path in notebooks:
        counts = execution_counts(root, path)
        if not counts:
            continue
        read += 1
        if all(count is None for _, count, _ in counts):
            cleared.append(path)
        problems.extend((path, cell, what, first) for cell, what, first in order_problems(counts))
    if not read:
        return None
    if problems:
        paths = sorted({p for p, _, _, _ in problems})
        sentence = (
            f"The stored execution counts are out of order in {', '.join(paths)} "
            f"({len(problems)} cells): the notebook was saved after running cells in another "
            "order, so its outputs may depend on hidden state."
        )
    elif cleared and len(cleared) == read:
        sentence = "The notebooks were saved with outputs cleared; there is no stored order."
    else:
        sentence = "The stored execution counts run 1, 2, 3, ... in cell order."
    return Check(
        id="reproducibility.execution_order",
        passed=not problems,
        sentence=sentence,
        evidence=[
            Evidence(
                path=path, cell=cell, line=1, excerpt=first or None, note=what, reproduced=False
            )
            for path, cell, what, first in problems[:MAX_EVIDENCE]
        ],
    )


# --------------------------------------------------------------------------- dependencies


@dataclass(frozen=True)
class Declared:
    """One declared dependency: where, and the requirement (None when only a name is known)."""

    path: str
    line: int | None
    text: str
    name: str  # canonical name
    requirement: Requirement | None


def dependency_files(root: Path) -> list[str]:
    """Dependency declaration files, sorted, at the root or in a top-level folder.

    Requirement files are ``*requirements*.txt`` / ``requirement*.txt`` (and any ``.txt`` in a
    ``requirements/`` folder); conda files ``*environment*.yml`` / ``conda*.yml``; and
    ``pyproject.toml``, ``setup.cfg``, ``Pipfile``. A top-level folder counts because
    submissions with a training and a serving part declare each one there
    (``serving/pyproject.toml``). Files for tooling (``requirements-dev.txt``, ``-test``, ``-docs``, ``-lint``) are
    left out: the image need not satisfy them to run the work.
    """
    found = [n for n in _listing(root) if _is_dependency_file(n)]
    for folder in _listing(root):
        if folder.startswith(".") or folder in SKIPPED_DEPENDENCY_DIRS \
                or not _is_dir(root / folder):
            continue
        in_requirements_dir = folder.lower() in REQUIREMENT_DIRS
        found += [f"{folder}/{n}" for n in _listing(root / folder)
                  if _is_dependency_file(n) or (in_requirements_dir and n.lower().endswith(".txt")
                                             and not TOOLING_FILE.search(n[:-4]))]
    return sorted(n for n in found if _snapshot_file(root, n))


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_dependency_file(name: str) -> bool:
    """A requirements file, a conda environment file or another declaration file by name."""
    return _is_requirements(name) or name in DEPENDENCY_FILES or (
        bool(CONDA_FILE.match(name)) and not TOOLING_FILE.search(name.rsplit(".", 1)[0]))


def _is_requirements(name: str) -> bool:
    """A pip requirements file of the work (not of its tooling)."""
    return bool(REQUIREMENT_FILE.match(name)) and not TOOLING_FILE.search(name[:-4])


def read_dependency_text(path: Path) -> str | None:
    """A dependency file's text: UTF-8 (with or without BOM) or UTF-16 (Windows ``pip freeze
    > requirements.txt`` in PowerShell writes UTF-16 with a BOM)."""
    data = read_bytes_capped(path, MAX_DEPENDENCY_FILE_BYTES)
    if data is None:
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if len(data) >= 4 and data[1::2].count(0) > len(data) // 4:  # UTF-16-LE without a BOM
        return data.decode("utf-16-le", errors="replace")
    if len(data) >= 4 and data[0::2].count(0) > len(data) // 4:
        return data.decode("utf-16-be", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle and needle in line:
            return number
    return None


def _declared(path: str, line: int | None, spec: str) -> Declared | str:
    """A parsed requirement, or the text when it cannot be parsed."""
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        return spec
    return Declared(path, line, spec, canonicalize_name(requirement.name), requirement)


def _sort_into(item: Declared | str, declared: list[Declared], unparsed: list[str]) -> None:
    if isinstance(item, Declared):
        declared.append(item)
    else:
        unparsed.append(item)


def parse_requirements_txt(path: str, text: str) -> tuple[list[Declared], list[str]]:
    """Requirement lines of a pip requirements file (options and includes are skipped)."""
    declared: list[Declared] = []
    unparsed: list[str] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if not line or line.startswith("-"):
            continue
        item = _declared(path, start, line)
        _sort_into(item, declared, unparsed)
    return declared, unparsed


def _from_specs(path: str, text: str, specs: list[Any]) -> tuple[list[Declared], list[str]]:
    declared: list[Declared] = []
    unparsed: list[str] = []
    for spec in specs:
        if not isinstance(spec, str) or not spec.strip():
            continue
        spec = spec.strip()
        item = _declared(path, _line_of(text, spec), spec)
        _sort_into(item, declared, unparsed)
    return declared, unparsed


def _names_only(path: str, text: str, names: list[str]) -> list[Declared]:
    out = []
    for name in names:
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]*", name) and name.lower() != "python":
            out.append(Declared(path, _line_of(text, name), name, canonicalize_name(name), None))
    return out


def parse_pyproject(path: str, text: str) -> tuple[list[Declared], list[str]]:
    """``[project] dependencies`` and ``[tool.poetry.dependencies]`` (poetry: names only)."""
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return [], ["pyproject.toml is not valid TOML"]
    project = document.get("project") if isinstance(document.get("project"), dict) else {}
    specs = project.get("dependencies") if isinstance(project.get("dependencies"), list) else []
    declared, unparsed = _from_specs(path, text, specs)
    tool = document.get("tool") if isinstance(document.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    deps = poetry.get("dependencies") if isinstance(poetry.get("dependencies"), dict) else {}
    declared += _names_only(path, text, sorted(str(k) for k in deps))
    return declared, unparsed


def parse_pipfile(path: str, text: str) -> tuple[list[Declared], list[str]]:
    """``[packages]`` of a Pipfile (``"*"`` or a PEP 440 specifier string)."""
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return [], ["Pipfile is not valid TOML"]
    packages = document.get("packages") if isinstance(document.get("packages"), dict) else {}
    specs = []
    for name, value in sorted(packages.items()):
        version = value.get("version") if isinstance(value, dict) else value
        version = version if isinstance(version, str) and version.strip() not in {"", "*"} else ""
        specs.append(f"{name}{version}")
    return _from_specs(path, text, specs)


def _conda_spec(spec: str) -> str | None:
    """``numpy=1.26`` -> ``numpy==1.26.*``; ``conda-forge::x`` -> ``x``; None for python/pip."""
    spec = spec.split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(.*)$", spec)
    if not match or match.group(1).lower() in SKIPPED_CONDA:
        return None
    name, rest = match.group(1), match.group(2).strip()
    conda_pin = re.fullmatch(r"=?([0-9][^=<>!~\s]*)(=\S+)?", rest)  # "=1.26", "=1.26=build", "1.26"
    if conda_pin:
        version = conda_pin.group(1).removesuffix(".*").removesuffix("*").rstrip(".")
        return f"{name}=={version}.*"
    return f"{name}{rest}"


def parse_environment_yml(path: str, text: str) -> tuple[list[Declared], list[str]]:
    """conda ``dependencies`` (with their ``pip:`` list)."""
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return [], [f"{path} is not valid YAML"]
    deps = document.get("dependencies") if isinstance(document, dict) else None
    specs: list[str] = []
    pip_specs: list[str] = []
    for item in deps if isinstance(deps, list) else []:
        if isinstance(item, str):
            spec = _conda_spec(item)
            if spec:
                specs.append(spec)
        elif isinstance(item, dict) and isinstance(item.get("pip"), list):
            pip_specs += [s for s in item["pip"] if isinstance(s, str) and not s.startswith("-")]
    declared, unparsed = _from_specs(path, text, pip_specs)
    for spec in specs:
        item = _declared(path, _line_of(text, spec.split("=")[0].split("<")[0].split(">")[0]), spec)
        _sort_into(item, declared, unparsed)
    return declared, unparsed


def parse_setup_cfg(path: str, text: str) -> tuple[list[Declared], list[str]]:
    """``[options] install_requires`` of a setup.cfg."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except (configparser.Error, RecursionError):
        return [], ["setup.cfg is not valid"]
    raw = parser.get("options", "install_requires", fallback="")
    specs = [line.strip() for line in raw.splitlines() if line.strip()]
    return _from_specs(path, text, specs)


def declared_dependencies(root: Path, files: list[str]) -> tuple[list[Declared], list[str]]:
    """All declared dependencies of ``files`` (first declaration of a name wins) and unparsed."""
    declared: list[Declared] = []
    unparsed: list[str] = []
    for name in files:
        text = read_dependency_text(root / name)
        if text is None:
            unparsed.append(f"{name} could not be read")
            continue
        base = name.rsplit("/", 1)[-1]
        if base.endswith(".txt"):
            found = parse_requirements_txt(name, text)
        elif base == "pyproject.toml":
            found = parse_pyproject(name, text)
        elif base == "Pipfile":
            found = parse_pipfile(name, text)
        elif base.lower().endswith((".yml", ".yaml")):
            found = parse_environment_yml(name, text)
        else:
            found = parse_setup_cfg(name, text)
        declared += found[0]
        unparsed += [clip(u, 120) for u in found[1]]
    seen: set[str] = set()
    unique = []
    for item in declared[:MAX_REQUIREMENTS]:
        if item.name not in seen:
            seen.add(item.name)
            unique.append(item)
    return unique, unparsed[:MAX_EVIDENCE]


def unsatisfied(
    declared: list[Declared], installed: dict[str, str], python_version: str
) -> list[tuple[Declared, str]]:
    """Declared dependencies the image does not satisfy, with why."""
    environment = {
        "python_version": ".".join(python_version.split(".")[:2]),
        "python_full_version": python_version,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    problems = []
    for item in declared:
        requirement = item.requirement
        if requirement is not None and requirement.marker is not None:
            try:
                if not requirement.marker.evaluate(environment):
                    continue
            except (InvalidMarker, ValueError, KeyError):
                pass
        version = installed.get(item.name)
        if version is None:
            problems.append((item, "not installed"))
            continue
        if requirement is None or not str(requirement.specifier):
            continue
        try:
            ok = requirement.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append((item, f"installed {version}, wanted {requirement.specifier}"))
    return problems


def dependency_checks(
    root: Path, artifacts: Artifacts | None
) -> tuple[list[Check], dict[str, Any]]:
    """``reproducibility.dependencies_declared`` and, with the image's package list,
    ``reproducibility.dependencies_satisfied``."""
    files = dependency_files(root)
    details: dict[str, Any] = {"dependency_files": files}
    if not files:
        return [
            Check(
                id="reproducibility.dependencies_declared",
                passed=False,
                sentence="No dependency declaration (requirements.txt, pyproject.toml, "
                "environment.yml, setup.cfg or Pipfile) at the submission root or in a "
                "top-level folder.",
            )
        ], details
    declared, unparsed = declared_dependencies(root, files)
    details["declared"] = len(declared)
    details["unparsed"] = unparsed
    checks = [
        Check(
            id="reproducibility.dependencies_declared",
            passed=bool(declared),
            sentence=(
                f"{len(declared)} dependenc{'y is' if len(declared) == 1 else 'ies are'} "
                f"declared in {', '.join(files)}."
                if declared
                else f"{', '.join(files)} declare no dependency that could be read."
            ),
            evidence=[Evidence(path=name, line=1) for name in files],
        )
    ]
    environment = None
    if artifacts is not None and artifacts.environment_json is not None:
        environment = read_json_capped(artifacts.environment_json)
    packages = environment.get("packages") if isinstance(environment, dict) else None
    if not declared or not isinstance(packages, dict):
        details["satisfied"] = None
        return checks, details
    installed = {
        canonicalize_name(str(k)): str(v)
        for k, v in packages.items()
        if isinstance(k, str) and isinstance(v, str)
    }
    python = environment.get("python") if isinstance(environment.get("python"), str) else "3.11"
    problems = unsatisfied(declared, installed, python)
    details["unsatisfied"] = [f"{d.text}: {why}" for d, why in problems]
    names = ", ".join(d.text for d, _ in problems[:MAX_EVIDENCE])
    checks.append(
        Check(
            id="reproducibility.dependencies_satisfied",
            passed=not problems,
            sentence=(
                f"The sandbox image satisfies all {len(declared)} declared dependencies."
                if not problems
                else f"{len(problems)} of {len(declared)} declared dependencies are not "
                f"satisfied by the sandbox image: {names}."
            ),
            evidence=[
                Evidence(path=d.path, line=d.line, excerpt=d.text, note=why)
                for d, why in problems[:MAX_EVIDENCE]
            ],
        )
    )
    return checks, details


# --------------------------------------------------------------------------- grader


def not_judged_statically(has_notebooks: bool) -> list[str]:
    """What a static grading (``--no-run``) cannot say about reproducibility."""
    missing = ["whether the work runs from a clean environment (no run was made)",
               "whether the sandbox image satisfies the declared versions"]
    if not has_notebooks:
        missing.append("notebook execution order (no notebook submitted)")
    return missing


def static_result(result: GraderResult, root: Path, has_notebooks: bool) -> GraderResult:
    """The static score: the run that was not made counts as half passed, with its weight.

    The run is most of the criterion; without it a level would rest on one or two file checks
    ("1 of 1 checks passed" would be level 4). With the unjudged run at half credit a declared
    requirements file alone reaches level 3, nothing declared level 1 (then capped), and the
    report lists what could not be judged.
    """
    total = sum(c.weight for c in result.checks) + UNJUDGED_RUN_WEIGHT
    passed = sum(c.weight for c in result.checks if c.passed) + UNJUDGED_RUN_WEIGHT / 2
    missing = not_judged_statically(has_notebooks)
    details = dict(result.details) | {
        "not_judged_statically": missing,
        "unjudged_run_weight": UNJUDGED_RUN_WEIGHT,
        "judged_checks": len(result.checks),
    }
    judged = sum(1 for c in result.checks if c.passed)
    reason = (f"{judged} of {len(result.checks)} statically judged reproducibility checks passed; "
              f"not judged: {'; '.join(missing)}, so the unmade run counts as half passed "
              f"(weight {UNJUDGED_RUN_WEIGHT:g}).")
    return result.model_copy(update={"score": round(passed / total, 6), "details": details,
                                     "reason": reason})



class ReproducibilityGrader:
    """Judges whether the work can be run again from scratch."""

    name = "reproducibility"
    version = "2"

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the clean run, the notebooks' stored order and the declared dependencies."""
        root = context.snapshot_root
        artifacts = context.artifacts
        source = source_for(context)
        checks: list[Check] = []
        red_flags: list[RedFlag] = []
        details: dict[str, Any] = {}
        notes: list[str] = []
        if artifacts is None:
            notes.append("the clean run is not scored (graded with --no-run)")
        else:
            details["stages"] = {
                name: _stage_metric(stage) for name, stage in sorted(artifacts.stages.items())
            }
            run = artifacts.stages.get("run")
            if run is not None:
                details["run_wall_time_s"] = round(run.wall_time_s, 3)
                details["run_peak_memory_bytes"] = run.peak_memory_bytes
            judgement = run_check(artifacts, root)
            if judgement.check is not None:
                checks.append(judgement.check)
            if judgement.flag is not None:
                red_flags.append(judgement.flag)
            if judgement.note is not None:
                notes.append(judgement.note)
        order = order_check(root, sorted(source.notebook_cells))
        if order is not None:
            checks.append(order)
        dependency, dependency_details = dependency_checks(root, artifacts)
        checks.extend(dependency)
        details.update(dependency_details)
        passed = sum(1 for c in checks if c.passed)
        reason = f"{passed} of {len(checks)} reproducibility checks passed"
        reason += "; " + "; ".join(notes) + "." if notes else "."
        result = GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )
        if artifacts is None:
            return static_result(result, root, order is not None)
        return result
