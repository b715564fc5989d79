"""Unit tests of the safe tar extraction used for copy-out (crafted tar streams, no Docker)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from sandbox.copyout import extract_tar_stream

MIB = 1024 * 1024


class CountingStream(io.BytesIO):
    """A BytesIO that remembers how many bytes were read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def _tar(*entries: tuple) -> CountingStream:
    """Build a tar stream: entries are (name, type, payload-or-linkname[, mode])."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            name, kind, value = entry[:3]
            info = tarfile.TarInfo(name)
            info.type = kind
            if len(entry) > 3:
                info.mode = entry[3]
            if kind == tarfile.REGTYPE:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            else:
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = value
                tar.addfile(info)
    return CountingStream(buffer.getvalue())


def _extract(tmp_path: Path, stream, max_bytes: int = 10 * MIB, max_files: int = 100):
    dest = tmp_path / "out"
    return dest, extract_tar_stream(stream, dest, max_bytes=max_bytes, max_files=max_files)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_files_and_directories_come_back_with_safe_modes(tmp_path):
    stream = _tar(
        ("a.txt", tarfile.REGTYPE, b"hello", 0o4777),
        ("sub", tarfile.DIRTYPE, None, 0o777),
        ("sub/deep/b.bin", tarfile.REGTYPE, bytes(range(256)) * 10, 0o700),
    )
    dest, report = _extract(tmp_path, stream)
    assert report.ok, report
    assert report.files == ["a.txt", "sub/deep/b.bin"]
    assert (dest / "a.txt").read_bytes() == b"hello"
    assert (dest / "sub/deep/b.bin").read_bytes() == bytes(range(256)) * 10
    assert stat.S_IMODE((dest / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "sub/deep/b.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "sub/deep").stat().st_mode) == 0o755
    assert report.bytes_copied == 5 + 2560


def test_symlink_is_rejected_and_not_created(tmp_path):
    stream = _tar(
        ("passwd", tarfile.SYMTYPE, "/etc/passwd"),
        ("etcdir", tarfile.SYMTYPE, "/etc"),
        ("ok.txt", tarfile.REGTYPE, b"x"),
    )
    dest, report = _extract(tmp_path, stream)
    assert not report.ok
    assert [r.kind for r in report.rejected] == ["symlink", "symlink"]
    assert _tree(dest) == ["ok.txt"]
    reason = report.violation_reason()
    assert "'passwd'" in reason and "/etc/passwd" in reason and "'etcdir'" in reason


def test_file_below_a_rejected_symlink_stays_inside_dest(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    stream = _tar(
        ("link", tarfile.SYMTYPE, str(outside)),
        ("link/planted.txt", tarfile.REGTYPE, b"gotcha"),
    )
    dest, report = _extract(tmp_path, stream)
    assert list(outside.iterdir()) == []
    assert (dest / "link").is_dir() and not (dest / "link").is_symlink()
    assert report.rejected[0].kind == "symlink"


def test_hardlink_is_rejected(tmp_path):
    stream = _tar(("a", tarfile.REGTYPE, b"data"), ("b", tarfile.LNKTYPE, "a"))
    dest, report = _extract(tmp_path, stream)
    assert [r.kind for r in report.rejected] == ["hardlink"]
    assert "'b'" in report.violation_reason()
    assert _tree(dest) == ["a"]


def test_parent_escape_is_rejected(tmp_path):
    stream = _tar(("../escaped.txt", tarfile.REGTYPE, b"x"), ("a/../../e2", tarfile.REGTYPE, b"y"))
    dest, report = _extract(tmp_path, stream)
    assert [r.kind for r in report.rejected] == ["unsafe_path", "unsafe_path"]
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "e2").exists()
    assert _tree(dest) == []


def test_absolute_path_is_rejected(tmp_path):
    target = tmp_path / "abs.txt"
    stream = _tar((str(target), tarfile.REGTYPE, b"x"))
    _dest, report = _extract(tmp_path, stream)
    assert report.rejected[0].kind == "unsafe_path"
    assert "absolute" in report.rejected[0].reason
    assert not target.exists()


@pytest.mark.parametrize(
    ("kind", "label"),
    [(tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device"), (tarfile.FIFOTYPE, "fifo")],
)
def test_devices_and_fifos_are_rejected(tmp_path, kind, label):
    dest, report = _extract(tmp_path, _tar(("node", kind, None)))
    assert [r.kind for r in report.rejected] == [label]
    assert _tree(dest) == []


def test_size_cap_stops_reading_and_removes_the_partial_file(tmp_path):
    big = os.urandom(3 * MIB)
    stream = _tar(
        ("small.txt", tarfile.REGTYPE, b"ok"),
        ("big.bin", tarfile.REGTYPE, big),
        ("after.txt", tarfile.REGTYPE, b"late"),
    )
    dest, report = _extract(tmp_path, stream, max_bytes=1 * MIB)
    assert report.limit_hit and "1 MB" in report.limit_hit
    assert _tree(dest) == ["small.txt"]
    assert stream.bytes_read < 2 * MIB  # stopped reading instead of draining the stream
    assert "output larger than the cap" in report.violation_reason()


def test_count_cap_stops_the_copy(tmp_path):
    stream = _tar(*[(f"f{i:03d}.txt", tarfile.REGTYPE, b"x") for i in range(50)])
    dest, report = _extract(tmp_path, stream, max_files=10)
    assert report.limit_hit == "more than 10 files in the output"
    assert len(report.files) == 10 and len(_tree(dest)) == 10


def test_many_header_only_entries_hit_the_entry_cap(tmp_path):
    stream = _tar(*[(f"l{i}", tarfile.SYMTYPE, "/etc") for i in range(60)])
    dest, report = _extract(tmp_path, stream, max_files=10)
    assert report.limit_hit is not None and "entries" in report.limit_hit
    assert _tree(dest) == []


def test_oversized_headers_are_cut_off_while_streaming(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a.txt")
        info.pax_headers = {"comment": "x" * (4 * MIB)}  # metadata, not file data
        tar.addfile(info, io.BytesIO(b""))
    stream = CountingStream(buffer.getvalue())
    dest, report = _extract(tmp_path, stream, max_bytes=MIB, max_files=5)
    assert report.limit_hit is not None and "stream larger" in report.limit_hit
    assert stream.bytes_read < 2 * MIB
    assert _tree(dest) == []


def test_corrupt_stream_is_an_error_not_a_crash(tmp_path):
    data = _tar(("a.txt", tarfile.REGTYPE, b"x" * 5000)).getvalue()[:1500]
    dest, report = _extract(tmp_path, io.BytesIO(data))
    assert report.error is not None and "output archive" in report.error
    assert _tree(dest) == []  # the truncated file was not left behind


def test_empty_stream_means_no_output(tmp_path):
    dest, report = _extract(tmp_path, io.BytesIO(b""))
    assert report.ok and report.files == [] and dest.is_dir()


def test_duplicate_names_never_overwrite(tmp_path):
    stream = _tar(("a.txt", tarfile.REGTYPE, b"first"), ("a.txt", tarfile.REGTYPE, b"second"))
    dest, report = _extract(tmp_path, stream)
    assert (dest / "a.txt").read_bytes() == b"first"
    assert [r.kind for r in report.rejected] == ["conflict"]


def test_destination_must_be_new_or_empty(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        extract_tar_stream(io.BytesIO(b""), dest, max_bytes=MIB, max_files=1)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="symbolic link"):
        extract_tar_stream(io.BytesIO(b""), link, max_bytes=MIB, max_files=1)
