"""The `takehome` command. Thin: parses arguments and calls one function per verb.

Each verb's implementation lives in its own module, imported lazily so that a broken or slow
import in one verb never affects another (and `takehome --help` stays fast).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from contracts.errors import EXIT_HARNESS, TakehomeError
from harness import __version__


def _fail(error: TakehomeError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


class _Group(click.Group):
    """A click group that turns TakehomeError into a one-line message and its exit code."""

    def invoke(self, ctx: click.Context):
        from harness import termination

        try:
            with termination.handle_signals():  # SIGINT/SIGTERM/SIGHUP: see harness/termination
                return super().invoke(ctx)
        except termination.Terminated as stop:
            _stopped(stop.signum)
        except TakehomeError as error:
            if termination.stop_requested():  # e.g. "no new sandbox container: stopping"
                _stopped(termination.stop_signal() or 15)
            _fail(error)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _stopped(signum: int) -> None:
    from harness import termination

    click.echo(f"stopped by {termination.signal_name(signum)}: running sandboxes removed; "
               "results already written are kept (rerun to grade the rest)", err=True)
    sys.exit(termination.exit_code(signum))


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="takehome")
def main() -> None:
    """Grade machine-learning take-home submissions in a locked-down sandbox."""


def run() -> None:
    """The ``takehome`` command (console script and ``python -m harness.cli``): :func:`main`,
    then an exit that never tears the interpreter down.

    Once the command has ended and every other non-daemon thread has finished, all files are
    written and closed: the exit handlers run (the sandbox's leftover-container removal among
    them), the streams are flushed and the process ends with ``os._exit``, as mypy does. That
    spares the teardown of ~200 MB of objects (0.3-0.9 s per grade, docs/benchmarks.md) and,
    after a signal, a crash: a daemon thread still drawing a report plot inside matplotlib's
    C++ text layout is unwound by the interpreter's finalisation, which aborts the process
    (SIGABRT) instead of exiting with 128 + the signal.
    """
    import atexit
    import os
    import threading

    try:
        main()  # click's standalone mode always ends in SystemExit
        code: object = 0
    except SystemExit as done:
        code = done.code
    except Exception as exc:  # noqa: BLE001 - last resort: a harness fault, never a score
        click.echo(f"internal error: {exc!r}", err=True)
        code = EXIT_HARNESS
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as Python does
        click.echo(str(code), err=True)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()  # what the interpreter's exit would wait for too
    atexit._run_exitfuncs()  # the handlers os._exit would skip
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader has gone (takehome ... | head)
            pass
    os._exit(int(code or 0))


# --- sandbox -----------------------------------------------------------------------------------


@main.group(cls=_Group)
def sandbox() -> None:
    """Build and check the sandbox image and the Docker engine."""


@sandbox.command("build")
@click.option("--base-image", default=None, help="Base image (default: python:3.11-slim, "
              "or a locally bootstrapped Debian bookworm when it cannot be pulled).")
@click.option("--force", is_flag=True, help="Rebuild even when the tagged image exists.")
def sandbox_build(base_image: str | None, force: bool) -> None:
    """Build the sandbox image (a no-op when its inputs are unchanged)."""
    from sandbox.image import build_image

    tag = build_image(base_image=base_image, force=force, echo=click.echo)
    click.echo(tag)


@sandbox.command("prune")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def sandbox_prune(dry_run: bool) -> None:
    """Remove old takehome-sandbox images (every input change builds a new ~0.8 GB tag)."""
    from sandbox.image import prune_images

    report = prune_images(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for tag in report.removed:
        click.echo(f"{verb} {tag}")
    for tag in report.kept_in_use:
        click.echo(f"kept {tag}: a container still uses it")
    if not report.removed:
        click.echo("no old sandbox images")
    else:
        click.echo(f"{verb} {len(report.removed)} tag(s), {report.freed_bytes / 1e9:.1f} GB")


@sandbox.command("doctor")
def sandbox_doctor() -> None:
    """Report engine version, cgroup limit support and the image, with a fix for each problem."""
    from sandbox.doctor import run_doctor

    sys.exit(run_doctor(echo=click.echo))


# --- grading -----------------------------------------------------------------------------------


def batch_options(command: Callable) -> Callable:
    """The submissions argument and output options shared by ``grade`` and ``screen``."""
    options = [
        click.argument("submissions", nargs=-1, required=True,
                       type=click.Path(exists=True, path_type=Path)),
        click.option("-o", "--output", "out_dir", default="out", show_default=True,
                     type=click.Path(path_type=Path),
                     help="Folder for reports, index and results store."),
        click.option("--format", "formats", default="html,json,md", show_default=True,
                     help="Report formats: html, json, md, gradescope (comma separated)."),
        click.option("--blind", is_flag=True, help="Hide names, emails and git authors in reports."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Submissions graded at once (default: what CPUs and memory allow)."),
        click.option("--force", is_flag=True,
                     help="Regrade submissions already in the results store."),
        click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
                     help="Also write the (single) submission's result JSON to this path."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def broker_option(command: Callable) -> Callable:
    """``--broker URL`` (default: $TAKEHOME_BROKER): the sandbox stages run on Celery workers."""
    return click.option("--broker", default=None, metavar="URL",
                        help="Redis broker of `takehome worker` processes (redis://[:PASS@]HOST:"
                        "PORT/DB, rediss:// for TLS; default $TAKEHOME_BROKER): the sandbox "
                        "stages run on the workers. Without it, everything runs here.")(command)


def _set_runtime(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:  # the sandbox reads it (sandbox.runner.RUNTIME_ENV), in every thread and child
        import os

        os.environ["TAKEHOME_RUNTIME"] = value


runtime_option = click.option(
    "--runtime", type=click.Choice(["runc", "runsc"]), default=None, expose_value=False,
    callback=_set_runtime, help="Sandbox runtime: runc, or runsc (gVisor: a user-space kernel "
    "between candidate code and the host; docs/sandbox.md). Default: $TAKEHOME_RUNTIME, else runc.")


@main.command("grade")
@click.argument("assignment")
@batch_options
@runtime_option
@click.option("--no-run", is_flag=True, help="Grade statically, without starting the sandbox.")
@click.option("--public-solutions", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder of known public solutions to compare against.")
@broker_option
def grade_cmd(assignment: str, submissions: tuple[Path, ...], out_dir: Path, formats: str,
              blind: bool, jobs: int | None, force: bool, no_run: bool, json_out: Path | None,
              public_solutions: Path | None, broker: str | None) -> None:
    """Grade SUBMISSIONS (folders, archives, notebooks, git bundles) for ASSIGNMENT."""
    from harness.grade import grade
    from harness.workers.config import broker_url

    if broker_url(broker) and not no_run:
        from harness.workers.remote_grade import grade_on_workers

        sys.exit(grade_on_workers(assignment, list(submissions), broker=broker, out_dir=out_dir,
                                  formats=formats, blind=blind, jobs=jobs, force=force,
                                  json_out=json_out, public_solutions=public_solutions))
    if no_run:
        _static_broker_note(broker)
    sys.exit(grade(assignment, list(submissions), out_dir=out_dir, formats=formats, blind=blind,
                   jobs=jobs, force=force, run=not no_run, json_out=json_out,
                   public_solutions=public_solutions))


def _static_broker_note(broker: str | None) -> None:
    from harness.workers.remote_grade import static_broker_note

    note = static_broker_note(broker)
    if note:
        click.echo(note, err=True)


@main.command("screen")
@batch_options
@broker_option
def screen_cmd(submissions: tuple[Path, ...], out_dir: Path, formats: str, blind: bool,
               jobs: int | None, force: bool, json_out: Path | None,
               broker: str | None) -> None:
    """Grade SUBMISSIONS statically without an assignment (task inferred from each one).

    For repositories that answer no bundled assignment (e.g. a candidate's public ML project):
    the target, task type and class balance are inferred from the code, data and README;
    candidate code is never run and Docker is not needed.
    """
    from harness.screen import screen

    _static_broker_note(broker)
    sys.exit(screen(list(submissions), out_dir=out_dir, formats=formats, blind=blind,
                    jobs=jobs, force=force, json_out=json_out))


@main.command("worker")
@click.option("--broker", default=None, metavar="URL",
              help="Redis broker URL (redis://[:PASS@]HOST:PORT/DB, rediss:// for TLS; "
              "default $TAKEHOME_BROKER).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs (submissions) this worker runs at once.")
@click.option("--max-wall-time", "max_wall_time", type=click.IntRange(min=10), default=3600,
              show_default=True, help="Longest assignment wall-time limit (s) accepted; sets "
              "the broker visibility timeout.")
def worker_cmd(broker: str | None, concurrency: int, max_wall_time: int) -> None:
    """Run a worker: grade the sandbox stages sent by `takehome grade --broker` on this engine."""
    from harness.workers.runtime import run_worker

    sys.exit(run_worker(broker, concurrency=concurrency, max_wall_time_s=max_wall_time,
                        echo=lambda m: click.echo(m, err=True)))


@main.command("check")
@click.argument("assignment")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out_dir", default="out/check", show_default=True,
              type=click.Path(path_type=Path), help="Folder for the check's artifacts.")
@runtime_option
def check_cmd(assignment: str, submission: Path, out_dir: Path) -> None:
    """Self-check for candidates: run SUBMISSION on the public sample and report contract problems."""
    from harness.check import check

    sys.exit(check(assignment, submission, out_dir=out_dir, echo=click.echo))


@main.command("demo")
@click.option("-o", "--output", "out_dir", default="out/demo", show_default=True,
              type=click.Path(path_type=Path), help="Folder for the demo's reports.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None)
def demo_cmd(out_dir: Path, jobs: int | None) -> None:
    """Grade every bundled assignment's example submissions and print where the reports are."""
    from harness.grade import demo

    sys.exit(demo(out_dir=out_dir, jobs=jobs))


# --- authoring ---------------------------------------------------------------------------------


@main.command("new")
@click.argument("slug")
@click.option("--dir", "dest_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("assignments"), show_default=True,
              help="Folder the assignment folder is created in.")
def new(slug: str, dest_root: Path) -> None:
    """Scaffold a new assignment (toy data, solutions, prompt) that validates out of the box."""
    from harness.authoring import new_assignment

    folder = new_assignment(slug, dest_root)
    click.echo(f"created {folder}; edit it, then run: takehome validate {folder}")


@main.command("validate")
@click.argument("assignment")
@click.option("--no-calibrate", is_flag=True,
              help="Skip grading the reference and baseline solutions in the sandbox.")
def validate(assignment: str, no_calibrate: bool) -> None:
    """Check an assignment (slug or folder); list every problem with its fix, exit 1 if any.

    Unless --no-calibrate, the reference and baseline solutions are graded in the sandbox: the
    reference must beat the baseline by more than the metric's bootstrap confidence interval.
    """
    from harness.authoring import format_problems, validate_path
    from harness.calibration import calibrate_for_validation

    problems = validate_path(assignment, calibrate=None if no_calibrate else calibrate_for_validation)
    if problems:
        click.echo(format_problems(problems), err=True)
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"{assignment}: valid")


