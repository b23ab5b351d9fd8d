from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from flowdrop.codepackage.archive import Package, PackageLimits, build_package, extract_package, read_package
from flowdrop.codepackage.snapshot import code_sha256, snapshot
from flowdrop.errors import PackageError

MANIFEST = {"version": 1, "flow_name": "TrainFlow", "nested": {"b": 2, "a": 1}}
FILES = {"train_flow.py": b"print('hi')\n", "lib/util.py": b"X = 1\n", "lib/__init__.py": b""}
SMALL = PackageLimits(max_files=5, max_file_bytes=1000, max_total_bytes=2000, max_manifest_bytes=500)


def write(root: Path, rel: str, data: bytes = b"x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- determinism --------------------------------------------------------------


def test_same_input_gives_identical_bytes_and_sha():
    first = build_package(MANIFEST, FILES)
    second = build_package(dict(reversed(list(MANIFEST.items()))), dict(reversed(list(FILES.items()))))
    assert first == second
    assert code_sha256(FILES) == code_sha256(dict(reversed(list(FILES.items()))))
    assert len(code_sha256(FILES)) == 64


def test_sha_changes_with_content_path_and_boundaries():
    base = code_sha256({"a.py": b"1"})
    assert code_sha256({"a.py": b"2"}) != base
    assert code_sha256({"b.py": b"1"}) != base
    # length prefixes: moving bytes between path and content changes the hash
    assert code_sha256({"ab": b"c"}) != code_sha256({"a": b"bc"})
    assert code_sha256({}) != base


def test_package_layout_and_headers():
    data = build_package(MANIFEST, FILES)
    assert data[:2] == b"\x1f\x8b"
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    assert not data[3] & 0x08  # no FNAME flag
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["manifest.json", "code/lib/__init__.py", "code/lib/util.py", "code/train_flow.py"]
        for m in members:
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.type) == (0, 0, 0, "", "", 0o644, tarfile.REGTYPE)
        text = tar.extractfile("manifest.json").read().decode()
    assert text == json.dumps(MANIFEST, sort_keys=True, indent=2) + "\n"


def test_round_trip():
    package = read_package(build_package(MANIFEST, FILES))
    assert package == Package(MANIFEST, dict(sorted(FILES.items())))


