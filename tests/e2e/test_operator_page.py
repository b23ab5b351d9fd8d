"""The operator page in a real headless browser (Debian's chromium through chromedriver) on the embedded stack.

One stack and one browser for the module. Flows are deployed as users deploy
them (`python flow.py step-functions create`); the page is opened at the
stack's API URL, the token entered in its form, and everything asserted is
what the page shows. Screenshots of the flows page and of a failed run go to
build/screenshots/. Every test ends with the browser's console free of
errors (the only ones allowed: the 400 answers a test provokes on purpose).
`make browser` installs chromium and chromium-driver.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowdrop.cli.api_client import ApiClient, ApiError
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, examples_dir, wait_for_run
from tests.helpers.debug_flow import debug_flow_where_a_ends_first

pytestmark = pytest.mark.slow

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = examples_dir()
FLOWS = ROOT / "tests" / "flows"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Without the background-networking flags chromium keeps dialling Google's hosts, refused by a closed network.
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync")
WAIT = 240  # seconds a run may take on a busy 2-core machine (a wait for a state, never a timed assert)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("page-stack"), max_tasks=8, heartbeat_interval=2.0)
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config, timeout=120)  # moto answers slowly while it runs 100 tasks


@pytest.fixture(scope="module")
def deployed(stack, api, tmp_path_factory):
    """The seed's ParameterFlow and HourlyFlow, the debugging story's DebugFlow and a foreach of any width."""
    # DebugFlow as the seed has it, but for its b waiting before it fails (tests/helpers/debug_flow.py: a branch
    # still running when b fails is aborted, so `a succeeded` needs a to end first).
    debug_flow = debug_flow_where_a_ends_first(tmp_path_factory.mktemp("debug-flow"))
    for file in (EXAMPLES / "parameter_flow.py", EXAMPLES / "hourly_flow.py", debug_flow):
        deploy_flow(stack, file)
    # On the worker backend: 100 Batch jobs at once, each polled with DescribeJobs, overwhelm moto.
    deploy_flow(stack, FLOWS / "wide_flow.py", backend="worker")
    return {f["flow"] for f in api.list_flows()["flows"]}


@pytest.fixture(scope="module")
def browser(stack, tmp_path_factory):
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: `make browser` installs chromium and chromium-driver"
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}", "--window-size=1100,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(f"{stack.api.url}/")
        field = wait(driver, lambda d: d.find_element(By.ID, "token"))
        field.send_keys(stack.api_token)
        driver.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser):
    """The browser; after the test, its console must hold no errors but the 400s the test allowed."""
    allowed: list[str] = []
    browser.allowed_errors = allowed  # type: ignore[attr-defined]
    browser.get_log("browser")  # start from an empty log
    yield browser
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and not any(part in e["message"] for part in allowed)]
    assert errors == []


def wait(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


def open_view(driver, hash_path: str) -> None:
    # Setting the hash it already has fires no hashchange: draw that view afresh then (a test before may end on it).
    driver.execute_script("if (location.hash === arguments[0]) route(); else location.hash = arguments[0];", hash_path)


def text_of(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(max(int(height) + 120, size["height"]), 3000))  # the whole page
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def test_page_shell_is_served_without_auth_with_its_own_policy(stack):
    import urllib.request

    with urllib.request.urlopen(f"{stack.api.url}/") as answer:
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert b'src="static/page.js"' in answer.read()
    with urllib.request.urlopen(f"{stack.api.url}/static/page.js") as answer:
        assert answer.headers["Content-Type"].startswith("text/javascript")


def test_flows_list_shows_parameter_and_hourly_flows_with_their_schedule(page, deployed):
    open_view(page, "#/")
    wait(page, lambda d: "ParameterFlow" in text_of(d, "#flows") and "…" not in text_of(d, "#flows"))
    assert {"ParameterFlow", "HourlyFlow"} <= deployed
    hourly = page.find_element(By.CSS_SELECTOR, 'tr[data-flow="HourlyFlow"]')
    assert hourly.find_element(By.CSS_SELECTOR, ".schedule").text == "cron(0 * * * ? *) (UTC)"
    next_times = hourly.find_elements(By.CSS_SELECTOR, ".next time")
    assert len(next_times) == 3 and all(t.text.endswith(":00Z") for t in next_times)
    parameter = page.find_element(By.CSS_SELECTOR, 'tr[data-flow="ParameterFlow"]')
    assert parameter.find_element(By.CSS_SELECTOR, ".schedule").text == "—"
    assert parameter.find_element(By.CSS_SELECTOR, ".version").text == "v1"
    screenshot(page, "flows.png")


def test_trigger_form_with_alpha_starts_a_run_the_page_follows_to_succeeded(page, deployed, api):
    open_view(page, "#/flow/ParameterFlow")
    alpha = wait(page, lambda d: d.find_element(By.ID, "param-alpha"))
    help_text = text_of(page, "#param-alpha-help")
    assert "Learning rate" in help_text and "default 0.01" in help_text
    alpha.send_keys("0.5")
    page.find_element(By.ID, "trigger-run").click()
    wait(page, lambda d: "#/run/ParameterFlow/sfn-" in d.current_url)
    run_id = page.current_url.rsplit("/", 1)[-1]
    # The page refreshes itself: no reload here.
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#graph .node[data-step="end"][data-state="SUCCEEDED"]')
         and "SUCCEEDED" in text_of(d, "#run-header"))
    assert wait_for_run(api, "ParameterFlow", run_id)["status"] == "SUCCEEDED"
    page.find_element(By.CSS_SELECTOR, '#graph .node[data-step="start"]').click()
    wait(page, lambda d: "alpha is 0.500000" in text_of(d, "#step-panel .stdout"))


LIVE_FLOW = '''
import time

from flowdrop import FlowSpec, step


class LiveFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.nap)

    @step
    def nap(self):
        time.sleep(12)  # quiet for several polls: nothing happens in the run's history meanwhile
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    LiveFlow()
'''

# Installed before the run view opens: every status request the page makes, in order, with what it answered.
RECORD_STATUS_FETCHES = """
const part = arguments[0], seen = window.statusFetches = [], original = window.fetch;
window.fetch = async (url, options) => {
  const entry = { cheap: String(url).endsWith("?steps=false&marker=true") };
  if (String(url).split("?")[0].endsWith(part)) seen.push(entry);
  const response = await original(url, options);
  response.clone().json().then((body) => { entry.marker = [body.status, body.last_event_id]; }, () => {});
  return response;
};
"""


def test_the_run_view_fetches_the_full_status_only_when_the_marker_moved(page, stack, api, tmp_path):
    (tmp_path / "live_flow.py").write_text(LIVE_FLOW)
    deploy_flow(stack, tmp_path / "live_flow.py")
    run_id = api.trigger("LiveFlow", {})["run_id"]
    page.execute_script(RECORD_STATUS_FETCHES, f"/runs/{run_id}")
    open_view(page, f"#/run/LiveFlow/{run_id}")
    # The page refreshes itself to the end: no reload (and the header names this run, not the view before).
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#graph .node[data-step="end"][data-state="SUCCEEDED"]')
         and run_id in text_of(d, "#run-header") and "SUCCEEDED" in text_of(d, "#run-header"))
    assert page.execute_script("return pollTimer") is None  # it stopped polling once the run ended
    fetches = wait(page, lambda d: (lambda f: f if all("marker" in e for e in f) else None)(
        d.execute_script("return window.statusFetches")))
    assert not fetches[0]["cheap"]  # the first load draws from a full view
    cheap = [tuple(e["marker"]) for e in fetches if e["cheap"]]
    full = [e for e in fetches if not e["cheap"]]
    assert len(full) <= len(set(cheap)) + 1, fetches
    assert len(cheap) > len(full), fetches  # the nap's quiet polls fetched nothing more
    last_full = fetches[0]["marker"]
    for before, entry in zip(fetches, fetches[1:]):
        # A full view follows every cheap answer whose status or marker moved since the last full view, no other.
        assert before["cheap"] or entry["cheap"], fetches
        assert (not entry["cheap"]) == (before["cheap"] and before["marker"] != last_full), fetches
        if not entry["cheap"]:
            last_full = entry["marker"]
    assert not fetches[-1]["cheap"] and fetches[-1]["marker"][0] == "SUCCEEDED", fetches  # one final full view


def test_a_bad_value_shows_the_apis_message_beside_the_field(page, deployed, api):
    page.allowed_errors.append("status of 400")  # the browser logs the API's 400 answer
    with pytest.raises(ApiError) as err:
        api.trigger("ParameterFlow", {"alpha": "fast"})
    expected = err.value.problems[0]
    open_view(page, "#/flow/ParameterFlow")
    alpha = wait(page, lambda d: d.find_element(By.ID, "param-alpha"))
    alpha.send_keys("fast")
    page.find_element(By.ID, "trigger-run").click()
    problem = wait(page, lambda d: text_of(d, "#param-alpha-problem"))
    assert problem == expected and "'alpha'" in problem and "number" in problem
    assert "#/flow/ParameterFlow" in page.current_url  # no run was started


def test_the_debug_flow_run_shows_b_failed_with_its_exception(page, deployed, api):
    run_id = api.trigger("DebugFlow", {})["run_id"]
    assert wait_for_run(api, "DebugFlow", run_id, timeout=WAIT)["status"] == "FAILED"
    open_view(page, f"#/run/DebugFlow/{run_id}")
    b = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#graph .node[data-step="b"]'))
    assert b.get_attribute("data-state") == "FAILED"
    assert page.find_element(By.CSS_SELECTOR, '#graph .node[data-step="a"]').get_attribute("data-state") == "SUCCEEDED"
    assert text_of(page, "#run-failed").startswith("Failed in b")
    # A failed run opens on its failed step: the exception shows without a click.
    wait(page, lambda d: "ValueError" in text_of(d, "#step-panel .exception"))
    b.click()
    wait(page, lambda d: "ValueError" in text_of(d, "#step-panel .exception"))
    assert "2fail" in text_of(page, "#step-panel .exception")
    assert page.find_element(By.CSS_SELECTOR, "#step-panel .task").get_attribute("data-status") == "failed"
    screenshot(page, "run.png")
    # The run ended: the flows list shows its state among DebugFlow's last runs, a link to the run.
    open_view(page, "#/")
    row = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-flow="DebugFlow"]'))
    link = f"#/run/DebugFlow/{run_id}"
    last = wait(page, lambda d: row.find_elements(By.CSS_SELECTOR, f'.runs a.badge[href="{link}"]'))[0]
    assert last.text == "F" and last.get_attribute("title") == "FAILED"
    assert "state-FAILED" in last.get_attribute("class").split()
    assert "none yet" not in row.find_element(By.CSS_SELECTOR, ".runs").text


def test_a_100_way_foreach_shows_100_of_100(page, deployed, api):
    run_id = api.trigger("WideFlow", {"width": 100})["run_id"]
    assert wait_for_run(api, "WideFlow", run_id, timeout=WAIT)["status"] == "SUCCEEDED"
    open_view(page, f"#/run/WideFlow/{run_id}")
    work = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#graph .node[data-step="work"]'))
    assert work.get_attribute("data-state") == "SUCCEEDED"
    assert work.find_element(By.CSS_SELECTOR, ".step-sub").text == "100/100 done"
    assert text_of(page, '#steps tr[data-step="work"] .step-counts') == "100/100 done"
    page.find_element(By.CSS_SELECTOR, '#graph .node[data-step="join"]').click()
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#step-panel li[data-artifact="values"]'))


def test_rollback_asks_first_and_moves_production_back(page, stack, api, tmp_path):
    flow_file = tmp_path / "linear_flow.py"
    source = (EXAMPLES / "linear_flow.py").read_text()
    flow_file.write_text(source)
    deploy_flow(stack, flow_file, cwd=tmp_path)
    flow_file.write_text(source + "\n# second version\n")
    deploy_flow(stack, flow_file, cwd=tmp_path)
    detail = api.get_flow("LinearFlow")
    assert detail["production_version"] == 2
    open_view(page, "#/flow/LinearFlow")
    button = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#versions button.rollback[data-version="1"]'))
    assert "(production)" in text_of(page, '#versions tr[data-version="2"]')
    headers = [th.text for th in page.find_elements(By.CSS_SELECTOR, "#versions thead th")]
    assert headers[:4] == ["Version", "Deployed", "Code package", "By"]
    versions = {v["version"]: v for v in detail["versions"]}
    assert versions[1]["code_sha256"] != versions[2]["code_sha256"]  # the second source is another package
    assert [r.get_attribute("data-version") for r in page.find_elements(By.CSS_SELECTOR, "#versions tbody tr")] \
        == ["2", "1"]  # newest first
    for number, version in versions.items():
        cells = page.find_elements(By.CSS_SELECTOR, f'#versions tr[data-version="{number}"] td')
        deployed = cells[1].find_element(By.TAG_NAME, "time")
        assert deployed.get_attribute("datetime") == version["deployed_at"]
        assert deployed.text.endswith("Z") and deployed.text[:10] == version["deployed_at"][:10]
        assert cells[2].text == version["code_sha256"][:12]
        assert cells[2].get_attribute("title") == version["code_sha256"]
        assert version["user"] and cells[3].text == version["user"]
    button.click()
    alert = wait(page, lambda d: d.switch_to.alert)
    assert "from v2 back to v1" in alert.text
    alert.dismiss()  # asked, refused: nothing moves
    assert api.get_flow("LinearFlow")["production_version"] == 2
    page.find_element(By.CSS_SELECTOR, '#versions button.rollback[data-version="1"]').click()
    wait(page, lambda d: d.switch_to.alert).accept()
    wait(page, lambda d: "(production)" in text_of(d, '#versions tr[data-version="1"]'))
    assert api.get_flow("LinearFlow")["production_version"] == 1
    screenshot(page, "flow.png")


def test_pages_fit_a_phones_width(page, deployed, api):
    run_id = api.trigger("ParameterFlow", {})["run_id"]
    assert wait_for_run(api, "ParameterFlow", run_id, timeout=WAIT)["status"] == "SUCCEEDED"
    size = page.get_window_size()
    page.set_window_size(390, 844)
    try:
        for view, ready in (("#/", "#flows"), ("#/flow/ParameterFlow", "#trigger"),
                            (f"#/run/ParameterFlow/{run_id}", '#graph .node[data-step="end"][data-state="SUCCEEDED"]')):
            open_view(page, view)
            wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, ready))
            # Wide tables scroll inside their own box; the page itself never scrolls sideways.
            assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        # The run view with a step's panel open (attempts, logs, artifacts): still no sideways scroll.
        page.find_element(By.CSS_SELECTOR, '#graph .node[data-step="start"]').click()
        wait(page, lambda d: "alpha is" in text_of(d, "#step-panel .stdout"))
        assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        graph = page.find_element(By.CSS_SELECTOR, "#graph svg")
        assert graph.size["width"] <= 390  # the drawing scales down to the screen
    finally:
        page.set_window_size(size["width"], size["height"])


def test_the_token_is_kept_across_a_reload(page, deployed, stack):
    open_view(page, "#/")
    wait(page, lambda d: "ParameterFlow" in text_of(d, "#flows"))
    page.refresh()
    # The reloaded page reads the token from the tab's sessionStorage: the flows load, no token form.
    wait(page, lambda d: "ParameterFlow" in text_of(d, "#flows") and "…" not in text_of(d, "#flows"))
    assert page.find_elements(By.ID, "token-form") == []
    assert page.execute_script("return sessionStorage.getItem('flowdrop.token')") == stack.api_token
    assert page.find_element(By.ID, "sign-out").is_displayed()


EVENT_FLOW = '''\
from flowdrop import FlowSpec, Parameter, step, trigger


@trigger(event={"name": "data.ready", "parameters": {"alpha": "weight"}})
class PageEventFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PageEventFlow()
'''


def test_event_triggers_are_shown_on_the_flows_list_and_the_flow(page, stack, tmp_path):
    flow_file = tmp_path / "page_event_flow.py"
    flow_file.write_text(EVENT_FLOW)
    deploy_flow(stack, flow_file, cwd=tmp_path)
    open_view(page, "#/")
    row = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-flow="PageEventFlow"]'))
    wait(page, lambda d: "event data.ready" in row.find_element(By.CSS_SELECTOR, ".next").text)
    open_view(page, "#/flow/PageEventFlow")
    item = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#triggers li[data-kind="event"]'))
    assert "event data.ready (alpha ← weight)" in item.text and "rule " in item.text


SCHEDULED_DOWNSTREAM_FLOW = '''\
from flowdrop import FlowSpec, schedule, step, trigger_on_finish


@schedule(daily=True)
@trigger_on_finish(flow="PageUpstreamFlow")
class PageNightlyFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PageNightlyFlow()
'''


def test_a_flow_with_a_schedule_and_an_upstream_shows_both_on_the_flows_list(page, stack, tmp_path):
    flow_file = tmp_path / "page_nightly_flow.py"
    flow_file.write_text(SCHEDULED_DOWNSTREAM_FLOW)
    deploy_flow(stack, flow_file, cwd=tmp_path)
    open_view(page, "#/")
    row = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-flow="PageNightlyFlow"]'))
    wait(page, lambda d: row.find_elements(By.CSS_SELECTOR, ".next time"))
    assert row.find_element(By.CSS_SELECTOR, ".schedule").text == "cron(0 0 * * ? *) (UTC)"
    next_times = row.find_elements(By.CSS_SELECTOR, ".next time")
    assert len(next_times) == 3 and all(t.text.endswith(" 00:00Z") for t in next_times)
    (upstream,) = row.find_elements(By.CSS_SELECTOR, '.next .triggers li[data-kind="flow"]')
    assert upstream.text == "also when PageUpstreamFlow succeeds"
    size = page.get_window_size()
    page.set_window_size(390, 844)
    try:  # the extra line keeps the list readable on a phone: the page itself never scrolls sideways
        assert upstream.is_displayed()
        assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        page.set_window_size(size["width"], size["height"])


def test_a_switch_flows_run_draws_its_cases_and_colours_only_the_steps_that_ran(page, stack, api):
    deploy_flow(stack, FLOWS / "switch_flow.py")
    run_id = api.trigger("SwitchFlow", {})["run_id"]  # mode "fast": gather takes quick, careful never runs
    status = wait_for_run(api, "SwitchFlow", run_id, timeout=WAIT)
    assert status["status"] == "SUCCEEDED", status
    open_view(page, f"#/run/SwitchFlow/{run_id}")
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#graph .node[data-step="end"][data-state="SUCCEEDED"]'))
    ran = ["start", "loop", "fan", "pick", "vowel", "consonant", "gather", "quick", "end"]
    states = {n.get_attribute("data-step"): n.get_attribute("data-state")
              for n in page.find_elements(By.CSS_SELECTOR, "#graph .node")}
    assert states == {**dict.fromkeys(ran, "SUCCEEDED"), "careful": "NOT_STARTED"}
    # Each switch is drawn as its cases: dashed edges, each labelled with the value that takes it.
    for step, condition, cases, sub in (("loop", "again", {"True": "loop", "False": "fan"}, "switch on again"),
                                        ("pick", "kind", {"'vowel'": "vowel", "'consonant'": "consonant"},
                                         "3/3 done"),  # in the foreach: its tasks' count
                                        ("gather", "mode", {"'fast'": "quick", "'slow'": "careful"},
                                         "join, switch on mode")):
        assert text_of(page, f'#graph .node[data-step="{step}"] .step-sub') == sub
        edges = page.find_elements(By.CSS_SELECTOR, f'#graph path.edge.switch[data-from="{step}"]')
        assert sorted(e.get_attribute("data-to") for e in edges) == sorted(cases.values())
        labels = {t.text for t in page.find_elements(By.CSS_SELECTOR, "#graph text.edge-label")}
        assert {f"{condition} == {value}" for value in cases} <= labels
    assert page.find_elements(By.CSS_SELECTOR, '#graph path.edge[data-from="pick"]:not(.switch)') == []
    # Coloured as run in the browser: the steps that ran green, the case not taken left white.
    fill = {step: page.find_element(By.CSS_SELECTOR, f'#graph .node[data-step="{step}"] rect').value_of_css_property(
        "fill") for step in ("quick", "careful", "vowel", "consonant")}
    assert fill["quick"] == fill["vowel"] == fill["consonant"] == "rgb(218, 251, 225)"
    assert fill["careful"] == "rgb(255, 255, 255)"
    assert "not started" in text_of(page, '#steps tr[data-step="careful"]')



def test_the_step_panel_shows_a_retried_steps_attempts_and_a_caught_steps_stderr_and_artifacts(page, stack, api):
    deploy_flow(stack, EXAMPLES / "decorated_flow.py")
    run_id = api.trigger("DecoratedFlow", {})["run_id"]
    assert wait_for_run(api, "DecoratedFlow", run_id, timeout=WAIT)["status"] == "SUCCEEDED"
    open_view(page, f"#/run/DecoratedFlow/{run_id}")
    # flaky: @retry(times=3) failed twice, then succeeded; one row per attempt, in order.
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#graph .node[data-step="flaky"]'))[0].click()
    task = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#step-panel .task[data-task="flaky"]'))
    assert task.get_attribute("data-status") == "succeeded"
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in task.find_elements(By.CSS_SELECTOR, "table.attempts tbody tr")]
    assert [row[:2] for row in rows] == [["0", "failed"], ["1", "failed"], ["2", "succeeded"]]
    assert all(row[2].endswith("Z") and row[3].endswith("Z") for row in rows)  # started, finished
    assert "transient failure on attempt 1" in task.find_element(By.CSS_SELECTOR, ".exception").text
    # risky: @catch kept the run going; its stderr tail says what was caught, its artifacts carry their sizes.
    page.find_element(By.CSS_SELECTOR, '#graph .node[data-step="risky"]').click()
    task = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, '#step-panel .task[data-task="risky"]'))
    assert task.get_attribute("data-status") == "caught"
    stderr = task.find_element(By.CSS_SELECTOR, ".stderr").text
    assert "@catch caught an exception from step 'risky'" in stderr and "ZeroDivisionError: division by zero" in stderr
    (shown,) = api.request("GET", f"/flows/DecoratedFlow/runs/{run_id}/steps/risky")["tasks"]
    sizes = {a["name"]: a["size"] for a in shown["artifacts"]}
    assert {"attempts", "risky_failure"} <= set(sizes) and all(0 < size < 1024 for size in sizes.values())
    items = {li.get_attribute("data-artifact"): li.text
             for li in task.find_elements(By.CSS_SELECTOR, "ul.artifacts li")}
    assert items == {name: f"{name} — {size} B" for name, size in sizes.items()}
