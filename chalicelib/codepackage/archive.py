"""Code packages as tarballs: deterministic writing and safe reading of untrusted ones.

Owns: writing the tar.gz so identical input gives identical bytes, and
reading an untrusted package without letting it escape, explode or lie about
its sizes. Does not own: which files go in (snapshot.py), what the manifest
says (manifest.py) or where packages are stored (the uploader and the
deployer).

Layout of a package: `manifest.json` first, then `code/<relative path>` for
every file, sorted. Pure apart from extract_package() writing the given
destination.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowdrop.errors import PackageError

MANIFEST_NAME = "manifest.json"
CODE_PREFIX = "code/"


@dataclass(frozen=True)
class PackageLimits:
    """Upper bounds on a package, enforced when snapshotting and again when reading."""

    max_files: int = 2000
    max_file_bytes: int = 10 * 2**20
    max_total_bytes: int = 50 * 2**20
    max_manifest_bytes: int = 2**20


@dataclass(frozen=True)
class Package:
    """A package as read: its manifest and its files, keyed by their path under code/."""

    manifest: dict[str, Any]
    files: dict[str, bytes]


# -- snapshot -------------------------------------------------------------------


# -- hashing and writing ------------------------------------------------------------


def build_package(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The tar.gz of `manifest` and `files`; identical input gives identical bytes."""
    try:
        manifest_bytes = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode("utf-8")
    except (TypeError, ValueError) as err:
        raise PackageError(f"{MANIFEST_NAME}: cannot be written as JSON: {err}") from err
    problems = [f"{path!r}: {problem}" for path in files if (problem := path_problem(path))]
    if problems:
        raise PackageError("cannot package these paths: " + "; ".join(problems))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        _add(tar, MANIFEST_NAME, manifest_bytes)
        for path in sorted(files, key=lambda p: p.encode("utf-8")):
            _add(tar, CODE_PREFIX + path, bytes(files[path]))
    out = io.BytesIO()
    # mtime 0 and no file name in the gzip header: the bytes depend on the content only.
    # Level 4: a quarter of level 6's time on flowdrop's own 1.1 MB of source (which every package carries),
    # 5% larger; 6 was the cost `step-functions create` waited on most after boto3 (9: 2x 6's time, 0.7% smaller).
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=4) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    tar.addfile(info, io.BytesIO(data))


_DRIVE = re.compile(r"^[A-Za-z]:")


def path_problem(path: str) -> str | None:
    """Why `path` is not a safe relative posix path, or None."""
    if not path:
        return "empty path"
    if path.startswith("/") or _DRIVE.match(path):
        return "absolute path"
    if "\\" in path or "\x00" in path:
        return "backslash or NUL in path"
    parts = path.split("/")
    if ".." in parts:
        return "'..' component escapes the package"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' path component"
    return None


# -- reading untrusted packages ---------------------------------------------------


_CHUNK = 65536


class _TooBig(Exception):
    pass


class _BoundedGunzip(io.RawIOBase):
    """A gzip stream decompressed incrementally, failing once more than `budget` bytes come out.

    Header sizes are never trusted: the bound is on bytes actually produced.
    """

    def __init__(self, data: bytes, budget: int):
        self._data = memoryview(data)
        self._pos = 0
        self._budget = budget
        self.produced = 0
        self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while True:
            if self._inflate.eof:
                return 0
            chunk = self._inflate.decompress(self._inflate.unconsumed_tail or self._next_input(), want)
            if chunk:
                self.produced += len(chunk)
                if self.produced > self._budget:
                    raise _TooBig()
                buffer[: len(chunk)] = chunk
                return len(chunk)
            if self._pos >= len(self._data) and not self._inflate.unconsumed_tail:
                if not self._inflate.eof:
                    raise zlib.error("truncated gzip stream")
                return 0

    def _next_input(self) -> bytes:
        piece = bytes(self._data[self._pos : self._pos + _CHUNK])
        self._pos += len(piece)
        return piece

    def finish(self) -> None:
        """Read to the end of the gzip stream: checks the CRC and refuses trailing data."""
        sink = bytearray(_CHUNK)
        while self.readinto(sink):
            pass
        if self._inflate.unused_data or self._pos < len(self._data):
            raise zlib.error("trailing data after the gzip stream")


