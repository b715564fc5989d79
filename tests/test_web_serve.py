"""`takehome serve` as a real uvicorn process: loopback by default, TLS, behind a TLS proxy."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fixtures.report_samples import make_result
from fixtures.web_samples import PASSWORD, add_to_round, csrf_of

REPO = Path(__file__).resolve().parent.parent
TAKEHOME = [sys.executable, "-m", "harness.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve") / "round"
    root.mkdir()
    add_to_round(root, make_result("weak", name="bob"), folder_name="bob")
    subprocess.run([*TAKEHOME, "users", "add", str(root), "dana", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, cwd=REPO, capture_output=True)
    return root


class Server:
    """``takehome serve`` in a subprocess, stopped at the end."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.process = subprocess.Popen([*TAKEHOME, "serve", *args, "--port", str(self.port)],
                                        cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env={**os.environ})

    def wait(self, url: str, **client_options) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=2, **client_options)
                return
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise AssertionError(self.output)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.output = self.process.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output = self.process.communicate()[0]


def log_in(client: httpx.Client, username: str = "dana",
           password: str = PASSWORD) -> httpx.Response:
    """Log in; the CSRF cookie is sent by hand (a Secure cookie is not sent back over the
    plain-http hop between a TLS proxy and the server by httpx, as it would be by a browser
    talking https to the proxy)."""
    client.cookies.clear()
    page = client.get("/login")
    cookie = page.headers["set-cookie"].split(";")[0]
    client.cookies.clear()
    return client.post("/login", headers={"Cookie": cookie}, data={
        "username": username, "password": password, "csrf_token": csrf_of(page.text)})


def test_serve_listens_on_loopback_and_prints_its_address(served_dir):
    server = Server(str(served_dir))
    base = f"http://127.0.0.1:{server.port}"
    try:
        server.wait(base + "/login")
        with httpx.Client(base_url=base) as client:
            response = log_in(client)
            assert response.status_code == 303
            assert "Secure" not in response.headers["set-cookie"]
            assert "bob" in client.get("/rounds/round").text
            assert "server" not in client.get("/login").headers  # no version banner
    finally:
        server.stop()
    assert f"serving on http://127.0.0.1:{server.port}/" in server.output


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_serve_with_a_certificate_speaks_tls_and_marks_cookies_secure(served_dir, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Server(str(served_dir), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    base = f"https://127.0.0.1:{server.port}"
    try:
        server.wait(base + "/login", verify=ssl.create_default_context(cafile=str(cert)))
        trusted = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=base, verify=trusted) as client:
            page = client.get("/login")
            assert "max-age=" in page.headers["strict-transport-security"]
            assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie
            response = log_in(client)
            cookie = response.headers["set-cookie"]
            assert "takehome_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        with pytest.raises(httpx.HTTPError):  # plain http is not served on the TLS port
            httpx.get(f"http://127.0.0.1:{server.port}/login", timeout=5).raise_for_status()
    finally:
        server.stop()


def test_behind_a_proxy_cookies_are_secure_and_forwarded_addresses_count(served_dir):
    server = Server(str(served_dir), "--proxy")
    base = f"http://127.0.0.1:{server.port}"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    try:
        server.wait(base + "/login")
        with httpx.Client(base_url=base, headers=forwarded) as client:
            response = log_in(client)
            assert "Secure" in response.headers["set-cookie"]
            assert "strict-transport-security" in response.headers
        # five failures from one forwarded address lock that address out, not the proxy's
        with httpx.Client(base_url=base, headers=forwarded) as attacker:
            for _ in range(5):
                assert log_in(attacker, "mallory", "x" * 12).status_code == 401
            assert log_in(attacker, "mallory2", "x" * 12).status_code == 429
        other = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
        with httpx.Client(base_url=base, headers=other) as someone:
            assert log_in(someone).status_code == 303
    finally:
        server.stop()
