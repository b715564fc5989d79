"""Run stage (in the sandbox): execute the submission's run command and/or its notebooks.

Usage (cwd /workspace, as the candidate user)::

    python3 -I /opt/takehome/run_stage.py [--command-json '["python", "predict.py"]']
        [--notebook REL]... [--cell-timeout S] [--budget S] [--workspace DIR]

The host decides what runs (the run command from takehome.toml or a default; which notebooks)
and passes it in; this script only executes it, within a total ``--budget`` of seconds:

1. the command (if any), as an argv without a shell (``run_command_for`` already split it like
   a shell line; a candidate who needs pipes or ``&&`` writes ``sh -c '...'`` or a script), in
   its own process group, killed when the budget runs out; output head+tail in ``command.log``;
2. each notebook top to bottom with nbclient (kernel ``python3`` forced, cwd = the notebook's
   folder, a per-cell timeout), stopping at the first failing cell. The executed notebook, even
   partially executed, is saved to ``notebooks/<rel path>`` with oversized outputs dropped.

Everything goes to ``$TAKEHOME_OUTPUT_DIR/takehome/``; ``run.json`` summarises::

    {"notebooks": [{"path", "status", "failing_cell", "ename", "evalue", "traceback",
                    "cells_executed", "duration_s"}],
     "command": {"argv", "exit_code", "duration_s", "timed_out"} | null}

``status`` is one of ok, error, timeout, kernel_died, budget_exhausted, unreadable, missing.
Exit status 0 when everything ran cleanly, 1 otherwise. The candidate's code writes its own
predictions to ``$TAKEHOME_OUTPUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stage_common import cap, cap_tail, output_dir, run_bounded, strip_ansi, write_json

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_NOTEBOOKS = 20
CELL_OUTPUT_CAP = 2 * 1024 * 1024  # serialised outputs of one cell kept in the saved notebook
NOTEBOOK_OUTPUT_CAP = 25 * 1024 * 1024  # all outputs of one saved notebook
EVALUE_CHARS = 2000
TRACEBACK_CHARS = 8000
KERNEL_STARTUP_S = 120
SAVE_MARGIN_S = 5  # budget kept back for saving results


def _dropped_note(reason: str, size: int) -> dict[str, Any]:
    import nbformat

    return nbformat.v4.new_output(
        "stream",
        name="stderr",
        text=f"[takehome: outputs of this cell dropped ({size} bytes): {reason}]\n",
    )


def cap_outputs(notebook: Any) -> int:
    """Drop oversized outputs in place (per cell, then largest first); returns cells affected."""
    affected = 0
    sizes: list[tuple[int, int]] = []
    for index, cell in enumerate(notebook.cells):
        outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
        if not outputs:
            continue
        size = len(json.dumps(outputs, default=str))
        if size > CELL_OUTPUT_CAP:
            cell["outputs"] = [_dropped_note("over the per-cell cap", size)]
            affected += 1
            continue
        sizes.append((size, index))
    total = sum(size for size, _ in sizes)
    for size, index in sorted(sizes, reverse=True):
        if total <= NOTEBOOK_OUTPUT_CAP:
            break
        notebook.cells[index]["outputs"] = [_dropped_note("over the per-notebook cap", size)]
        total -= size
        affected += 1
    return affected


def _error_from_cell(cell: Any) -> dict[str, Any]:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            traceback = strip_ansi("\n".join(str(t) for t in output.get("traceback", [])))
            return {
                "ename": cap(strip_ansi(str(output.get("ename", ""))), 200),
                "evalue": cap(strip_ansi(str(output.get("evalue", ""))), EVALUE_CHARS),
                "traceback": cap_tail(traceback, TRACEBACK_CHARS),
            }
    return {"ename": None, "evalue": None, "traceback": None}


def _blank(path: str, status: str, **extra: Any) -> dict[str, Any]:
    record = {
        "path": path,
        "status": status,
        "failing_cell": None,
        "ename": None,
        "evalue": None,
        "traceback": None,
        "cells_executed": 0,
        "duration_s": 0.0,
    }
    record.update(extra)
    return record


def execute_notebook(
    workspace: Path, rel: str, out_root: Path, *, cell_timeout: float, deadline: float
) -> dict[str, Any]:
    """Execute one notebook within ``deadline`` (monotonic); save it; return its record."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    source = (workspace / rel).resolve()
    if not source.is_relative_to(workspace.resolve()) or not source.is_file():
        return _blank(rel, "missing")
    if source.stat().st_size > MAX_NOTEBOOK_BYTES:
        return _blank(rel, "unreadable", evalue="notebook larger than the size cap")
    try:
        notebook = nbformat.read(str(source), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse failure makes the notebook unreadable
        return _blank(rel, "unreadable", ename=type(exc).__name__, evalue=cap(str(exc), 500))
    record = _blank(rel, "ok")
    started = time.monotonic()
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=int(cell_timeout),
        startup_timeout=KERNEL_STARTUP_S,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(source.parent)}},
    )
    # Kernel channels over Unix sockets in /tmp: no TCP port, nothing written to the workspace.
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = tempfile.mkdtemp(prefix="takehome-kernel-") + "/kernel"
    executed = 0
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.get("cell_type") != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining < 1:
                    record.update(status="budget_exhausted", failing_cell=index)
                    client.shutdown_kernel = "immediate"
                    break
                client.timeout = max(1, int(min(cell_timeout, remaining)))
                try:
                    client.execute_cell(cell, index)
                    executed += 1
                except CellExecutionError:
                    executed += 1
                    record.update(status="error", failing_cell=index, **_error_from_cell(cell))
                    break
                except CellTimeoutError:
                    # The kernel is still busy in the cell: a graceful shutdown would wait
                    # for it (5 s) out of the time left to save the notebook.
                    client.shutdown_kernel = "immediate"
                    record.update(
                        status="timeout",
                        failing_cell=index,
                        ename="CellTimeoutError",
                        evalue=f"cell did not finish within {client.timeout} s",
                    )
                    break
                except DeadKernelError as exc:
                    record.update(
                        status="kernel_died",
                        failing_cell=index,
                        ename="DeadKernelError",
                        evalue=cap(strip_ansi(str(exc)), EVALUE_CHARS)
                        or "the kernel died (often: out of memory)",
                    )
                    break
    except Exception as exc:  # noqa: BLE001 - kernel start-up failures, zmq errors, ...
        if record["status"] == "ok":
            record.update(
                status="kernel_died",
                ename=type(exc).__name__,
                evalue=cap(strip_ansi(str(exc)), EVALUE_CHARS),
            )
    record["cells_executed"] = executed
    record["duration_s"] = round(time.monotonic() - started, 3)
    _save(notebook, out_root / "notebooks" / rel)
    return record


