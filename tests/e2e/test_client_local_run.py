"""The client API reading the runs `python flow.py run` makes: the user who runs them names the default namespace."""

from __future__ import annotations

from flowdrop.client import Flow, default_namespace, set_datastore
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import EXAMPLES, run_flow


def test_flowdrop_user_names_the_default_namespace_as_it_names_the_runs(tmp_path, monkeypatch):
    # One rule for who the user is (FLOWDROP_USER, then USER): the runs a
    # user makes carry user:<them>, and their default namespace finds them.
    monkeypatch.setenv("USER", "login-name")
    monkeypatch.setenv("FLOWDROP_USER", "ada")
    store = tmp_path / ".flowdrop"
    proc = run_flow(EXAMPLES / "linear_flow.py", "run", datastore=store, env={"USER": "login-name", "FLOWDROP_USER": "ada"})
    assert proc.returncode == 0, proc.stderr
    set_datastore(str(store), production=None)
    assert default_namespace() == "user:ada"
    run = Flow("LinearFlow").latest_run
    assert run is not None and "user:ada" in run.tags
