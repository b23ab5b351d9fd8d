"""The operator page's shell: its files, how the deployer answers them, and the graph outline it draws.

The page itself is tested in a real browser (tests/e2e/test_operator_page.py);
here, what holds without one: each file comes with its type and a policy that
lets it load nothing from elsewhere, the routes need no token (the shell holds
no data), and releases carry the outline the page draws.
"""

from __future__ import annotations

import re

from chalice.test import Client

import app as deployer_app
from flowdrop import page
from flowdrop.deployer.flows import drawn_graph
from flowdrop.deployer.records import Release
from flowdrop.graph.parse import parse_flow
from flowdrop.graph.render import render_outline


def test_each_file_is_answered_with_its_type_and_a_policy_of_nothing_from_elsewhere():
    for name, kind in (("index.html", "text/html"), ("page.js", "text/javascript"), ("page.css", "text/css")):
        answer = page.asset_response(name)
        assert answer["status_code"] == 200 and answer["headers"]["Content-Type"].startswith(kind)
        policy = answer["headers"]["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert answer["headers"]["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_file_is_404_naming_the_ones_there_are():
    answer = page.asset_response("../app.py")
    assert answer["status_code"] == 404
    assert "'../app.py'" in answer["body"]["error"] and "index.html, page.css, page.js" in answer["body"]["error"]


def test_the_page_fetches_nothing_from_the_internet_and_uses_relative_paths():
    html = page.asset_text("index.html")
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == ["data:,", "static/page.css", "static/page.js", "#/"]
    for name in page.CONTENT_TYPES:
        urls = set(re.findall(r"https?://[^\s\"'`)]+", page.asset_text(name)))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
    script = page.asset_text("page.js")
    assert "sessionStorage" in script and "localStorage" not in script  # the token lives for the session only
    assert "?steps=false&marker=true" in script  # live refresh polls the cheap status and its change marker


def test_the_routes_serve_the_shell_without_a_token(tmp_path):
    with Client(deployer_app.app, project_dir=str(tmp_path)) as client:
        index = client.http.get("/")
        assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
        assert "Content-Security-Policy" in index.headers and b"static/page.js" in index.body
        script = client.http.get("/static/page.js")
        assert script.status_code == 200 and b"function route()" in script.body
        assert client.http.get("/static/secrets.json").status_code == 404
        assert client.http.get("/flows").status_code == 401  # the data still needs the token


FLOW = '''
from flowdrop import FlowSpec, step


class ShapesFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.mode = "a"
        self.next({"a": self.left, "b": self.right}, condition="mode")

    @step
    def left(self):
        self.next(self.end)

    @step
    def right(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_the_outline_keeps_edges_foreach_and_switch_cases():
    graph = parse_flow(FLOW, "shapes_flow.py")
    outline = {node["name"]: node for node in render_outline(graph)}
    assert outline["start"] == {"name": "start", "type": "foreach", "out_funcs": ["fan"], "foreach_param": "items",
                                "matching_join": "gather"}
    assert outline["fan"]["split_parents"] == ["start"]
    assert outline["gather"]["condition"] == "mode"
    assert outline["gather"]["switch_cases"] == [["'a'", "left"], ["'b'", "right"]]
    assert outline["end"]["out_funcs"] == []


def test_a_release_recorded_before_outlines_is_drawn_as_its_steps_in_a_line():
    release = Release(flow="F", flow_name="F", version=1, version_arn="arn:1", code_sha256="0" * 64, created="",
                      fingerprint="", steps=["start", "middle", "end"])
    assert drawn_graph(release) == [{"name": "start", "type": "linear", "out_funcs": ["middle"]},
                                    {"name": "middle", "type": "linear", "out_funcs": ["end"]},
                                    {"name": "end", "type": "linear", "out_funcs": []}]
