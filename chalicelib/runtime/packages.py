"""Where a task finds its flow file: its code package, extracted once per process or machine.

Owns: resolving a TaskPayload to the flow file inside its code package
(`s3://bucket/packages/<machine>/<sha256>.tar.gz`): download, safe
extraction into `<root>/<machine>/<sha256>/code/` with its manifest.json beside it,
cached for every later task. (Not per sha alone: flows uploaded from one
folder share their code sha256 but not their manifest.) Used by the embedded
stack's workers and by the task Lambda (a warm container reuses /tmp).
Does not own: running the task.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from flowdrop.codepackage.archive import MANIFEST_NAME, extract_package
from flowdrop.errors import PackageError
from flowdrop.model.task import TaskPayload

_EXTRACTED = ".extracted"  # written last: a folder without it is a half-done extraction


class PackageCache:
    """Extracted code packages under `root`, one folder per package key."""

    def __init__(self, s3: Any, root: Path):
        self.s3 = s3
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._flow_files: dict[str, Path] = {}

    def flow_file(self, payload: TaskPayload) -> Path:
        """The flow file of the payload's code package (downloading and extracting it the first time)."""
        url = payload.code_package
        if not url or not url.startswith("s3://"):
            raise PackageError(f"task {payload.flow_name}/{payload.run_id}/{payload.step}: no code package "
                               f"(payload code_package={url!r}); was the flow deployed by the deployer?")
        with self._lock:  # one download per package, even when a foreach starts 100 tasks at once
            if url not in self._flow_files:
                self._flow_files[url] = self._extract(url)
            return self._flow_files[url]

    def _extract(self, url: str) -> Path:
        bucket, _, key = url[len("s3://"):].partition("/")
        machine, sha = Path(key).parent.name, Path(key).name.removesuffix(".tar.gz")
        folder = self.root / machine / sha
        if not (folder / _EXTRACTED).exists():
            data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=folder.parent))
            try:
                # As a Batch job lays its package out: code/ beside manifest.json, where the
                # task runner reads the deploy-time values, --with decorators and deployment name.
                package = extract_package(data, staging / "code")
                (staging / MANIFEST_NAME).write_text(json.dumps(package.manifest, sort_keys=True))
                (staging / _EXTRACTED).write_text(str(package.manifest.get("flow_file", "")))
                if folder.exists():
                    shutil.rmtree(folder)
                staging.rename(folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        flow_file = (folder / _EXTRACTED).read_text().strip()
        if not flow_file or not (folder / "code" / flow_file).is_file():
            raise PackageError(f"{url}: the manifest's flow_file {flow_file!r} is not in the package")
        return folder / "code" / flow_file
