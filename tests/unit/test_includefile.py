"""IncludeFile's values: reading the file, and which references a task follows (a production run reads no
path its trigger names, and only the file packaged for that parameter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowdrop.errors import ParameterError
from flowdrop.includefile import (
    PACKAGE_FOLDER,
    inline_reference,
    load_included,
    package_reference,
    read_included,
    reference_of,
    stored_reference,
)
from flowdrop.model.parameters import ParameterSpec

TEXT = ParameterSpec("notes", "notes", include={"is_text": True, "encoding": "utf-8"})
LATIN = ParameterSpec("notes", "notes", include={"is_text": True, "encoding": "latin-1"})
BINARY = ParameterSpec("blob", "blob", include={"is_text": False, "encoding": "utf-8"})


class _Datastore:
    def __init__(self, artifacts: dict[str, object]):
        self.artifacts = artifacts

    def load_artifact(self, sha: str) -> object:
        return self.artifacts[sha]


def test_an_included_file_is_read_as_text_in_its_encoding_or_as_bytes(tmp_path):
    (tmp_path / "f").write_bytes("caf\u00e9".encode("latin-1"))
    assert read_included(LATIN, tmp_path / "f") == "caf\u00e9"
    assert read_included(BINARY, tmp_path / "f") == b"caf\xe9"
    with pytest.raises(ParameterError) as err:
        read_included(TEXT, tmp_path / "f")
    assert f"--notes: the included file {tmp_path / 'f'} is not utf-8 text" in str(err.value)
    with pytest.raises(ParameterError, match="--notes: cannot read the included file .*missing"):
        read_included(TEXT, tmp_path / "missing")


def test_references_carry_content_stored_packaged_or_inline(tmp_path):
    (tmp_path / PACKAGE_FOLDER).mkdir()
    (tmp_path / PACKAGE_FOLDER / "notes").write_text("packaged")
    store = _Datastore({"abc": "stored"})
    assert load_included(TEXT, stored_reference("abc"), store, tmp_path) == "stored"
    assert load_included(TEXT, package_reference(f"{PACKAGE_FOLDER}/notes"), store, tmp_path, production=True) == \
        "packaged"
    assert load_included(TEXT, inline_reference("inline"), store, tmp_path, production=True) == "inline"
    assert load_included(BINARY, inline_reference(b"\x00\x01"), store, tmp_path, production=True) == b"\x00\x01"
    assert load_included(TEXT, None, store, tmp_path) is None
    assert reference_of("./plain/path.txt") is None and reference_of(stored_reference("x")) == {"sha": "x"}


@pytest.mark.parametrize("value", [
    "/etc/hostname",                                              # a plain path on the task's host
    stored_reference("abc"),                                      # another artifact of the flow's datastore
    package_reference("../../secret"),                            # outside the included-files folder
    package_reference(f"{PACKAGE_FOLDER}/other"),                 # another parameter's file
    json.dumps({"flowdrop_include": {"mystery": 1}}),
])
def test_a_production_run_follows_only_references_it_may_read(tmp_path, value):
    with pytest.raises(ParameterError) as err:
        load_included(TEXT, value, _Datastore({"abc": "stored"}), tmp_path, production=True)
    assert "notes" in str(err.value)


def test_step_functions_trigger_reads_the_file_and_sends_its_content(tmp_path):
    from flowdrop.cli.step_functions import trigger_parameters
    from flowdrop.graph import parse_flow

    graph = parse_flow(
        "from flowdrop import FlowSpec, IncludeFile, step\n"
        "class F(FlowSpec):\n"
        "    notes = IncludeFile('notes', default='n.txt')\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n", "f.py")
    (tmp_path / "given.txt").write_text("given at trigger time")
    body = trigger_parameters(graph, {"notes": str(tmp_path / "given.txt")})
    assert load_included(graph.parameter("notes"), body["notes"], None, Path("/nowhere"), production=True) == \
        "given at trigger time"


def test_the_uploader_packages_each_default_file_and_points_the_deployment_at_it(tmp_path):
    from flowdrop.cli.uploader import included_files
    from flowdrop.graph import parse_flow

    graph = parse_flow(
        "from flowdrop import FlowSpec, IncludeFile, step\n"
        "def pick(ctx):\n"
        "    return 'picked.txt'\n"
        "class F(FlowSpec):\n"
        "    notes = IncludeFile('notes', default='n.txt')\n"
        "    chosen = IncludeFile('chosen', default=pick, is_text=False)\n"
        "    absent = IncludeFile('absent')\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n", "f.py")
    (tmp_path / "n.txt").write_text("deployed notes")
    (tmp_path / "picked.txt").write_bytes(b"\x01\x02")
    files, defaults = included_files(graph, tmp_path, {"chosen": "picked.txt"})
    assert files == {f"{PACKAGE_FOLDER}/notes": b"deployed notes", f"{PACKAGE_FOLDER}/chosen": b"\x01\x02"}
    assert defaults == {"notes": package_reference(f"{PACKAGE_FOLDER}/notes"),
                        "chosen": package_reference(f"{PACKAGE_FOLDER}/chosen")}
    (tmp_path / "n.txt").unlink()
    with pytest.raises(ParameterError, match="--notes: cannot read the included file"):
        included_files(graph, tmp_path, {"chosen": "picked.txt"})
