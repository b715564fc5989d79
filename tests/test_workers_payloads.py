"""The worker transport's checks, without Docker: bundles, payloads, messages, broker settings.

Payload round trips use a private redis-server (skipped when it is not installed)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_workers_support import RedisServer, needs_redis

from contracts.errors import EnvironmentProblem
from harness.assignment import load_assignment
from harness.intake import ingest
from harness.workers import config
from harness.workers.bundle import bundle_members, cached_assignment, pack_bundle, upload_bundle
from harness.workers.payloads import (
    JobReply,
    JobRequest,
    PayloadError,
    get_blob,
    pack_tree,
    put_blob,
    unpack_tree,
)
from harness.workers.task import materialize_snapshot


def _tar_gz(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize("slug", ["fraud-detection", "diabetes-progression"])
def test_bundle_never_holds_hidden_labels_or_solutions(slug):
    assignment = load_assignment(slug)
    members = bundle_members(assignment)
    assert "hidden/test_labels.csv" not in members
    assert "hidden/test_features.csv" in members and "assignment.yaml" in members
    assert not any(m.startswith(("solutions/", "examples/")) for m in members)
    labels = assignment.hidden_labels_csv.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(pack_bundle(assignment)), mode="r:gz") as tar:
        names = tar.getnames()
        assert sorted(names) == sorted(members)
        for name in names:
            assert tar.extractfile(name).read() != labels


def test_bundle_bytes_are_deterministic():
    assignment = load_assignment("diabetes-progression")
    assert pack_bundle(assignment) == pack_bundle(assignment)


def test_pack_and_unpack_round_trip(tmp_path):
    source = tmp_path / "src"
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "x.txt").write_text("hello")
    (source / "top.py").write_text("print(1)\n")
    report = unpack_tree(pack_tree(source), tmp_path / "out", max_bytes=10_000, max_files=10)
    assert report.ok, report
    assert (tmp_path / "out" / "a" / "b" / "x.txt").read_text() == "hello"
    assert report.files == ["a/b/x.txt", "top.py"]


def test_unpack_refuses_links_and_escapes(tmp_path):
    link = tarfile.TarInfo("evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = _tar_gz([(link, None), _file("../escape.txt", b"x"), _file("ok.txt", b"fine")])
    report = unpack_tree(data, tmp_path / "out", max_bytes=10_000, max_files=10)
    assert not report.ok
    kinds = {r.kind for r in report.rejected}
    assert kinds == {"symlink", "unsafe_path"}
    assert not (tmp_path / "evil").exists() and not (tmp_path / "escape.txt").exists()


def test_unpack_stops_a_decompression_bomb_at_the_cap(tmp_path):
    data = _tar_gz([_file("zeros.bin", b"\0" * 5_000_000)])
    assert len(data) < 50_000
    report = unpack_tree(data, tmp_path / "out", max_bytes=1_000_000, max_files=10)
    assert report.limit_hit and "cap" in report.limit_hit
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_unpack_reports_corrupt_gzip_as_an_error(tmp_path):
    data = bytearray(_tar_gz([_file("a.txt", b"abc" * 1000)]))
    data[20:40] = b"\xff" * 20
    report = unpack_tree(bytes(data), tmp_path / "out", max_bytes=100_000, max_files=10)
    assert report.error and "archive" in report.error


def _reply(**changes) -> dict:
    base = {"job_id": "a" * 32, "worker": "w:1", "status": "ok", "artifacts_blob": "b" * 64,
            "stages": {"run": {"stage": "run", "verdict": "ok"}}}
    return {**base, **changes}


def test_reply_schema_accepts_a_valid_reply_and_converts_records():
    reply = JobReply.model_validate(_reply())
    assert reply.stages["run"].to_record().verdict == "ok"


@pytest.mark.parametrize("bad", [
    {"stages": {"run": {"stage": "run", "verdict": "excellent"}}},
    {"stages": {"notes": {"stage": "run", "verdict": "ok"}}},
    {"status": "graded"},
    {"score": 100},
    {"artifacts_blob": "../../etc/passwd"},
    {"reason": "x" * 100_000},
    {"container_starts": 10_000},
])
def test_reply_schema_rejects_malformed_replies(bad):
    with pytest.raises(ValidationError):
        JobReply.model_validate(_reply(**bad))


def test_request_schema_rejects_unknown_stages_and_fields():
    good = {"job_id": "c" * 32, "attempt": 1, "snapshot_hash": "d" * 64, "snapshot_blob": "e" * 64,
            "snapshot_meta": {}, "bundle_digest": "f" * 64, "image_inputs": "x",
            "harness_version": "0.1.0", "wall_time_s": 300, "stages": ["run"],
            "coordinator": "c:1"}
    JobRequest.model_validate(good)
    for bad in ({"stages": ["rm -rf"]}, {"pickle": "x"}, {"attempt": 0}):
        with pytest.raises(ValidationError):
            JobRequest.model_validate({**good, **bad})


def test_broker_url_from_option_or_environment(monkeypatch):
    monkeypatch.delenv(config.BROKER_ENV, raising=False)
    assert config.broker_url(None) is None
    monkeypatch.setenv(config.BROKER_ENV, "redis://127.0.0.1:1/0")
    assert config.broker_url(None) == "redis://127.0.0.1:1/0"
    assert config.broker_url("rediss://h:6380/1") == "rediss://h:6380/1"
    with pytest.raises(EnvironmentProblem, match="unsupported broker URL"):
        config.broker_url("amqp://guest:secret@h//")


def test_passwords_are_redacted_in_messages():
    assert config.redact("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert config.redact("rediss://user:s3cret@host/0") == "rediss://user:***@host/0"
    assert config.redact("redis://host:6379/0") == "redis://host:6379/0"


def test_visibility_timeout_exceeds_the_longest_job():
    for wall in (10, 300, 600, 3600, 6 * 3600):
        assert config.visibility_timeout_s(wall) > config.job_budget_s(wall) >= wall
    assert config.job_budget_s(300) < config.job_budget_s(3600)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if RedisServer.__init__ is None:  # pragma: no cover
        pytest.skip("no redis")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@needs_redis
def test_blobs_are_checked_against_their_digest_and_cap(redis_server):
    client = redis_server.client()
    digest = put_blob(client, b"payload", cap=100, what="test")
    assert get_blob(client, digest, cap=100, what="test") == b"payload"
    client.set(f"takehome:blob:{digest}", b"tampered")
    with pytest.raises(PayloadError, match="does not match"):
        get_blob(client, digest, cap=100, what="test")
    with pytest.raises(PayloadError, match="over the cap"):
        get_blob(client, digest, cap=3, what="test")
    with pytest.raises(PayloadError, match="over the broker cap"):
        put_blob(client, b"x" * 200, cap=100, what="test")
    with pytest.raises(PayloadError, match="not in the broker"):
        get_blob(client, "0" * 64, cap=100, what="test")


@needs_redis
def test_worker_side_bundle_and_snapshot_are_verified(redis_server, tmp_path):
    client = redis_server.client()
    assignment = load_assignment("diabetes-progression")
    digest = upload_bundle(client, assignment)
    cached = cached_assignment(client, digest, tmp_path / "cache")
    assert cached.spec == assignment.spec
    assert not cached.hidden_labels_csv.exists()
    assert cached.hidden_features_csv.read_bytes() == assignment.hidden_features_csv.read_bytes()

    snapshot = ingest(assignment.root / "examples" / "strong", tmp_path / "snapshots")
    meta = snapshot.to_meta()
    meta.pop("root")
    request = JobRequest(
        job_id="1" * 32, attempt=1, snapshot_hash=snapshot.content_hash,
        snapshot_blob=put_blob(client, pack_tree(snapshot.root), cap=10**8, what="snapshot"),
        snapshot_meta=meta, bundle_digest=digest, image_inputs="x", harness_version="0",
        wall_time_s=300, stages=["run", "checks"], coordinator="c:1")
    copy = materialize_snapshot(client, request, tmp_path / "job")
    assert copy.content_hash == snapshot.content_hash and copy.files == snapshot.files
    assert not (Path(copy.root) / copy.files[0]).stat().st_mode & 0o222  # read-only like intake

    packed = pack_tree(snapshot.root)
    middle = len(packed) // 2
    forged = packed[:middle] + bytes(b ^ 0xFF for b in packed[middle:middle + 64]) + \
        packed[middle + 64:]
    bad = request.model_copy(update={"snapshot_blob": put_blob(client, forged, cap=10**8,
                                                               what="snapshot")})
    with pytest.raises(PayloadError):
        materialize_snapshot(client, bad, tmp_path / "job2")
    other = ingest(assignment.root / "examples" / "weak", tmp_path / "snapshots")
    swapped = request.model_copy(update={"snapshot_blob": put_blob(
        client, pack_tree(other.root), cap=10**8, what="snapshot")})
    with pytest.raises(PayloadError, match="content hash"):
        materialize_snapshot(client, swapped, tmp_path / "job3")


def test_tls_broker_certificates_are_verified_by_default():
    import ssl

    app = config.make_celery("rediss://:secret@broker.example:6380/0")
    assert app.connection_for_write().ssl["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    client = config.redis_client("rediss://:secret@broker.example:6380/0")
    assert client.connection_pool.make_connection().cert_reqs == ssl.CERT_REQUIRED
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_reject_on_worker_lost and app.conf.accept_content == ["json"]
