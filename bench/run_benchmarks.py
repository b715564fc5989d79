"""Grading benchmarks (issues 4 and 6): stage split, overhead versus a bare run, batch scaling.

    make bench      # = .venv/bin/python bench/run_benchmarks.py --serial-comparison (~10 min)
    .venv/bin/python bench/run_benchmarks.py --quick          # smoke run, docs left alone
    .venv/bin/python bench/run_benchmarks.py [--submissions 20] [--jobs 2] [--no-write]
        [--skip stages,overhead,batch] [--rounds 2] [--serial-comparison]

Measures side by side, in one run on this machine:

1. per-submission grading time split by stage for the bundled examples (bench/stage_split.py);
2. the overhead ratio, graded / bare, for a trivial and a realistic submission
   (bench/overhead_bench.py; target ≤ 1.3);
3. the parallel efficiency of a batch of N distinct submissions at -j J versus -j 1, and
4. the harness process's memory peak during those batches (bench/batch_bench.py; targets
   ≥ 0.85 and < 300 MB): two alternating rounds of -j 1 / -j J by default; with
   --serial-comparison also with each submission's run and checks containers forced one after
   the other, to show what the side-by-side stages of harness/stages.py do to the -j scaling.

Prints every figure, saves the raw numbers to out/bench/results.json and replaces the sections
"## Grading stages", "## Overhead versus a bare run" and "## Batch: parallel efficiency and
memory" of docs/benchmarks.md (between their ``<!-- bench:... -->`` markers; the rest of the
file is kept). ``--quick`` grades fewer examples and a batch of 4 and does not touch the docs
unless ``--write`` is given. The sandbox image is built first when missing (no-op when current).
The sandbox's own figures are bench/sandbox_bench.py's ("## Sandbox").
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch_bench
import overhead_bench
import stage_split
from common import (
    REPO,
    fmt_s,
    git_revision,
    loadavg,
    machine,
    machine_line,
    settings_for,
    write_sections,
)

QUICK_EXAMPLES = ("fraud-detection/weak", "diabetes-progression/weak",
                  "diabetes-progression/broken")
PARTS = ("stages", "overhead", "batch")


def _header(info: dict[str, Any], image: str, when: str, command: str, loads: list[str]) -> str:
    return (
        f"Measured {when} on {machine_line(info)}; image `{image}`; harness revision "
        f"{info['revision']}. Load average (1/5/15 min) at the start/end of this part: "
        f"{' → '.join(loads)} (a load above 2 means other jobs shared these 2 CPUs: times are then inflated and ratios noisy; re-run `make bench` on an idle machine to check a target). "
        f"Produced by `{command}`."
    )


def stages_body(rows: list[dict[str, Any]], head: str) -> str:
    return "\n".join([
        head,
        "",
        ("Each bundled example graded once, in a fresh work folder, through the Python API "
        "(`ingest_submission` + `grade_snapshot` as `grade_submission` does, then "
        "`render_reports` html/json/md). Seconds; stage times are `result.run.timings` "
        "(harness/stages.py, harness/pipeline.py), containers `result.run.container_starts`. "
        "*sandbox start* = container create + copy of the submission (run and checks "
        "containers summed), *execution* = the run exec (run command and notebooks), *tests* "
        "and *env + lint* = the checks container's execs (the inventory and pylint share one), *copy-out* = both `/output` tar "
        "streams, *teardown* = container removal, *other* = rubric and result building. When "
        "the run and checks containers run side by side the columns overlap and add up to more "
        "than the total."),
        "",
        stage_split.table(rows),
    ])


def overhead_body(rows: list[dict[str, Any]], head: str) -> str:
    lines = [
        head,
        "",
        ("*bare*: the same code on the host, without takehome, in a temporary copy of the "
        "submission with `TAKEHOME_DATA_DIR` at fresh copies of `train.csv` and the held-out "
        "`test_features.csv` (never the labels) and `TAKEHOME_OUTPUT_DIR` at an empty folder: "
        "the run command (if any), `jupyter nbconvert --to notebook --execute` of each notebook "
        "the run stage executes, `python -m pytest -q` when there are tests (tools from "
        "`.venv`, same versions as the image). *graded*: `grade_batch` of that one submission, "
        "`force=True`, fresh output folder (intake, sandbox, host graders, rubric, reports, "
        "index). Medians over the runs, alternating bare and graded."),
        "",
        overhead_bench.table(rows),
        "",
    ]
    for row in rows:
        t = row["graded_timings"]
        parts = ", ".join(f"{k} {fmt_s(v, 1)}" for k, v in t.items() if v >= 0.05)
        name = row["label"].split(" (")[0]
        rest = row["graded"] - t.get("sandbox_total", 0.0) - t.get("host_graders", 0.0)
        lines.append(
            f"- {name}: graded − bare = {fmt_s(row['graded'] - row['bare'])} s. Graded stage "
            f"timings (s, medians): {parts}; outside the sandbox and graders (intake, rubric, "
            f"reports, index): {fmt_s(rest)} s.")
    if rows:
        lines.append("- `prepare_settings` (image check, cached calibration), once per batch "
                     "and not in the figures above: "
                     + ", ".join(f"{r['slug']} {fmt_s(r['prepare_settings'], 1)} s"
                                 for r in rows) + ".")
    return "\n".join(lines)


def batch_body(result: dict[str, Any], head: str) -> str:
    runs = result["runs"]
    return "\n".join([
        head,
        "",
        (f"{result['count']} distinct generated diabetes-progression submissions (the trivial "
        "mean-model notebook with a different constant each), graded as one batch at `-j 1` and "
        f"at `-j {result['jobs']}`, alternating, {result.get('rounds', 1)} round(s) (median "
        "round shown), each batch in a fresh output folder with `force` (no stored "
        "result reused). Each batch runs in a child process doing what `takehome grade "
        f"diabetes-progression <folder> -o OUT -j J --force` does (`prepare_settings`, "
        "`run_batch_with_progress`, `print_summary`); the time is `run_batch_with_progress` "
        "alone (similarity, reports and index included; `prepare_settings` took "
        f"{fmt_s(runs[1]['prepare_settings_s'], 1)} s and is excluded)."),
        "",
        batch_bench.table(result),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 small examples, trivial overhead once, batch of 4")
    parser.add_argument("--submissions", type=int, default=None, help="batch size (20)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating -j 1 / -j J batch rounds (2; 1 with --quick)")
    parser.add_argument("--serial-comparison", action="store_true",
                        help="also batches with each submission's stages forced serial")
    parser.add_argument("--skip", default="", help="comma-separated: stages,overhead,batch")
    parser.add_argument("--write", action="store_true", help="update the docs even with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    raw_args = argv if argv is not None else sys.argv[1:]
    command = ".venv/bin/python bench/run_benchmarks.py" + (
        " " + shlex.join(raw_args) if raw_args else "")
    if not raw_args:
        command = "make bench"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) to skip: {sorted(unknown)}")
    count = args.submissions or (4 if args.quick else 20)
    write = (args.write or not args.quick) and not args.no_write

    started = time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    info["revision"] = git_revision()
    print(f"machine: {machine_line(info)}; revision {info['revision']}; load {loadavg()}")
    cache: dict[str, Any] = {}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="takehome-bench-settings-") as tmp:
        for slug in ("fraud-detection", "diabetes-progression"):
            cache[slug] = settings_for(slug, Path(tmp) / slug)
            print(f"settings for {slug}: image {cache[slug][1].image}, "
                  f"{cache[slug][2]:.1f} s (image check + calibration)")
        image = cache["diabetes-progression"][1].image
        results: dict[str, Any] = {"date": when, "machine": info, "image": image,
                                   "command": command}
        sections: list[tuple[str, str, str]] = []

        failures: dict[str, str] = {}

        def attempt(part: str, action):
            """Run one part; a failure (the harness is changing under us) is reported, the
            other parts still run, and that part's section of the docs is left as it was."""
            try:
                return action()
            except Exception as exc:  # noqa: BLE001
                import traceback

                failures[part] = f"{type(exc).__name__}: {exc}"
                print(f"!! {part} failed:\n{traceback.format_exc()}", file=sys.stderr)
                return None

        if "stages" not in skip:
            print("\n== grading stages ==")
            loads = [loadavg()]
            examples = QUICK_EXAMPLES if args.quick else stage_split.EXAMPLES
            rows = attempt("stages", lambda: stage_split.measure(examples, settings_cache=cache))
        if "stages" not in skip and rows is not None:
            loads.append(loadavg())
            print(stage_split.table(rows))
            results["stages"] = rows
            sections.append(("stages", "## Grading stages",
                             stages_body(rows, _header(info, image, when, command, loads))))
            if write:
                write_sections(sections[-1:])  # at once: a later failure keeps it

        if "overhead" not in skip:
            print("\n== overhead versus a bare run ==")
            loads = [loadavg()]
            rows = attempt("overhead", lambda: overhead_bench.measure(
                1 if args.quick else 3, 0 if args.quick else 2, settings_cache=cache))
        if "overhead" not in skip and rows is not None:
            loads.append(loadavg())
            print(overhead_bench.table(rows))
            results["overhead"] = rows
            sections.append(("overhead", "## Overhead versus a bare run",
                             overhead_body(rows, _header(info, image, when, command, loads))))
            if write:
                write_sections(sections[-1:])  # at once: a later failure keeps it

        if "batch" not in skip:
            print(f"\n== batch of {count}: -j 1 versus -j {args.jobs} ==")
            loads = [loadavg()]
            batch = attempt("batch", lambda: batch_bench.measure(
                count, args.jobs, rounds=args.rounds or (1 if args.quick else 2),
                serial_comparison=args.serial_comparison))
        if "batch" not in skip and batch is not None:
            loads.append(loadavg())
            print(batch_bench.table(batch))
            results["batch"] = batch
            sections.append(("batch", "## Batch: parallel efficiency and memory",
                             batch_body(batch, _header(info, image, when, command, loads))))
            if write:
                write_sections(sections[-1:])  # at once: a later failure keeps it

    results["failures"] = failures
    results["seconds"] = time.perf_counter() - started
    out = REPO / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nraw figures: {out / 'results.json'}; whole run {results['seconds'] / 60:.1f} min")
    if write and sections:
        print(f"updated {REPO / 'docs' / 'benchmarks.md'}: {', '.join(k for k, _, _ in sections)}")
    for part, error in failures.items():
        print(f"FAILED {part}: {error} (its section of docs/benchmarks.md was left as it was)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
