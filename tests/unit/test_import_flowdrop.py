"""What `import flowdrop` (and a flow module's `from flowdrop import ...`) loads, and the records it defines.

Every `python flow.py ...` process pays the import first, so the SDK loads
neither the graph model nor the stdlib modules only deploying, parsing or a
failing step need (dataclasses pulls in inspect, ast, dis and tokenize;
typing, json and traceback are milliseconds each). Not a timing: a module
list, checked in a fresh interpreter.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import flowdrop
from flowdrop.decorators import ProjectInfo
from flowdrop.flowspec import ForeachFrame
from flowdrop.model.decorators import Decorator
from flowdrop.parameters import DeployTimeContext

NOT_ON_IMPORT = ("dataclasses", "inspect", "typing", "json", "traceback", "ast", "tokenize", "difflib",
                 "flowdrop.model.graph", "flowdrop.model.parameters", "flowdrop.model.configs", "flowdrop.graph",
                 "flowdrop.client", "flowdrop.cli", "flowdrop.datastore", "boto3", "click", "rich")

FLOW_MODULE = '''
from flowdrop import (Config, FlowSpec, IncludeFile, JSONType, Parameter, catch, config_expr, current, project,
                      resources, retry, schedule, step, timeout)


@project(name="demo")
class ImportFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.1)
    data = Parameter("data", type=JSONType, default="{}")
    notes = IncludeFile("notes", default="notes.txt")
    cfg = Config("cfg", default_value={"n": 2})

    @retry(times=2)
    @catch(var="failure")
    @timeout(seconds=30)
    @resources(memory=config_expr("cfg.n * 512"))
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def loaded_after(code: str) -> list[str]:
    """The modules of NOT_ON_IMPORT (or a package under one) that running `code` in a fresh interpreter loads."""
    probe = (f"import sys\n{code}\n"
             f"print([m for m in {NOT_ON_IMPORT!r} if m in sys.modules or any(k.startswith(m + '.') "
             "for k in sys.modules)])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(done.stdout)  # noqa: S307 - our own probe's list of names


def test_import_flowdrop_loads_only_the_sdk():
    assert loaded_after("import flowdrop") == []


def test_a_flow_module_using_decorators_parameters_configs_and_includefile_loads_no_more(tmp_path):
    module = tmp_path / "import_flow.py"
    module.write_text(FLOW_MODULE)
    code = f"sys.path.insert(0, {str(tmp_path)!r}); import import_flow; assert import_flow.ImportFlow"
    assert loaded_after(code) == []


def test_every_public_name_is_there_and_an_unknown_one_is_an_attribute_error():
    assert all(hasattr(flowdrop, name) for name in flowdrop.__all__)
    assert not hasattr(flowdrop, "no_such_name")
    with pytest.raises(AttributeError, match="no_such_name"):
        flowdrop.no_such_name  # noqa: B018


@pytest.mark.parametrize("record, same, other", [
    (ForeachFrame("a", 1, 3, "sha", var="items", value="'x'"), ForeachFrame("a", 1, 3, "sha", "items", "'x'"),
     ForeachFrame("a", 2, 3, "sha", var="items", value="'x'")),
    (Decorator("retry", {"times": 2}, 4), Decorator("retry", {"times": 2}, 4, ()), Decorator("retry", {"times": 3})),
    (ProjectInfo("p", "user.bob", "F"), ProjectInfo("p", "user.bob", "F"), ProjectInfo("p", "prod", "F")),
    (DeployTimeContext("F", "bob", "alpha"), DeployTimeContext("F", "bob", "alpha", print, None),
     DeployTimeContext("F", "bob", "beta")),
])
def test_the_records_import_defines_behave_as_the_frozen_dataclasses_they_were(record, same, other):
    assert record == same and record != other and record != object()
    assert pickle.loads(pickle.dumps(record)) == record
    with pytest.raises(AttributeError, match="frozen"):
        record.name = "changed"
    with pytest.raises(AttributeError, match="frozen"):
        del record._fields
    assert repr(record).startswith(type(record).__name__ + "(") and all(f"{f}=" in repr(record) for f in record._fields)


def test_records_hash_by_their_fields_and_keep_their_json_forms():
    frame = ForeachFrame("a", 1, 3, "sha", var="items", value="'x'")
    assert hash(frame) == hash(ForeachFrame("a", 1, 3, "sha", "items", "'x'"))
    assert len({frame, ForeachFrame("a", 1, 3, "sha", "items", "'x'")}) == 1
    assert frame.to_dict() == {"step": "a", "index": 1, "num_splits": 3, "value_sha": "sha", "var": "items",
                               "value": "'x'"}
    assert ForeachFrame(**frame.to_dict()) == frame  # how a task's metadata is read back (runtime/task.py)
    deco = Decorator("retry", {"times": 2}, 4, (("minutes_between_retries", "cfg.m"),))
    assert Decorator.from_dict(deco.to_dict()) == deco and Decorator("x").attributes == {}
    with pytest.raises(TypeError):
        hash(deco)  # a dict inside, as the frozen dataclass had: unhashable
    assert ProjectInfo("p", "prod.x", "F").project_flow_name == "p.prod.x.F"
    assert ProjectInfo("p", "prod", "F").is_production and not ProjectInfo("p", "user.bob", "F").is_production
