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


# -- parser=, as Metaflow's: applied to the content in the start task; the artifact is what it returns ------------

PARSED_FLOW = '''
from flowdrop import FlowSpec, IncludeFile, step


def parse_pairs(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line)


class ParsedFlow(FlowSpec):
    pairs = IncludeFile("pairs", default="pairs.txt", parser=parse_pairs)
    rows = IncludeFile("rows", default="rows.json", parser="json.loads")
    size = IncludeFile("size", default="pairs.txt", is_text=False, parser=len)
    plain = IncludeFile("plain", default="pairs.txt")

    @step
    def start(self):
        self.keys_seen = sorted(self.pairs)
        self.next(self.end)

    @step
    def end(self):
        self.first_row = self.rows[0]


if __name__ == "__main__":
    ParsedFlow()
'''


def _run_parsed_flow(tmp_path: Path, source: str, *args: str):
    import os
    import subprocess
    import sys

    (tmp_path / "parsed_flow.py").write_text(source)
    (tmp_path / "pairs.txt").write_text("a=1\nb=2\n")
    (tmp_path / "rows.json").write_text('[{"id": 1}, {"id": 2}]')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWDROP_", "METAFLOW_"))}
    env.update({"FLOWDROP_CONFIG": str(tmp_path / "absent.json"), "FLOWDROP_USER": "ada"})
    return subprocess.run([sys.executable, "parsed_flow.py", "--no-pylint", "--datastore-root", str(tmp_path / "ds"),
                           "run", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_parser_turns_the_included_content_into_the_artifact_in_every_task(tmp_path, monkeypatch):
    from flowdrop.client import Flow, namespace, set_datastore

    done = _run_parsed_flow(tmp_path, PARSED_FLOW)
    assert done.returncode == 0, done.stderr
    set_datastore(str(tmp_path / "ds"), production=None)
    namespace(None)
    run = Flow("ParsedFlow").latest_run
    start, end = run["start"].task, run["end"].task
    assert start["pairs"].data == {"a": "1", "b": "2"} and start["keys_seen"].data == ["a", "b"]
    assert end["rows"].data == [{"id": 1}, {"id": 2}] and end["first_row"].data == {"id": 1}  # a dotted path
    assert end["size"].data == len(b"a=1\nb=2\n")  # bytes reach the parser when is_text=False
    assert end["plain"].data == "a=1\nb=2\n"  # no parser: the content itself


@pytest.mark.parametrize("parser, message", [
    ("3", "IncludeFile 'pairs': parser= must be a function or the dotted path of one ('package.module.function'), "
          "not 3"),
    ("'no_such_module.parse'", "IncludeFile 'pairs': cannot find its parser 'no_such_module.parse': "
                               "No module named 'no_such_module'"),
    ("'json.nope'", "IncludeFile 'pairs': cannot find its parser 'json.nope': module 'json' has no attribute 'nope'"),
    ("'json.decoder'", "IncludeFile 'pairs': its parser 'json.decoder' is a module, not a function"),
    ("parse_pairs_badly", "IncludeFile 'pairs': its parser parse_pairs_badly raised ValueError: "
                          "dictionary update sequence element #0 has length 3; 2 is required"),
])
def test_a_bad_parser_fails_the_run_with_an_error_naming_the_parameter(tmp_path, parser, message):
    source = PARSED_FLOW.replace("parser=parse_pairs)", f"parser={parser})").replace(
        "class ParsedFlow", "def parse_pairs_badly(text):\n    return dict(text.split())\n\n\nclass ParsedFlow")
    done = _run_parsed_flow(tmp_path, source)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_parse_applies_the_parser_only_to_content():
    from flowdrop import IncludeFile

    include = IncludeFile("rows", parser=".includefile.reference_of")  # relative to flowdrop, as Metaflow's to metaflow
    assert include.parse(stored_reference("abc")) == {"sha": "abc"}
    assert include.parse(None) is None  # no file given: nothing to parse
    assert IncludeFile("rows").parse(b"\x00") == b"\x00"
    with pytest.raises(ParameterError, match="IncludeFile 'rows': parser= must be a function .* not 'json'"):
        IncludeFile("rows", parser="json")
