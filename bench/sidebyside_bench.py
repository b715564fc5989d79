"""Side by side, whole processes: the bare run, Otter-Grader and ``takehome grade``.

    .venv/bin/python bench/sidebyside_bench.py [--rounds 5] [--example-rounds 1]
        [--batch-rounds 1] [--skip examples,batch] [--otter-venv DIR] [--json OUT]

Every figure is the wall time of a whole process started as a user starts it, so start-up,
imports and set-up are inside it. The sides alternate A/B/C within each round so that a load
change on the (shared) machine affects all of them alike; the medians and the spread are
printed.

A, *bare*
    ``jupyter nbconvert --to notebook --execute`` of the notebook on the host, with
    ``TAKEHOME_DATA_DIR`` at fresh copies of ``train.csv`` and the held-out
    ``test_features.csv`` and ``TAKEHOME_OUTPUT_DIR`` at an empty folder. For a bundled example:
    its run command, each notebook the run stage executes, and ``python -m pytest -q`` when it
    has tests (what takehome's sandbox runs), whatever their exit codes.
B, *Otter*
    ``otter run -a autograder.zip`` of the same notebook (Otter-Grader, no container), with an
    autograder whose one test checks that the predictions file was written. Otter is installed
    by this script into a scratch virtualenv (``--otter-venv``, default under the system's
    temporary folder) from the package index, with the same pandas / scikit-learn / ipykernel
    as takehome's virtualenv; it is never a dependency of takehome. Otter runs notebooks only:
    for a bundled example it runs the notebooks the run stage executes (no run command, no
    tests).
C, *takehome*
    ``takehome grade <assignment> <submission> -o <fresh folder> --json result.json``: image
    check, cached calibration, intake, both sandbox containers, every grader, the rubric, the
    html/json/md reports and the index. Its peak RSS comes from ``wait4``; its stage timings
    from the result's ``run.timings``.

*The notebook* is a small logistic regression on fraud-detection's training data (numeric
columns, median imputation, standard scaling) that writes ``predictions.csv``.

*The batch*: 20 generated diabetes-progression notebooks (the mean model of bench/common.py,
a different constant each) graded by one ``takehome grade ... -j 2`` process per side and by
one ``-j 1`` process (one at a time), alternating, each into a fresh folder; per submission =
batch time / 20.

*Sides*: ``--checkout REV`` grades with a revision exported by ``git archive`` (a frozen tree:
edits in the working tree change the harness fingerprint, hence the calibration cache key);
``--baseline REV`` adds a *before* side graded the same way, alternating with the *after*
side within each round, so a before/after comparison shares the machine's load. Each side and
assignment is graded once untimed first (calibration cached, as after a user's first run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import (
        ASSIGNMENTS,
        REPO,
        git_revision,
        loadavg,
        machine,
        machine_line,
        write_sections,
        write_trivial_submission,
    )
except ImportError:
    from common import (  # type: ignore[no-redef]
        ASSIGNMENTS,
        REPO,
        git_revision,
        loadavg,
        machine,
        machine_line,
        write_sections,
        write_trivial_submission,
    )

SECTION_HEADING = "## Side by side: bare, Otter-Grader and takehome, whole processes"
VENV_BIN = Path(sys.executable).parent
TAKEHOME = VENV_BIN / "takehome"
ENTRY_POINT = ("import sys; import harness.cli as c; sys.argv[0] = 'takehome'; "
               "getattr(c, 'run', c.main)()")
OTTER_PACKAGES = ("otter-grader",)  # newest release; the kernel's packages follow takehome's
KERNEL_PACKAGES = ("pandas", "numpy", "scikit-learn", "ipykernel")
BATCH_SIZE = 20
#: Calibration cache of exported revisions (keyed by the harness fingerprint and image).
CACHE_DIR = Path(tempfile.gettempdir()) / "takehome-bench-cache"

NOTEBOOK_CELLS = [
    ("import os\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler"),
    ("data_dir = os.environ.get('TAKEHOME_DATA_DIR', 'data')\n"
    "out_dir = os.environ.get('TAKEHOME_OUTPUT_DIR', 'outputs')\n"
    "train = pd.read_csv(os.path.join(data_dir, 'train.csv'))\n"
    "test = pd.read_csv(os.path.join(data_dir, 'test_features.csv'))\n"
    "train.shape, test.shape"),
    ("features = [c for c in train.select_dtypes('number').columns\n"
    "            if c not in ('transaction_id', 'is_fraud')]\n"
    "medians = train[features].median()\n"
    "model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))\n"
    "model.fit(train[features].fillna(medians), train['is_fraud'])"),
    ("score = model.predict_proba(test[features].fillna(medians))[:, 1]\n"
    "os.makedirs(out_dir, exist_ok=True)\n"
    "pd.DataFrame({'transaction_id': test['transaction_id'], 'score': score,\n"
    "              'label': (score >= 0.5).astype(int)})"
    ".to_csv(os.path.join(out_dir, 'predictions.csv'), index=False)"),
]

OTTER_TEST = {
    "name": "q1",
    "points": 1,
    "suites": [{
        "cases": [{
            "code": ">>> import os\n>>> os.path.isfile(os.path.join("
                    "os.environ['TAKEHOME_OUTPUT_DIR'], 'predictions.csv'))\nTrue",
            "hidden": False,
            "locked": False,
        }],
        "scored": True,
        "setup": "",
        "teardown": "",
        "type": "doctest",
    }],
}


def write_notebook(path: Path) -> Path:
    """The logistic-regression notebook (nbformat 4 JSON)."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
              "outputs": [], "source": source} for i, source in enumerate(NOTEBOOK_CELLS)]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


