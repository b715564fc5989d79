"""Intake rejections: every hostile archive or folder is refused with a clear reason, and
nothing is left in the destination folder (or written anywhere outside it)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from contracts.errors import SubmissionRejected
from harness.intake import IntakeCaps, ingest

MiB = 1024 * 1024


def reject(source: Path, dest: Path, match: str, caps: IntakeCaps | None = None) -> str:
    """Ingest ``source`` expecting a rejection matching ``match``; dest must stay empty."""
    with pytest.raises(SubmissionRejected, match=match) as caught:
        ingest(source, dest, caps or IntakeCaps())
    assert os.listdir(dest) == [], "a rejected submission left files behind"
    assert caught.value.hint, "every rejection carries a hint"
    assert "\n" not in str(caught.value)
    return str(caught.value)


def zip_with(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    return folder


# --- paths -------------------------------------------------------------------------------------


def test_zip_slip_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "s.zip", [("ok.py", b"1"), ("../../evil.py", b"pwned")])
    reject(archive, dest, r"escapes the submission")
    assert not (tmp_path / "evil.py").exists() and not (dest.parent / "evil.py").exists()


def test_zip_slip_hidden_after_a_folder_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "s.zip", [("proj/../../evil.py", b"pwned")])
    reject(archive, dest, r"escapes the submission")


def test_tar_slip_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(tmp_path / "s.tgz", [(tar_entry("a/../../evil.py"), b"x")])
    reject(archive, dest, r"escapes the submission")


def test_absolute_paths_are_rejected(tmp_path: Path, dest: Path) -> None:
    reject(zip_with(tmp_path / "a.zip", [("/tmp/evil.py", b"x")]), dest, "absolute path")
    archive = tar_with(tmp_path / "a.tgz", [(tar_entry("/etc/cron.d/evil"), b"x")])
    reject(archive, dest, "absolute path")
    assert not Path("/etc/cron.d/evil").exists()


@pytest.mark.parametrize(
    "name", ["C:/Windows/evil.py", "c:evil.py", "..\\..\\evil.py", "proj\\x.py"]
)
def test_windows_drive_and_backslash_names_are_rejected(
    tmp_path: Path, dest: Path, name: str
) -> None:
    reject(zip_with(tmp_path / "w.zip", [(name, b"x")]), dest, "absolute path|backslash")


def test_control_characters_in_names_are_rejected(tmp_path: Path, dest: Path) -> None:
    reject(zip_with(tmp_path / "c.zip", [("a\nb.py", b"x")]), dest, "control characters")


def test_too_long_path_is_rejected(tmp_path: Path, dest: Path) -> None:
    name = "d/" * 20 + "x" * 250 + ".py"
    reject(zip_with(tmp_path / "l.zip", [(name, b"x")]), dest, "longer than 255")


def test_too_deep_path_is_rejected(tmp_path: Path, dest: Path) -> None:
    name = "d/" * 40 + "x.py"
    reject(zip_with(tmp_path / "d.zip", [(name, b"x")]), dest, "deeper than 32")


def test_duplicate_zip_entries_are_rejected(tmp_path: Path, dest: Path) -> None:
    with pytest.warns(UserWarning):  # zipfile itself warns when writing a duplicate name
        archive = zip_with(tmp_path / "d.zip", [("a.py", b"1"), ("./a.py", b"2"), ("a.py", b"3")])
    reject(archive, dest, "duplicate entry 'a.py'")


def test_duplicate_tar_entries_are_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(tmp_path / "d.tgz", [(tar_entry("a.py"), b"1"), (tar_entry("a.py"), b"2")])
    reject(archive, dest, "duplicate entry")


def test_file_and_folder_with_one_name_are_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "c.zip", [("a", b"1"), ("a/b.py", b"2")])
    reject(archive, dest, "both a file and a folder")


def test_file_with_an_empty_name_is_rejected(tmp_path: Path, dest: Path) -> None:
    reject(zip_with(tmp_path / "e.zip", [("./", b""), (".", b"x")]), dest, "empty name")


def test_case_collisions_are_fine(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "c.zip", [("README.md", b"1"), ("readme.md", b"2")])
    assert ingest(archive, dest).files == ["README.md", "readme.md"]


# --- links and special files -------------------------------------------------------------------


def test_zip_symlink_is_rejected(tmp_path: Path, dest: Path) -> None:
    link = zipfile.ZipInfo("passwd")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = zip_with(tmp_path / "l.zip", [("ok.py", b"1"), (link, b"/etc/passwd")])
    message = reject(archive, dest, "symlink in submission")
    assert "/etc/passwd" in message


def test_tar_symlink_to_etc_passwd_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(tmp_path / "l.tgz", [(tar_entry("p", tarfile.SYMTYPE, "/etc/passwd"), None)])
    assert "/etc/passwd" in reject(archive, dest, "symlink in submission")


def test_tar_hardlink_outside_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(
        tmp_path / "h.tgz", [(tar_entry("shadow", tarfile.LNKTYPE, "../../../etc/shadow"), None)]
    )
    reject(archive, dest, "hardlink in submission")


def test_tar_char_device_is_rejected(tmp_path: Path, dest: Path) -> None:
    device = tar_entry("null", tarfile.CHRTYPE)
    device.devmajor, device.devminor = 1, 3
    reject(tar_with(tmp_path / "c.tgz", [(device, None)]), dest, "character device")


def test_tar_fifo_is_rejected(tmp_path: Path, dest: Path) -> None:
    reject(tar_with(tmp_path / "f.tgz", [(tar_entry("p", tarfile.FIFOTYPE), None)]), dest, "FIFO")


def test_fifo_in_directory_is_rejected(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "sub"
    source.mkdir()
    (source / "a.py").write_text("x")
    os.mkfifo(source / "pipe")  # reading it would block forever
    reject(source, dest, "FIFO in submission: 'pipe'")


def test_symlink_outside_in_directory_is_rejected(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "sub"
    source.mkdir()
    (source / "data.csv").symlink_to("/etc/passwd")
    assert "/etc/passwd" in reject(source, dest, "symlink in submission")


def test_internal_symlink_in_directory_is_rejected_too(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "sub"
    (source / "src").mkdir(parents=True)
    (source / "src" / "a.py").write_text("x")
    (source / "link.py").symlink_to("src/a.py")
    reject(source, dest, "symlink in submission: 'link.py'")


# --- size, count and compression caps ----------------------------------------------------------


def test_zip_bomb_by_ratio_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "bomb.zip", [("zeros.bin", bytes(50 * MiB))])
    assert archive.stat().st_size < MiB
    reject(archive, dest, "possible zip bomb")


def test_tar_gz_bomb_by_ratio_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(tmp_path / "bomb.tgz", [(tar_entry("zeros.bin"), bytes(40 * MiB))])
    reject(archive, dest, "possible zip bomb")


def test_zip_bomb_by_total_size_is_rejected(tmp_path: Path, dest: Path) -> None:
    entries = [(f"part{i}.bin", os.urandom(300_000)) for i in range(4)]
    caps = IntakeCaps(max_total_bytes=1_000_000)
    reject(zip_with(tmp_path / "big.zip", entries), dest, "larger than 1000000 bytes", caps)


def test_tar_over_total_size_is_rejected(tmp_path: Path, dest: Path) -> None:
    entries = [(f"part{i}.bin", os.urandom(300_000)) for i in range(4)]
    caps = IntakeCaps(max_total_bytes=1_000_000)
    with tarfile.open(tmp_path / "big.tar", "w") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    reject(tmp_path / "big.tar", dest, "larger than 1000000 bytes", caps)


def test_tar_with_a_huge_long_name_header_is_rejected(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "longname.tgz"
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("a" * (20 * MiB))  # stored as a GNU long-name pseudo member
        archive.addfile(info, io.BytesIO(b""))
    reject(path, dest, "possible zip bomb")


def test_too_many_files_is_rejected(tmp_path: Path, dest: Path) -> None:
    entries = [(f"f{i}.py", b"x") for i in range(11)]
    reject(
        zip_with(tmp_path / "many.zip", entries),
        dest,
        "more than 10 files",
        IntakeCaps(max_files=10),
    )


def test_too_many_entries_is_rejected_before_reading(tmp_path: Path, dest: Path) -> None:
    entries = [(f"d{i}/", b"") for i in range(30)]
    reject(
        zip_with(tmp_path / "many.zip", entries),
        dest,
        "30 entries, more than 20",
        IntakeCaps(max_entries=20),
    )


def test_too_many_files_in_a_directory_is_rejected(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "sub"
    source.mkdir()
    for i in range(6):
        (source / f"f{i}.py").write_text("x")
    reject(source, dest, "more than 5 files", IntakeCaps(max_files=5))


def test_file_over_max_file_bytes_is_rejected(tmp_path: Path, dest: Path) -> None:
    caps = IntakeCaps(max_file_bytes=100_000)
    source = tmp_path / "sub"
    source.mkdir()
    (source / "big.csv").write_bytes(os.urandom(100_001))
    reject(source, dest, "file 'big.csv' is larger than 100000 bytes", caps)
    archive = zip_with(tmp_path / "big.zip", [("big.csv", os.urandom(100_001))])
    reject(archive, dest, "file 'big.csv' is larger than 100000 bytes", caps)


# --- broken archives and formats -----------------------------------------------------------


def test_truncated_zip_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "t.zip", [("a.py", os.urandom(10_000))])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    reject(archive, dest, "not a readable zip archive")


def test_zip_with_corrupt_data_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "t.zip", [("a.py", b"print('hello')\n" * 100)])
    data = bytearray(archive.read_bytes())
    data[40] ^= 0xFF  # inside the compressed data of the only entry
    archive.write_bytes(bytes(data))
    reject(archive, dest, "corrupt zip entry|not a readable zip")


def test_truncated_tar_gz_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = tar_with(tmp_path / "t.tgz", [(tar_entry("a.bin"), os.urandom(50_000))])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    reject(archive, dest, "corrupt tar|not a readable tar")


def test_encrypted_zip_entry_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "e.zip", [("secret.py", b"x")])
    data = bytearray(archive.read_bytes())  # zipfile cannot write encrypted entries: set the
    data[6] |= 0x1  # "encrypted" flag in the local header
    data[data.index(b"PK\x01\x02") + 8] |= 0x1  # and in the central directory
    archive.write_bytes(bytes(data))
    reject(archive, dest, "encrypted zip entry")


def test_unsupported_format_is_rejected(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "work.rar"
    path.write_bytes(b"Rar!\x1a\x07\x00")
    reject(path, dest, "unsupported submission format 'work.rar'")


def test_empty_submission_is_rejected(tmp_path: Path, dest: Path) -> None:
    archive = zip_with(tmp_path / "e.zip", [("proj/__pycache__/a.pyc", b"x"), ("proj/", b"")])
    reject(archive, dest, "contains no files")


def test_not_a_bundle_is_rejected(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "repo.bundle"
    path.write_bytes(b"PK\x03\x04 definitely not a bundle")
    reject(path, dest, "not a git bundle")


def test_non_utf8_tar_name_is_rejected(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "latin1.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as archive:
        info = tarfile.TarInfo("caf\xe9.py")  # written as the single byte 0xE9
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    reject(path, dest, "not valid UTF-8")