def _save(notebook: Any, target: Path) -> None:
    import nbformat

    cap_outputs(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        nbformat.write(notebook, str(target))
    except Exception:  # noqa: BLE001 - a half-valid notebook is still worth saving raw
        target.write_text(json.dumps(notebook, default=str), encoding="utf-8")


def run_command(argv: list[str], workspace: Path, out_root: Path, deadline: float) -> dict:
    """Run the submission's command; write command.log; return its run.json record."""
    result = run_bounded(argv, cwd=workspace, timeout_s=max(deadline - time.monotonic(), 1))
    (out_root / "command.log").write_text(result.pop("output"), encoding="utf-8")
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command-json", default=None, help="JSON list: the argv to run")
    parser.add_argument("--notebook", action="append", default=[], help="relative .ipynb path")
    parser.add_argument("--cell-timeout", type=float, default=600.0)
    parser.add_argument("--budget", type=float, default=900.0, help="total seconds")
    parser.add_argument("--workspace", default=".")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + max(args.budget - SAVE_MARGIN_S, 1)
    workspace = Path(args.workspace).resolve()
    out_root = output_dir()
    os.environ.setdefault("MPLBACKEND", "Agg")
    report: dict[str, Any] = {"notebooks": [], "command": None}
    ok = True
    if args.command_json:
        command = json.loads(args.command_json)
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(c, str) for c in command)
        ):
            print(
                "run_stage: --command-json must be a non-empty JSON list of strings",
                file=sys.stderr,
            )
            return 2
        report["command"] = run_command(command, workspace, out_root, deadline)
        ok = report["command"]["exit_code"] == 0
        write_json(out_root / "run.json", report)
    for rel in args.notebook[:MAX_NOTEBOOKS]:
        if time.monotonic() >= deadline:
            record = _blank(rel, "budget_exhausted")
        else:
            record = execute_notebook(
                workspace, rel, out_root, cell_timeout=args.cell_timeout, deadline=deadline
            )
        report["notebooks"].append(record)
        ok = ok and record["status"] == "ok"
        write_json(out_root / "run.json", report)
    write_json(out_root / "run.json", report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
