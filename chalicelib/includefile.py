"""Metaflow's IncludeFile: a parameter naming a local file whose content becomes an artifact of the run.

Owns: the IncludeFile declaration, reading an included file (text with its
encoding, or bytes), and the references that carry an included file from
where it was read to the start task: at run start the CLI stores the content
in the run's datastore and hands the start task `{"flowdrop_include":
{"sha": ...}}`; at `step-functions create` the uploader packages the default
file's content in the code package (`_flowdrop_include/<name>`, beside the
flow) and the deployment's default is `{"flowdrop_include": {"package_path":
...}}`, so a production run reads what was there at deploy time, as
Metaflow's does; `step-functions trigger --name PATH` sends the file's content
inline (`{"text": ...}` or `{"base64": ...}`). And `parser=`, as Metaflow's:
a function (or the dotted path of one) that the start task applies to the
content, str or bytes, wherever the content came from; the artifact is what
it returns. Does not own: the parameter checks (model/parameters.py).
"""

from __future__ import annotations

from pathlib import Path

from flowdrop.errors import ParameterError
from flowdrop.model.excerpts import short_repr
from flowdrop.parameters import Parameter

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any, Callable

    from flowdrop.model.parameters import ParameterSpec

PACKAGE_FOLDER = "_flowdrop_include"  # where the uploader puts included files inside code/
_KEY = "flowdrop_include"


class IncludeFile(Parameter):
    """`data = IncludeFile('data', default='data.csv', is_text=True, encoding='utf-8', parser=None)`: `self.data`
    is the content, or what `parser(content)` returns (a function, or a dotted path 'package.module.function')."""

    def __init__(self, name: str, required: bool = False, is_text: bool = True, encoding: str = "utf-8",
                 help: str | None = None, default: Any = None,  # noqa: A002 - Metaflow's keyword
                 parser: str | Callable[[str | bytes], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required, **kwargs)
        self.is_text = is_text
        self.encoding = encoding
        if parser is not None and not callable(parser) and not _is_dotted_path(parser):
            raise ParameterError([f"IncludeFile {name!r}: parser= must be a function or the dotted path of one "
                                  f"('package.module.function'), not {short_repr(parser, 60)}"])
        self.parser = parser

    def parse(self, content: str | bytes | None) -> Any:
        """The artifact for the included content: what the parser returns, or the content without a parser."""
        if content is None or self.parser is None:
            return content
        parser = _resolve_parser(self.name, self.parser) if isinstance(self.parser, str) else self.parser
        try:
            return parser(content)
        except Exception as err:  # noqa: BLE001 - the user's parser: report what it raised, naming the parameter
            raise ParameterError([f"IncludeFile {self.name!r}: its parser {_parser_name(self.parser)} raised "
                                  f"{type(err).__name__}: {err}"]) from err

    def __repr__(self) -> str:
        return f"IncludeFile({self.name!r}, default={self.default!r}, is_text={self.is_text})"


def _is_dotted_path(value: Any) -> bool:
    return isinstance(value, str) and all(part.isidentifier() for part in value.removeprefix(".").split(".")) \
        and "." in value.removeprefix(".")


def _parser_name(parser: Any) -> str:
    return repr(parser) if isinstance(parser, str) else getattr(parser, "__qualname__", None) or repr(parser)


def _resolve_parser(name: str, path: str) -> Callable[[Any], Any]:
    """The function a dotted path names (a leading '.' is relative to flowdrop, as Metaflow's is to metaflow)."""
    from flowdrop.user_configs import function_named

    try:
        found = function_named(path)
    except (ImportError, AttributeError, ValueError) as err:
        raise ParameterError([f"IncludeFile {name!r}: cannot find its parser {path!r}: {err}"]) from err
    if not callable(found):
        raise ParameterError([f"IncludeFile {name!r}: its parser {path!r} is a {type(found).__name__}, "
                              "not a function"])
    return found


def read_included(spec: ParameterSpec, path: Path) -> str | bytes:
    """The content of the file an IncludeFile names, as the step sees it; ParameterError names the parameter."""
    include = spec.include or {}
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ParameterError([f"--{spec.name}: cannot read the included file {path}: {err.strerror or err}"]) from err
    if not include.get("is_text", True):
        return data
    encoding = include.get("encoding") or "utf-8"
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as err:
        raise ParameterError([f"--{spec.name}: the included file {path} is not {encoding} text ({err}); "
                              "give is_text=False to read bytes, or the file's encoding="]) from err


def stored_reference(sha: str) -> str:
    """The start task's value for an included file stored in the run's datastore."""
    import json  # not on `import flowdrop`: only a flow with an IncludeFile gets here

    return json.dumps({_KEY: {"sha": sha}}, sort_keys=True)


def package_reference(path: str) -> str:
    """The deployment's default for an included file packaged at deploy time (a path inside code/)."""
    import json  # not on `import flowdrop`: only a flow with an IncludeFile gets here

    return json.dumps({_KEY: {"package_path": path}}, sort_keys=True)


def inline_reference(content: str | bytes) -> str:
    """A value carrying an included file's content itself (`step-functions trigger --data PATH`)."""
    import base64
    import json

    if isinstance(content, bytes):
        return json.dumps({_KEY: {"base64": base64.b64encode(content).decode("ascii")}}, sort_keys=True)
    return json.dumps({_KEY: {"text": content}}, sort_keys=True)


def reference_of(value: Any) -> dict[str, str] | None:
    """The reference in a parameter value, or None when it is a plain path."""
    import json  # not on `import flowdrop`: only a flow with an IncludeFile gets here

    if not isinstance(value, str) or _KEY not in value:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return None
    inner = data.get(_KEY) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else None


def load_included(spec: ParameterSpec, value: Any, datastore: Any, code_folder: Path, production: bool = False) -> Any:
    """The artifact for an IncludeFile's value: the content a reference points to, or the file at a plain path.

    A production run reads no plain path: its input comes from whoever may trigger the flow, who must not
    get the task host's files as artifacts.
    """
    if value is None:
        return None
    reference = reference_of(value)
    if reference is None:
        if production:
            raise ParameterError([f"IncludeFile {spec.name!r}: a production run takes the file deployed with the "
                                  f"flow, or one given to `step-functions trigger --{spec.name} PATH`; got a plain "
                                  "value"])
        return read_included(spec, Path(str(value)))  # a path given to the task itself (a run started by hand)
    if "text" in reference:
        return reference["text"]
    if "base64" in reference:
        import base64

        return base64.b64decode(reference["base64"])
    if "sha" in reference and not production:  # the run's own datastore, written by the CLI at run start
        return datastore.load_artifact(reference["sha"])
    if reference.get("package_path") == f"{PACKAGE_FOLDER}/{spec.name}":  # only the file packaged for it
        return read_included(spec, code_folder / PACKAGE_FOLDER / spec.name)
    raise ParameterError([f"--{spec.name}: not a reference to an included file this run may read: "
                          f"{short_repr(value, 80)}"])