def read_package(data: bytes, limits: PackageLimits = PackageLimits()) -> Package:
    """Parse an untrusted package; raises PackageError naming the offending entry."""
    if data[:2] != b"\x1f\x8b":
        raise PackageError("package: not a gzip-compressed tar archive (bad magic bytes)")
    # The compressed size can't legitimately exceed what it holds uncompressed.
    compressed_limit = limits.max_total_bytes + limits.max_manifest_bytes
    if len(data) > compressed_limit:
        raise PackageError(f"package: {len(data)} bytes compressed exceeds the limit of {compressed_limit}")
    # Room for tar headers (512 bytes each, plus PAX records), the end-of-archive
    # padding and the read-ahead of the buffered reader and of tarfile.
    budget = compressed_limit + (limits.max_files + 2) * 4096 + 2 * _CHUNK + 2 * tarfile.RECORDSIZE
    stream = _BoundedGunzip(data, budget)
    manifest_bytes: bytes | None = None
    files: dict[str, bytes] = {}
    seen: set[str] = set()
    total = 0
    name = "<none>"
    reading: str | None = None
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream, _CHUNK), mode="r|", encoding="utf-8", errors="strict") as tar:
            for count, member in enumerate(tar, start=1):
                name = member.name
                entry = f"package entry {name!r}"
                if count > limits.max_files + 1:
                    raise PackageError(f"{entry}: more than {limits.max_files + 1} entries (max_files {limits.max_files} plus the manifest)")
                problem = path_problem(name)
                if problem:
                    raise PackageError(f"{entry}: {problem}")
                if name in seen:
                    raise PackageError(f"{entry}: duplicate entry")
                seen.add(name)
                if member.isdir() and (name == CODE_PREFIX.rstrip("/") or name.startswith(CODE_PREFIX)):
                    continue  # directory entries (from other tar tools) carry nothing
                if name != MANIFEST_NAME and not (name.startswith(CODE_PREFIX) and len(name) > len(CODE_PREFIX)):
                    raise PackageError(f"{entry}: outside code/ (only {MANIFEST_NAME} and code/... are allowed)")
                kind = _irregular_kind(member)
                if kind:
                    raise PackageError(f"{entry}: is a {kind}; only regular files are allowed")
                limit = limits.max_manifest_bytes if name == MANIFEST_NAME else limits.max_file_bytes
                reading = name
                content = _read_member(tar, member, limit + 1)
                reading = None
                if len(content) > limit:
                    raise PackageError(f"{entry}: larger than the limit of {limit} bytes")
                if name == MANIFEST_NAME:
                    manifest_bytes = content
                    continue
                total += len(content)
                if total > limits.max_total_bytes:
                    raise PackageError(f"{entry}: the files add up to more than the limit of {limits.max_total_bytes} bytes")
                files[name[len(CODE_PREFIX) :]] = content
        stream.finish()
    except _TooBig as err:
        where = f"package entry {reading!r}" if reading else f"package (after entry {name!r})"
        raise PackageError(f"{where}: decompresses to more than {budget} bytes (a compression bomb?)") from err
    except (tarfile.TarError, zlib.error, EOFError, UnicodeError) as err:
        hint = ("; it ends early, as a partial or interrupted upload does: nothing was deployed, upload it again"
                if isinstance(err, EOFError) or "truncated" in str(err) or "unexpected end" in str(err) else "")
        raise PackageError(f"package: not a valid gzip-compressed tar archive (near entry {name!r}): {err}{hint}") \
            from err
    if manifest_bytes is None:
        raise PackageError(f"package: missing {MANIFEST_NAME}")
    return Package(_parse_manifest(manifest_bytes), dict(sorted(files.items())))


def _irregular_kind(member: tarfile.TarInfo) -> str | None:
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "fifo"
    if member.issparse():
        return "sparse file"
    if not member.isreg():
        return "non-regular entry"
    return None


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, at_most: int) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise tarfile.ReadError(f"cannot read {member.name!r}")
    content = handle.read(at_most)
    if len(content) < min(member.size, at_most):
        raise tarfile.ReadError(f"{member.name!r} is truncated")
    return content


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise PackageError(f"package entry {MANIFEST_NAME!r}: not valid UTF-8 JSON: {err}") from err
    if not isinstance(value, dict):
        raise PackageError(f"package entry {MANIFEST_NAME!r}: must be a JSON object, got {type(value).__name__}")
    return value


def extract_package(data: bytes, dest: Path, limits: PackageLimits = PackageLimits()) -> Package:
    """read_package, then write the code/ files under `dest` (created if missing; files must not exist)."""
    package = read_package(data, limits)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    top = dest.resolve()
    for path, content in package.files.items():
        parts = path.split("/")
        folder = top
        for part in parts[:-1]:
            folder = folder / part
            # A symlink already in dest must not carry a write outside it.
            if folder.is_symlink():
                raise PackageError(f"package entry {CODE_PREFIX + path!r}: {folder} is a symlink; refusing to write through it")
            folder.mkdir(exist_ok=True)
        target = folder / parts[-1]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(target, flags, 0o644)
        except FileExistsError as err:
            raise PackageError(f"package entry {CODE_PREFIX + path!r}: {target} already exists") from err
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
    return package
