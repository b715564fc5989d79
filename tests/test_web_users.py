"""`takehome users add/remove/list` and `takehome serve`'s checks, through the real CLI."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.web.accounts import AccountStore

PASSWORD = "a perfectly long password"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """argon2id with small costs (the shipped parameters are argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    from harness.web import accounts

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


@pytest.fixture()
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_add_list_remove_an_account(out):
    added = cli("users", "add", str(out), "dana", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    cli("users", "add", str(out), "root", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    listed = cli("users", "list", str(out))
    lines = listed.output.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["dana", "interviewer"], ["root", "admin"]]
    store = AccountStore.for_folder(out)
    assert store.verify("dana", PASSWORD) is not None
    assert store.verify("dana", PASSWORD + "x") is None
    removed = cli("users", "remove", str(out), "dana")
    assert removed.exit_code == 0
    assert [u.username for u in store.users()] == ["root"]
    assert cli("users", "remove", str(out), "dana").exit_code == 1


def test_password_is_prompted_twice_without_echo(out):
    result = cli("users", "add", str(out), "dana", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    mismatch = cli("users", "add", str(out), "eve", stdin=f"{PASSWORD}\nother password!!\n"
                   f"{PASSWORD}\n{PASSWORD}\n")
    assert "do not match" in mismatch.output.lower() or "match" in mismatch.output.lower()


def test_passwords_are_stored_as_argon2id_hashes_only(out):
    cli("users", "add", str(out), "dana", "--password-stdin", stdin=PASSWORD + "\n")
    path = out / "web.sqlite"
    raw = b"".join(p.read_bytes() for p in out.glob("web.sqlite*"))
    assert PASSWORD.encode() not in raw
    assert b"$argon2id$" in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("name,password,message", [
    ("dana", "short", "too short"),
    ("../etc", PASSWORD, "invalid username"),
    ("<script>", PASSWORD, "invalid username"),
])
def test_bad_accounts_are_refused(out, name, password, message):
    result = cli("users", "add", str(out), name, "--password-stdin", stdin=password + "\n")
    assert result.exit_code != 0 and message in result.output


def test_an_existing_account_needs_replace_and_replacing_ends_sessions(out):
    cli("users", "add", str(out), "dana", "--password-stdin", stdin=PASSWORD + "\n")
    store = AccountStore.for_folder(out)
    token = store.start_session("dana")
    again = cli("users", "add", str(out), "dana", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 1 and "--replace" in again.output
    replaced = cli("users", "add", str(out), "dana", "--replace", "--password-stdin",
                   stdin="a brand new password\n")
    assert replaced.exit_code == 0
    assert store.session(token, idle_seconds=3600, max_seconds=3600) is None
    assert store.verify("dana", "a brand new password") is not None


def test_serve_refuses_a_folder_without_results(out):
    result = cli("serve", str(out), "--port", "0")
    assert result.exit_code == 1
    assert "results.sqlite" in result.output and "takehome grade" in result.output


def test_users_need_an_existing_folder(tmp_path):
    result = cli("users", "list", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "no such folder" in result.output