def test_disk_order_and_mtime_do_not_change_the_bytes(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for rel in ("flow.py", "lib/a.py", "lib/b.py"):
        write(one, rel, rel.encode())
    for rel in ("lib/b.py", "flow.py", "lib/a.py"):
        path = write(two, rel, rel.encode())
        os.utime(path, (1_000_000, 1_000_000))
    assert build_package(MANIFEST, snapshot(one)) == build_package(MANIFEST, snapshot(two))


def test_build_rejects_unsafe_paths_and_unserialisable_manifest():
    with pytest.raises(PackageError, match=r"'\.\./x\.py': '\.\.' component"):
        build_package({}, {"../x.py": b""})
    with pytest.raises(PackageError, match="manifest.json: cannot be written as JSON"):
        build_package({"when": object()}, {})


# -- snapshot -----------------------------------------------------------------


def test_snapshot_selects_only_safe_python_files(tmp_path):
    write(tmp_path, "flow.py")
    write(tmp_path, "lib/helpers.py")
    write(tmp_path, "README.md")
    write(tmp_path, "data.csv")
    write(tmp_path, ".git/hooks/x.py")
    write(tmp_path, "lib/__pycache__/helpers.cpython-311.py")
    write(tmp_path, ".venv/lib/site.py")
    write(tmp_path, "node_modules/x.py")
    write(tmp_path, ".flowdrop/cache.py")
    write(tmp_path, ".env", b"SECRET=1")
    write(tmp_path, "prod.env", b"SECRET=1")
    write(tmp_path, "server.pem")
    write(tmp_path, "id_rsa")
    write(tmp_path, ".aws/credentials.py")
    (tmp_path / "outside.py").symlink_to(tmp_path / "flow.py")
    (tmp_path / "linked_dir").symlink_to(tmp_path / "lib", target_is_directory=True)
    files = snapshot(tmp_path)
    assert list(files) == ["flow.py", "lib/helpers.py"]


def test_snapshot_never_takes_secrets_even_when_asked(tmp_path):
    write(tmp_path, "flow.py")
    write(tmp_path, "conf.yaml")
    write(tmp_path, ".env")
    write(tmp_path, "tls.key")
    write(tmp_path, "credentials")
    files = snapshot(tmp_path, suffixes=(".py", ".yaml", ".env", ".key", "credentials"))
    assert list(files) == ["conf.yaml", "flow.py"]


def test_snapshot_extra_entries(tmp_path):
    write(tmp_path, "flow.py", b"user")
    files = snapshot(tmp_path, extra={"flowdrop/__init__.py": b"sdk", "flow.py": b"override"})
    assert files == {"flow.py": b"override", "flowdrop/__init__.py": b"sdk"}
    with pytest.raises(PackageError, match="extra entry '/etc/x.py': absolute path"):
        snapshot(tmp_path, extra={"/etc/x.py": b""})


def test_snapshot_too_many_files_names_the_folder(tmp_path):
    for i in range(6):
        write(tmp_path, f"gen/m{i}.py")
    with pytest.raises(PackageError) as info:
        snapshot(tmp_path, limits=SMALL)
    message = str(info.value)
    assert "6 files exceed the limit of 5" in message
    assert "gen/ (6)" in message


def test_snapshot_file_too_big_names_the_file(tmp_path):
    write(tmp_path, "flow.py")
    write(tmp_path, "weights.py", b"0" * 1500)
    with pytest.raises(PackageError, match=r"1 file\(s\) exceed the per-file limit.*weights\.py"):
        snapshot(tmp_path, limits=SMALL)


def test_snapshot_total_too_big_names_the_biggest(tmp_path):
    for i, size in enumerate((900, 800, 700)):
        write(tmp_path, f"m{i}.py", b"0" * size)
    with pytest.raises(PackageError) as info:
        snapshot(tmp_path, limits=SMALL)
    message = str(info.value)
    assert "exceeds the total limit" in message
    assert message.index("m0.py") < message.index("m1.py") < message.index("m2.py")


# -- untrusted packages ---------------------------------------------------------


def tarball(*entries: tarfile.TarInfo | tuple[str, bytes], manifest: bool = True, raw: bool = False) -> bytes:
    """A gzip'd tar of the given entries, built by hand as an attacker would."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if manifest:
            data = b'{"version": 1}'
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue() if raw else gzip.compress(buf.getvalue())


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tarball(("code/../../x.py", b"")), "package entry 'code/../../x.py': '..' component"),
        (tarball(("../x", b"")), "package entry '../x': '..' component"),
        (tarball(("/etc/cron.d/x", b"")), "package entry '/etc/cron.d/x': absolute path"),
        (tarball(("C:/x.py", b"")), "package entry 'C:/x.py': absolute path"),
        (tarball(("code\\..\\x.py", b"")), "backslash"),
        (tarball(("setup.py", b"")), "package entry 'setup.py': outside code/"),
        (tarball(special("code/link.py", tarfile.SYMTYPE, "/etc/passwd")), "package entry 'code/link.py': is a symlink"),
        (tarball(special("code/hard.py", tarfile.LNKTYPE, "manifest.json")), "package entry 'code/hard.py': is a hardlink"),
        (tarball(special("code/dev", tarfile.CHRTYPE)), "package entry 'code/dev': is a device file"),
        (tarball(special("code/blk", tarfile.BLKTYPE)), "package entry 'code/blk': is a device file"),
        (tarball(special("code/pipe", tarfile.FIFOTYPE)), "package entry 'code/pipe': is a fifo"),
        (tarball(("code/a.py", b"1"), ("code/a.py", b"2")), "package entry 'code/a.py': duplicate entry"),
        (tarball(("manifest.json", b"{}")), "package entry 'manifest.json': duplicate entry"),
        (tarball(("code/a.py", b""), manifest=False), "package: missing manifest.json"),
        (tarball(("manifest.json", b"[1, 2]"), manifest=False), "'manifest.json': must be a JSON object, got list"),
        (tarball(("manifest.json", b"{not json"), manifest=False), "'manifest.json': not valid UTF-8 JSON"),
        (tarball(("manifest.json", b"{}" + b" " * 600), manifest=False), "'manifest.json': larger than the limit of 500"),
        (tarball(("code/big.py", b"0" * 1001)), "package entry 'code/big.py': larger than the limit of 1000"),
        (tarball(*[(f"code/m{i}.py", b"") for i in range(6)]), "package entry 'code/m5.py': more than 6 entries"),
        (b"PK\x03\x04 this is a zip", "not a gzip-compressed tar archive"),
        (gzip.compress(b"definitely not a tar archive" * 40, mtime=0), "not a valid gzip-compressed tar archive"),
        (tarball(("code/a.py", b""), raw=True), "not a gzip-compressed tar archive"),
        (tarball(("code/a.py", b"x" * 300))[:-20], "not a valid gzip-compressed tar archive"),
        (tarball(("code/a.py", b"")) + b"trailing", "trailing data"),
        (b"\x1f\x8b" + b"\x00" * 5000, "package: 5002 bytes compressed exceeds the limit of 2500"),
    ],
    # Ids from the expected message: stable across pytest-xdist workers.
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_malicious_packages_are_rejected(data, message):
    with pytest.raises(PackageError) as info:
        read_package(data, SMALL)
    assert message in str(info.value)


def test_gzip_bomb_of_zeros_is_stopped_at_the_limit():
    limits = PackageLimits(max_files=10, max_file_bytes=2**20, max_total_bytes=2 * 2**20, max_manifest_bytes=2**10)
    zeros = bytes(2**20)  # each entry is allowed, together they are not
    data = tarball(("code/a.bin", zeros), ("code/b.bin", zeros), ("code/c.bin", zeros))
    assert len(data) < 20_000  # highly compressible
    with pytest.raises(PackageError, match="package entry 'code/c.bin': (the files add up to|decompresses to) more than"):
        read_package(data, limits)
    smaller = bytes(700 * 2**10)
    data = tarball(("code/a.bin", smaller), ("code/b.bin", smaller), ("code/c.bin", smaller))
    with pytest.raises(PackageError, match="package entry 'code/c.bin': the files add up to more than the limit of 2097152"):
        read_package(data, limits)
    one_huge = tarball(("code/zeros.bin", bytes(30 * 2**20)))
    with pytest.raises(PackageError, match="package entry 'code/zeros.bin': larger than the limit of 1048576"):
        read_package(one_huge, limits)


def test_bomb_in_a_header_is_stopped_by_the_decompression_budget():
    info = tarfile.TarInfo("code/a.py")
    info.pax_headers = {"comment": "0" * (8 * 2**20)}  # a PAX header of 8 MiB of zeros
    data = tarball(info)
    limits = PackageLimits(max_files=5, max_file_bytes=2**20, max_total_bytes=2**20, max_manifest_bytes=2**10)
    with pytest.raises(PackageError, match=r"package \(after entry 'manifest.json'\): decompresses to more than"):
        read_package(data, limits)


def test_lying_size_header_is_not_trusted():
    data = bytearray(tarball(("code/a.py", b"x" * 100), raw=True))
    # Claim 1 GiB in the second header's size field (offset 124, 12 octal bytes).
    offset = data.index(b"code/a.py") - data.index(b"code/a.py") % 512
    data[offset + 124 : offset + 136] = b"%011o\x00" % (2**30)
    checksum = sum(data[offset : offset + 148]) + 8 * 32 + sum(data[offset + 156 : offset + 512])
    data[offset + 148 : offset + 156] = b"%06o\x00 " % checksum
    with pytest.raises(PackageError, match="code/a.py"):
        read_package(gzip.compress(bytes(data)), SMALL)


def test_directory_entries_from_other_tools_are_ignored():
    data = tarball(special("code", tarfile.DIRTYPE), special("code/lib", tarfile.DIRTYPE), ("code/lib/a.py", b"1"))
    assert read_package(data, SMALL).files == {"lib/a.py": b"1"}


# -- extraction ---------------------------------------------------------------


def test_extract_writes_code_files_only(tmp_path):
    package = extract_package(build_package(MANIFEST, FILES), tmp_path / "run")
    assert package.manifest == MANIFEST
    written = sorted(p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert written == ["lib/__init__.py", "lib/util.py", "train_flow.py"]
    assert (tmp_path / "run" / "lib" / "util.py").read_bytes() == b"X = 1\n"


def test_extract_refuses_to_write_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "lib").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PackageError, match="'code/lib/util.py'.*is a symlink"):
        extract_package(build_package(MANIFEST, {"lib/util.py": b""}), dest)
    assert list(outside.iterdir()) == []


def test_extract_refuses_to_overwrite(tmp_path):
    write(tmp_path, "train_flow.py", b"old")
    with pytest.raises(PackageError, match="'code/train_flow.py'.*already exists"):
        extract_package(build_package(MANIFEST, {"train_flow.py": b"new"}), tmp_path)
    assert (tmp_path / "train_flow.py").read_bytes() == b"old"


def test_extract_rejects_a_malicious_package_before_writing(tmp_path):
    with pytest.raises(PackageError, match="'..' component"):
        extract_package(tarball(("code/ok.py", b""), ("code/../../evil.py", b"")), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_snapshot_skips_fifos_instead_of_blocking(tmp_path):
    write(tmp_path, "flow.py")
    os.mkfifo(tmp_path / "pipe.py")
    assert list(snapshot(tmp_path)) == ["flow.py"]


def test_snapshot_of_a_missing_directory(tmp_path):
    with pytest.raises(PackageError, match="is not a directory"):
        snapshot(tmp_path / "nowhere")