# --- processes -----------------------------------------------------------------------------------


def run_process(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
                check: bool = True) -> dict[str, Any]:
    """Wall time, exit code and peak RSS (MB, from wait4) of one whole process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        tail = log.read().decode("utf-8", "replace")[-2000:]
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}:\n{tail}")
    return {"seconds": seconds, "exit": proc.returncode, "rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime, "tail": tail}


def _env(data: Path, output: Path, bin_dir: Path = VENV_BIN) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "TAKEHOME_DATA_DIR": str(data),
        "TAKEHOME_OUTPUT_DIR": str(output),
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
    })
    env.pop("VIRTUAL_ENV", None)
    return env


def _fresh_io(root: Path, assignment: Any) -> tuple[Path, Path]:
    if root.exists():
        shutil.rmtree(root)
    data, output = root / "data", root / "output"
    data.mkdir(parents=True)
    output.mkdir()
    shutil.copyfile(assignment.train_csv, data / "train.csv")
    shutil.copyfile(assignment.hidden_features_csv, data / "test_features.csv")
    return data, output


def _plan(source: Path, assignment: Any, scratch: Path) -> dict[str, Any]:
    """What the run stage would run for ``source``: command, notebooks, tests."""
    from harness.assignment import RunConfigError, run_command_for
    from harness.intake import IntakeCaps, ingest
    from harness.stages import is_test_file, select_notebooks

    snapshot = ingest(source, scratch / "snapshots", IntakeCaps())
    try:
        command = run_command_for(snapshot.root, assignment.spec)
    except RunConfigError:
        command = None
    return {
        "command": command,
        "notebooks": select_notebooks(snapshot, assignment),
        "tests": any(is_test_file(rel) for rel in snapshot.python_files),
    }


def bare(source: Path, assignment: Any, plan: dict[str, Any], scratch: Path,
         one_cpu: bool = False) -> float:
    """A: the submission's command, notebooks and tests on the host (one process each);
    ``one_cpu``: pinned to one core (``taskset -c 0``), as the sandbox's ``cpus: 1`` limits it."""
    t0 = time.perf_counter()
    pin = ["taskset", "-c", "0"] if one_cpu else []
    data, output = _fresh_io(scratch / "bare", assignment)
    workspace = scratch / "bare" / "workspace"
    if source.is_dir():
        shutil.copytree(source, workspace, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        workspace.mkdir()
        shutil.copyfile(source, workspace / source.name)
    env = _env(data, output)
    if plan["command"]:
        run_process([*pin, *plan["command"]], workspace, env, check=False)
    for rel in plan["notebooks"]:
        nb = workspace / rel
        run_process([*pin, str(VENV_BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                     "--output-dir", str(scratch / "bare" / "executed"), nb.name],
                    nb.parent, env, check=False)
    if plan["tests"]:
        run_process([*pin, str(VENV_BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                    workspace, env, check=False)
    return time.perf_counter() - t0


def otter(source: Path, assignment: Any, plan: dict[str, Any], scratch: Path,
          otter_bin: Path, autograder: Path) -> float | None:
    """B: ``otter run`` of each notebook the run stage executes (None: nothing Otter runs)."""
    if not plan["notebooks"]:
        return None
    t0 = time.perf_counter()
    data, output = _fresh_io(scratch / "otter", assignment)
    workspace = scratch / "otter" / "workspace"
    if source.is_dir():
        shutil.copytree(source, workspace, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        workspace.mkdir()
        shutil.copyfile(source, workspace / source.name)
    env = _env(data, output, otter_bin)
    for i, rel in enumerate(plan["notebooks"]):
        results = scratch / "otter" / f"results-{i}"
        results.mkdir()
        run_process([str(otter_bin / "otter"), "run", "-a", str(autograder), "-o", str(results),
                     str(workspace / rel)], workspace, env, check=False)
    return time.perf_counter() - t0


def takehome(slug: str, sources: list[Path], scratch: Path, jobs: int | None = None,
             checkout: Path = REPO) -> dict:
    """C: ``takehome grade`` as a user runs it, into a fresh folder; result of a single one.

    ``checkout``: the source tree takehome runs from (an exported revision: PYTHONPATH)."""
    out = scratch / "takehome-out"
    if out.exists():
        shutil.rmtree(out)
    # An exported revision runs its own console entry point (older ones have no cli.run).
    entry = ([str(VENV_BIN / "python"), "-c", ENTRY_POINT] if checkout != REPO
             else [str(TAKEHOME)])
    argv = [*entry, "grade", slug, *map(str, sources), "-o", str(out)]
    if jobs is not None:
        argv += ["-j", str(jobs)]
    if len(sources) == 1:
        argv += ["--json", str(scratch / "result.json")]
    env = dict(os.environ)
    env.setdefault("COLUMNS", "100")
    if checkout != REPO:  # an exported revision; calibrations kept across benchmark runs
        env["PYTHONPATH"] = str(checkout)
        env["TAKEHOME_CACHE_DIR"] = str(CACHE_DIR)
    done = run_process(argv, checkout, env, check=False)
    if done["exit"] not in (0, 1):  # 1: a submission did not grade (broken examples)
        raise RuntimeError(f"takehome grade exited with {done['exit']}:\n{done['tail']}")
    if len(sources) == 1:
        result = json.loads((scratch / "result.json").read_text(encoding="utf-8"))
        done["status"] = result["status"]
        done["total"] = result.get("total")
        done["levels"] = {c["id"]: c.get("level") for c in
                          (result.get("rubric") or {}).get("criteria", [])}
        done["timings"] = result["run"]["timings"]
    else:
        statuses: dict[str, int] = {}
        for path in out.glob("*/result.json"):
            status = json.loads(path.read_text(encoding="utf-8"))["status"]
            statuses[status] = statuses.get(status, 0) + 1
        done["statuses"] = statuses
    return done


def export_revision(revision: str, dest: Path) -> Path:
    """``git archive`` of ``revision`` into ``dest``: a frozen checkout that edits in the
    working tree (which invalidate the calibration cache) cannot change mid-benchmark."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def warm_up(slugs: list[str], scratch: Path, sides: dict[str, Path], log=print) -> None:
    """One untimed ``takehome grade`` per assignment and side: builds the calibration cache,
    as a user's first grading of an assignment does once."""
    notebook = write_notebook(scratch / "warm-up" / "solution.ipynb")
    for side, checkout in sides.items():
        for slug in slugs:
            done = takehome(slug, [notebook], scratch / "warm-up", checkout=checkout)
            log(f"  warm-up {side} {slug}: {done['seconds']:.1f} s (calibration cached)")


# --- Otter set-up ----------------------------------------------------------------------------------


def _installed_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def ensure_otter(venv: Path, log=print) -> Path:
    """A scratch virtualenv with Otter-Grader and takehome's kernel packages; its bin folder."""
    bin_dir = venv / "bin"
    if not (bin_dir / "otter").exists():
        log(f"installing Otter-Grader into {venv} (scratch virtualenv, not a takehome "
            "dependency)...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pins = [f"{name}=={_installed_version(name)}" for name in KERNEL_PACKAGES]
        subprocess.run([str(bin_dir / "pip"), "install", "-q", *OTTER_PACKAGES, *pins],
                       check=True)
    return bin_dir


def otter_version(bin_dir: Path) -> str:
    done = subprocess.run([str(bin_dir / "python"), "-c",
                           "import otter; print(otter.__version__)"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def build_autograder(bin_dir: Path, folder: Path) -> Path:
    """``otter generate`` of one test (the predictions file exists) into autograder.zip."""
    tests = folder / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (tests / "q1.py").write_text("test = " + repr(OTTER_TEST) + "\n", encoding="utf-8")
    subprocess.run([str(bin_dir / "otter"), "generate", "-t", str(tests), "-o", str(folder / "autograder.zip")],
                   cwd=folder, check=True, capture_output=True)
    return folder / "autograder.zip"


# --- rounds --------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def med(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def side_by_side(cases: list[tuple[str, str, Path]], rounds: int, scratch: Path,
                 otter_bin: Path, autograder: Path, sides: dict[str, Path],
                 one_cpu: bool = False, log=print) -> list[dict[str, Any]]:
    """Alternate bare, Otter and each takehome side on every case for ``rounds`` rounds."""
    from harness.assignment import load_assignment

    rows = []
    for label, slug, source in cases:
        assignment = load_assignment(slug)
        plan = _plan(source, assignment, scratch / "plan")
        rows.append({"label": label, "slug": slug, "source": source, "assignment": assignment,
                     "plan": plan, "bare": [], "otter": [], "bare_1cpu": [],
                     "sides": {side: [] for side in sides}})
    for i in range(rounds):
        for row in rows:
            case = scratch / "case"
            row["bare"].append(bare(row["source"], row["assignment"], row["plan"], case))
            if one_cpu:
                row["bare_1cpu"].append(bare(row["source"], row["assignment"], row["plan"],
                                             case, one_cpu=True))
            row["otter"].append(otter(row["source"], row["assignment"], row["plan"], case,
                                      otter_bin, autograder))
            said = []
            for side, checkout in sides.items():
                graded = takehome(row["slug"], [row["source"]], case, checkout=checkout)
                row["sides"][side].append(graded)
                said.append(f"{side} {graded['seconds']:.2f} s ({graded['status']}, total "
                            f"{graded['total']}, rss {graded['rss_mb']:.0f} MB)")
            o = row["otter"][-1]
            log(f"  round {i + 1}/{rounds} {row['label']}: bare {row['bare'][-1]:.2f} s, "
                f"otter {'–' if o is None else f'{o:.2f} s'}, " + ", ".join(said), flush=True)
    return rows


def batch(rounds: int, scratch: Path, sides: dict[str, Path], serial: bool = True,
          log=print) -> dict[str, list]:
    """20 small submissions: one ``-j 2`` process per side, then the last side at ``-j 1``."""
    folder = scratch / "batch-submissions"
    sources = [write_trivial_submission(folder / f"sub-{i:02d}", offset=float(i))
               for i in range(BATCH_SIZE)]
    runs = [(f"{side} -j 2", checkout, 2) for side, checkout in sides.items()]
    last_side, last_checkout = list(sides.items())[-1]
    if serial:
        runs.append((f"{last_side} -j 1", last_checkout, 1))
    figures: dict[str, list] = {label: [] for label, _, _ in runs}
    for i in range(rounds):
        for label, checkout, jobs in runs:
            done = takehome("diabetes-progression", sources, scratch / "batch", jobs,
                            checkout=checkout)
            figures[label].append(done)
            log(f"  round {i + 1}/{rounds} batch of {BATCH_SIZE}, {label}: "
                f"{done['seconds']:.1f} s, {done['statuses']}, rss {done['rss_mb']:.0f} MB",
                flush=True)
    return figures


def _ratio(a: float | None, b: float | None) -> str:
    return f"**{a / b:.2f}**" if a and b else "–"


def report(rows: list[dict[str, Any]], batches: dict[str, list] | None,
           meta: dict[str, Any]) -> str:
    sides = meta["sides"]
    lines = [(f"Measured {meta['started']} → {meta['finished']} UTC on {meta['machine']}; "
              f"takehome sides: {', '.join(f'{k} = {v}' for k, v in sides.items())}; "
              f"Otter-Grader {meta['otter']}; load average (1/5/15 min) {meta['load_start']} → "
              f"{meta['load_end']}. Produced by `{meta['command']}`."), ""]
    if rows:
        head = ["submission", "rounds", "bare (s)", "Otter (s)"]
        for side in sides:
            head += [f"{side} (s)", f"{side} / bare", f"{side} / Otter"]
        head += ["peak RSS (MB)", "status, total"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in rows:
            b, o = med(row["bare"]), med(row["otter"])
            cells = [row["label"], str(len(row["bare"])), spread(row["bare"]),
                     spread(row["otter"])]
            for side in sides:
                secs = [r["seconds"] for r in row["sides"][side]]
                cells += [spread(secs), _ratio(med(secs), b), _ratio(med(secs), o)]
            cells.append(" / ".join(f"{max(r['rss_mb'] for r in row['sides'][side]):.0f}"
                                    for side in sides))
            cells.append(" / ".join(f"{row['sides'][side][0]['status']}, "
                                    f"{row['sides'][side][0]['total']}" for side in sides))
            lines.append("| " + " | ".join(cells) + " |")
        for row in rows:
            if row["bare_1cpu"]:
                lines.append(f"\n{row['label']}: bare pinned to one core (`taskset -c 0`, the "
                             f"sandbox's `cpus: 1`) {spread(row['bare_1cpu'])} s.")
        lines += ["", "Median stage timings (s, the result's `run.timings`):"]
        for row in rows:
            for side in sides:
                runs = row["sides"][side]
                keys = sorted({k for r in runs for k in r["timings"]})
                stats = ", ".join(f"{k} {med([r['timings'].get(k) for r in runs]):.2f}"
                                  for k in keys)
                lines.append(f"- {row['label']}, {side}: {stats}")
    if batches:
        lines += ["", (f"| batch of {BATCH_SIZE} | rounds | batch time (s) | per submission (s) "
                  "| harness CPU per submission (s) | statuses | harness peak RSS (MB) |"),
                  "|---|---|---|---|---|---|---|"]
        for label, runs in batches.items():
            secs = [r["seconds"] for r in runs]
            lines.append("| " + " | ".join([
                label, str(len(runs)), spread(secs), f"{statistics.median(secs) / BATCH_SIZE:.2f}",
                f"{statistics.median(r['cpu_s'] for r in runs) / BATCH_SIZE:.2f}",
                ", ".join(f"{n} {s}" for s, n in sorted(runs[0]["statuses"].items())),
                f"{max(r['rss_mb'] for r in runs):.0f}",
            ]) + " |")
        medians = {label: statistics.median(r["seconds"] for r in runs)
                   for label, runs in batches.items()}
        labels = list(medians)
        if len(labels) >= 3:
            before, after, serial = labels[0], labels[1], labels[-1]
            lines.append(f"\n{before} / {after}: {medians[before] / medians[after]:.2f}× faster; "
                         f"{serial} / {after}: {medians[serial] / medians[after]:.2f}×.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds for the notebook")
    parser.add_argument("--example-rounds", type=int, default=1,
                        help="rounds for the bundled examples")
    parser.add_argument("--batch-rounds", type=int, default=1)
    parser.add_argument("--no-batch-serial", action="store_true",
                        help="skip the -j 1 batch (before/after -j 2 rounds only)")
    parser.add_argument("--skip", default="", help="comma separated: notebook,examples,batch")
    parser.add_argument("--otter-venv", type=Path,
                        default=Path(tempfile.gettempdir()) / "takehome-bench-otter-venv")
    parser.add_argument("--json", type=Path, default=None, help="also write raw figures here")
    parser.add_argument("--write", action="store_true",
                        help="replace the 'Side by side' figures in docs/benchmarks.md")
    parser.add_argument("--checkout", default=None, metavar="REV",
                        help="grade with this git revision, exported to a scratch folder "
                        "(default: the working tree as it is)")
    parser.add_argument("--bare-one-cpu", action="store_true",
                        help="also run the notebook bare on one core (taskset -c 0)")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help="also grade with this revision (exported), alternating: the "
                        "'before' side of a before/after comparison")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    meta = {"started": started, "load_start": loadavg(), "machine": machine_line(machine()),
            "command": "python bench/sidebyside_bench.py " + " ".join(sys.argv[1:])}
    otter_bin = ensure_otter(args.otter_venv)
    meta["otter"] = otter_version(otter_bin)
    rows: list[dict[str, Any]] = []
    batches = None
    with tempfile.TemporaryDirectory(prefix="takehome-sidebyside-") as tmp:
        scratch = Path(tmp)
        sides: dict[str, Path] = {}
        if args.baseline:
            sides["before"] = export_revision(args.baseline, scratch / "before")
        after = args.checkout and export_revision(args.checkout, scratch / "after")
        sides["takehome" if not args.baseline else "after"] = after or REPO
        meta["sides"] = {side: (args.baseline if side == "before" else
                                args.checkout or git_revision()) for side in sides}
        warm_up(sorted({p.parent.parent.name for p in ASSIGNMENTS.glob("*/examples/*")}),
                scratch, sides)
        autograder = build_autograder(otter_bin, scratch / "otter-autograder")
        if "notebook" not in skip:
            notebook = write_notebook(scratch / "logreg" / "solution.ipynb")
            rows += side_by_side([("logistic regression notebook (fraud-detection)",
                                   "fraud-detection", notebook)],
                                 args.rounds, scratch, otter_bin, autograder, sides,
                                 one_cpu=args.bare_one_cpu)
        if "examples" not in skip:
            cases = [(f"{p.parent.parent.name}/{p.name}", p.parent.parent.name, p)
                     for p in sorted(ASSIGNMENTS.glob("*/examples/*")) if p.is_dir()]
            rows += side_by_side(cases, args.example_rounds, scratch, otter_bin, autograder,
                                 sides)
        if "batch" not in skip:
            batches = batch(args.batch_rounds, scratch, sides, serial=not args.no_batch_serial)
    meta["finished"] = time.strftime("%H:%M", time.gmtime())
    meta["load_end"] = loadavg()
    text = report(rows, batches, meta)
    print()
    print(text, flush=True)
    if args.write:
        write_sections([("sidebyside", SECTION_HEADING, text)])
    if args.json:
        raw = {"meta": meta, "rows": [{k: v for k, v in r.items()
                                       if k not in ("assignment", "source")} for r in rows],
               "batches": batches}
        args.json.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
