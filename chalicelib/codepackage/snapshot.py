"""The snapshot of a flow's folder that becomes a code package.

Owns: choosing which files of the user's directory go into a package (never
symlinks, secrets or VCS/tooling folders), the limits checked while doing so,
and the content hash. Does not own: the tarball (archive.py) or the manifest
(manifest.py). Reads the given directory; writes nothing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from flowdrop.codepackage.archive import PackageLimits, path_problem
from flowdrop.errors import PackageError

# Folders never worth shipping and often holding secrets or gigabytes.
EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", ".venv", "venv", "__pycache__", ".flowdrop", "node_modules",
        ".aws", ".ssh", ".gnupg", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea",
    }
)  # fmt: skip


# File names (matched case-insensitively) that hold credentials, whatever suffixes were asked for.
SECRET_PATTERNS = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*",
    "id_ed25519*", "credentials", "credentials.*", ".git-credentials", ".netrc", ".pypirc", ".npmrc",
)  # fmt: skip


def snapshot(
    root: Path,
    suffixes: Sequence[str] = (".py",),
    limits: PackageLimits = PackageLimits(),
    extra: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """The files under `root` with a listed suffix, by relative posix path, plus `extra` (which wins)."""
    root = Path(root)
    if not root.is_dir():
        raise PackageError(f"snapshot: {root} is not a directory")
    sizes: dict[str, int] = {}
    try:
        _walk(root, root, tuple(suffixes), sizes)
    except OSError as err:
        raise PackageError(f"snapshot of {root}: cannot read {err.filename}: {err.strerror}") from err
    extra = dict(extra or {})
    for path in extra:
        problem = path_problem(path)
        if problem:
            raise PackageError(f"extra entry {path!r}: {problem}")
    sizes.update({path: len(data) for path, data in extra.items()})
    _check_snapshot_limits(root, sizes, limits)
    files: dict[str, bytes] = {}
    for path in sorted(sizes):
        if path in extra:
            files[path] = bytes(extra[path])
        else:
            try:
                files[path] = (root / path).read_bytes()
            except OSError as err:
                raise PackageError(f"snapshot of {root}: cannot read {path}: {err.strerror}") from err
    # Files can grow between the walk and the read: check what was read.
    _check_snapshot_limits(root, {path: len(data) for path, data in files.items()}, limits)
    return files


def _walk(root: Path, folder: Path, suffixes: tuple[str, ...], sizes: dict[str, int]) -> None:
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                continue  # a link can point anywhere: outside the flow, at ~/.aws
            if stat.S_ISDIR(info.st_mode):
                if entry.name not in EXCLUDED_DIRS:
                    _walk(root, Path(entry.path), suffixes, sizes)
                continue
            if not stat.S_ISREG(info.st_mode) or _is_secret(entry.name):
                continue  # fifos and sockets would block or fail on read
            if entry.name.endswith(suffixes):
                sizes[Path(entry.path).relative_to(root).as_posix()] = info.st_size


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in SECRET_PATTERNS)


def _check_snapshot_limits(root: Path, sizes: Mapping[str, int], limits: PackageLimits) -> None:
    where = f"snapshot of {root}"
    if len(sizes) > limits.max_files:
        folders = Counter(str(PurePosixPath(path).parent) for path in sizes)
        busiest = ", ".join(f"{folder}/ ({n})" for folder, n in folders.most_common(3))
        raise PackageError(
            f"{where}: {len(sizes)} files exceed the limit of {limits.max_files}; most are under {busiest}. "
            "Move data out of the flow's directory or narrow the suffixes."
        )
    too_big = sorted((size, path) for path, size in sizes.items() if size > limits.max_file_bytes)
    if too_big:
        names = ", ".join(f"{path} ({_mib(size)})" for size, path in reversed(too_big[-3:]))
        raise PackageError(
            f"{where}: {len(too_big)} file(s) exceed the per-file limit of {_mib(limits.max_file_bytes)}: {names}. "
            "Keep data out of the code package (read it from S3 in a step)."
        )
    total = sum(sizes.values())
    if total > limits.max_total_bytes:
        biggest = sorted(((size, path) for path, size in sizes.items()), reverse=True)[:3]
        names = ", ".join(f"{path} ({_mib(size)})" for size, path in biggest)
        raise PackageError(
            f"{where}: {_mib(total)} in {len(sizes)} files exceeds the total limit of "
            f"{_mib(limits.max_total_bytes)}; biggest: {names}."
        )


def code_sha256(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted (path, content) pairs, length-prefixed so no two sets collide."""
    digest = hashlib.sha256(b"flowdrop-code-v1\n")
    for path in sorted(files, key=lambda p: p.encode("utf-8")):
        name, data = path.encode("utf-8"), files[path]
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
