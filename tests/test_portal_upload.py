"""The streaming upload receiver: capped while receiving, one file, names kept for display only."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.portal_samples import multipart

from harness.portal.upload import (
    UploadInvalid,
    UploadReceiver,
    UploadTooLarge,
    accepted_suffix,
    display_file_name,
    receive_upload,
)


def feed_all(receiver: UploadReceiver, body: bytes, chunk: int = 4096) -> None:
    for start in range(0, len(body), chunk):
        receiver.feed(body[start:start + chunk])


def test_a_file_part_is_written_whole(tmp_path):
    data = bytes(range(256)) * 1000
    body, ctype = multipart("work.zip", data, extra={"note": "hi"})
    receiver = UploadReceiver(ctype, tmp_path, cap=1_000_000)
    feed_all(receiver, body)
    received = receiver.finish()
    assert received.path.read_bytes() == data
    assert received.size == len(data) and received.suffix == ".zip"
    assert received.original_name == "work.zip"


def test_over_cap_upload_stops_at_the_cap_and_keeps_nothing(tmp_path):
    cap = 100_000
    body, ctype = multipart("big.zip", b"x" * (cap * 5))
    receiver = UploadReceiver(ctype, tmp_path, cap=cap)
    seen_on_disk = []
    with pytest.raises(UploadTooLarge, match="larger than"):
        for start in range(0, len(body), 8192):
            receiver.feed(body[start:start + 8192])
            seen_on_disk.append(sum(p.stat().st_size for p in tmp_path.iterdir()))
    assert max(seen_on_disk) <= cap
    assert len(seen_on_disk) * 8192 < cap + 2 * 8192  # stopped reading right after the cap
    assert list(tmp_path.iterdir()) == []


def test_declared_length_over_the_cap_is_refused_before_reading(tmp_path):
    read = []

    async def chunks():
        read.append(1)
        yield b"never"

    with pytest.raises(UploadTooLarge):
        asyncio.run(receive_upload(chunks(), "multipart/form-data; boundary=x",
                                   str(10 * 1024 * 1024), tmp_path, cap=1024))
    assert read == [] and list(tmp_path.iterdir()) == []


def test_truncated_body_keeps_nothing(tmp_path):
    body, ctype = multipart("work.zip", b"y" * 50_000)
    receiver = UploadReceiver(ctype, tmp_path, cap=1_000_000)
    feed_all(receiver, body[: len(body) // 2])
    with pytest.raises(UploadInvalid, match="ended before"):
        receiver.finish()
    assert list(tmp_path.iterdir()) == []


def test_two_files_in_one_upload_are_refused(tmp_path):
    one, ctype = multipart("a.zip", b"1")
    boundary = ctype.split("boundary=")[1]
    body = one.replace(f"--{boundary}--".encode(), b"") + multipart("b.zip", b"2")[0]
    receiver = UploadReceiver(ctype, tmp_path, cap=1_000_000)
    with pytest.raises(UploadInvalid, match="one file"):
        feed_all(receiver, body)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["notes.txt", "zip", "evil.exe", ".zip"])
def test_other_formats_are_refused(tmp_path, name):
    body, ctype = multipart(name, b"data")
    receiver = UploadReceiver(ctype, tmp_path, cap=1_000_000)
    feed_all(receiver, body)
    with pytest.raises(UploadInvalid, match="not a notebook"):
        receiver.finish()
    assert list(tmp_path.iterdir()) == []


def test_not_multipart_is_refused(tmp_path):
    with pytest.raises(UploadInvalid, match="multipart"):
        UploadReceiver("application/json", tmp_path, cap=10)


def test_names_are_for_display_only():
    assert accepted_suffix("../../x/<b>work</b>.TAR.GZ") == ".tar.gz"
    assert accepted_suffix("C:\\Users\\me\\nb.ipynb") == ".ipynb"
    assert display_file_name("a\x00b\nc<script>.zip") == "abc<script>.zip"
    assert len(display_file_name("x" * 1000)) == 200