# --- report / review ---------------------------------------------------------------------------


@main.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overrides", "overrides_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Reviewer overrides YAML (default: <result>.overrides.yaml "
              "when it exists).")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (default: next to the result, in place; the "
              "batch index and summary.csv are refreshed too).")
@click.option("--format", "formats", default=None,
              help="Comma-separated formats: html, json, md, gradescope (default: html,md and "
              "gradescope when present in place; html,json,md with -o).")
@click.option("--blind", is_flag=True, help="Hide names, e-mails and git authors.")
@click.option("--artifacts", "artifacts_root", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Artifacts folder for candidate figures (default: "
              "<result dir>/artifacts, else the batch's .work/runs/<hash>/artifacts).")
def report(result: Path, overrides_path: Path | None, out_dir: Path | None, formats: str | None,
           blind: bool, artifacts_root: Path | None) -> None:
    """Re-render the reports of a result.json, applying reviewer overrides (never writes it)."""
    from harness.report import report_from_file

    wanted = None if formats is None else [f.strip() for f in formats.split(",") if f.strip()]
    written = report_from_file(result, out_dir, wanted, blind=blind,
                               overrides_path=overrides_path, artifacts_root=artifacts_root)
    for fmt, path in written.items():
        click.echo(f"{fmt}\t{path}")


@main.command("review")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--criterion", required=True, help="Criterion id, e.g. tests.")
@click.option("--level", required=True, type=click.IntRange(0, 4), help="Level 0-4.")
@click.option("--reviewer", required=True, help="Who reviewed.")
@click.option("--reason", required=True, help="Why the level differs (or is confirmed).")
@click.option("--note", default=None, help="An extra note (notes accumulate).")
def review(result: Path, criterion: str, level: int, reviewer: str, reason: str,
           note: str | None) -> None:
    """Override one criterion's level; writes <result>.overrides.yaml (never the result).

    The reports are not changed: run `takehome report RESULT` to re-render them (and the batch
    index) with the override applied.
    """
    from harness.overrides import review_result_file

    click.echo(review_result_file(result, criterion=criterion, level=level, reviewer=reviewer,
                                  reason=reason, note=note))
    click.echo(f"next: takehome report {result}   (re-renders the report and the batch index "
               "with this review)", err=True)


# --- web app -----------------------------------------------------------------------------------


@main.command("serve")
@click.argument("out_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; see docs/interviewers.md for TLS).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Serve HTTPS with this certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The certificate's private key (PEM).")
@click.option("--proxy", is_flag=True, help="Behind a TLS reverse proxy on this machine: trust "
              "its X-Forwarded-* headers from loopback, mark cookies Secure, send HSTS.")
@click.option("--accounts", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Accounts database (default: <first OUT_DIR>/web.sqlite).")
def serve_cmd(out_dirs: tuple[Path, ...], host: str, port: int, ssl_certfile: Path | None,
              ssl_keyfile: Path | None, proxy: bool, accounts: Path | None) -> None:
    """Serve the interviewers' web app over OUT_DIRS (folders written by grade or demo)."""
    from harness.web.serve import serve

    sys.exit(serve(list(out_dirs), host=host, port=port, ssl_certfile=ssl_certfile,
                   ssl_keyfile=ssl_keyfile, proxy=proxy, accounts=accounts, echo=click.echo))


@main.group(cls=_Group)
def users() -> None:
    """Manage the interviewer accounts of a served output folder (OUT_DIR/web.sqlite)."""


_accounts_option = click.option("--accounts", type=click.Path(dir_okay=False, path_type=Path),
                                default=None, help="Accounts database (default: "
                                "OUT_DIR/web.sqlite).")


@users.command("add")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("username")
@click.option("--admin", is_flag=True, help="May force blind mode for a round.")
@click.option("--replace", is_flag=True, help="Set a new password for an existing account.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line) "
              "instead of prompting.")
@_accounts_option
def users_add(out_dir: Path, username: str, admin: bool, replace: bool, password_stdin: bool,
              accounts: Path | None) -> None:
    """Create an interviewer account (the password is prompted for, without echo)."""
    from harness.web.users import add_user

    sys.exit(add_user(out_dir, username, admin=admin, replace=replace,
                      password_stdin=password_stdin, accounts=accounts))


@users.command("remove")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("username")
@_accounts_option
def users_remove(out_dir: Path, username: str, accounts: Path | None) -> None:
    """Delete an account and end its sessions (its reviews stay in the audit log)."""
    from harness.web.users import remove_user

    sys.exit(remove_user(out_dir, username, accounts=accounts))


@users.command("list")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_accounts_option
def users_list(out_dir: Path, accounts: Path | None) -> None:
    """List the accounts."""
    from harness.web.users import list_users

    sys.exit(list_users(out_dir, accounts=accounts))


# --- candidate portal --------------------------------------------------------------------------


@main.command("invite")
@click.argument("assignment")
@click.option("--name", required=True, help="The candidate's name (shown on their page).")
@click.option("--email", default=None, help="The candidate's e-mail (for your records).")
@click.option("--deadline", default=None, help="ISO-8601 date or date-time (UTC unless it has "
              "an offset; a bare date means the end of that day); uploads close then.")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(path_type=Path),
              help="The round folder `takehome serve` serves (default: out/<assignment>; a "
              "folder of rounds means its <assignment> round).")
@click.option("--base-url", default=None, help="Where `takehome serve` is reachable "
              "(default: http://127.0.0.1:8000).")
def invite_cmd(assignment: str, name: str, email: str | None, deadline: str | None,
               out_dir: Path | None, base_url: str | None) -> None:
    """Invite a candidate to ASSIGNMENT: prints the link to their upload page (shown once)."""
    from harness.portal.commands import invite

    sys.exit(invite(assignment, name, email=email, deadline=deadline, out_dir=out_dir,
                    base_url=base_url, echo=click.echo))


@main.group(cls=_Group)
def invitations() -> None:
    """List or revoke candidate invitations; run the portal's grading worker."""


_round_option = click.option("-o", "--output", "out_dir", required=True,
                             type=click.Path(exists=True, file_okay=False, path_type=Path),
                             help="The round folder.")


@invitations.command("list")
@_round_option
def invitations_list(out_dir: Path) -> None:
    """One line per invitation: state, uploads, self-check and grading."""
    from harness.portal.commands import list_invitations

    sys.exit(list_invitations(out_dir, echo=click.echo))


@invitations.command("revoke")
@click.argument("invitation_id")
@_round_option
def invitations_revoke(invitation_id: str, out_dir: Path) -> None:
    """Revoke an invitation: its link stops working at once (uploads are kept)."""
    from harness.portal.commands import revoke

    sys.exit(revoke(invitation_id, out_dir, echo=click.echo))


@invitations.command("worker")
@click.argument("rounds", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Exit when the queues are empty.")
def invitations_worker(rounds: tuple[Path, ...], once: bool) -> None:
    """Run the self-check and grading worker for ROUNDS (`takehome serve` starts one itself)."""
    from harness.portal.commands import worker

    sys.exit(worker(list(rounds), once))


if __name__ == "__main__":  # pragma: no cover
    run()
