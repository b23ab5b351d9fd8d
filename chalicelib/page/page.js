// flowdrop's operator page: plain JavaScript, no framework, nothing fetched but the deployer's own API.
// Views (by the URL's hash): #/ the flows, #/flow/<flow> one flow, #/run/<flow>/<run id> one run.
// Every call carries the bearer token the user entered once; it is kept in sessionStorage (this tab only).
"use strict";

const TOKEN_KEY = "flowdrop.token";
const POLL_MS = 2000;        // a running run's cheap status (?steps=false), this often
const MAP_RUN_EVERY = 5;     // its full view only when status or last_event_id moved; while a Distributed Map
                             // runs (its children's events are not in the run's history) every this many polls too
const RECENT_RUNS = 8;

let pollTimer = null;
let generation = 0;  // bumped by every navigation: a view whose answers arrive after it was left draws nothing

class Stale extends Error {}

function check(gen) {
  if (gen !== generation) throw new Stale("left");
}

// -- small DOM helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replace a node's children (null, undefined and false left out).
function put(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function show(...nodes) {
  put(document.getElementById("main"), ...nodes);
}

function say(text) {
  document.getElementById("status").textContent = text || "";
}

function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  const items = [el("a", { href: "#/" }, "flows")];
  for (const [label, href] of parts) {
    items.push(" / ", href ? el("a", { href }, label) : el("span", { "aria-current": "page" }, label));
  }
  put(nav, ...items);
}

function badge(state, label, href) {
  const attrs = { class: `badge state-${state || "UNKNOWN"}`, title: state || "" };
  return href ? el("a", { ...attrs, href }, label || state) : el("span", attrs, label || state);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:00Z$/, "Z");
}

function bytes(n) {
  if (n === null || n === undefined) return "size unknown";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const enc = encodeURIComponent;

// -- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.Message || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers, cache: "no-store",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken("That token was refused: enter the API token again.");
    throw new ApiError(response.status, body);
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function failure(err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;  // the token form shows
  const problems = (err.body && err.body.problems) || [];
  show(el("h1", {}, "Something went wrong"), el("p", { class: "error" }, err.message),
       problems.length ? el("ul", { class: "problems" }, problems.map((p) => el("li", {}, p))) : null);
}

// -- the token -----------------------------------------------------------------------------------

function askToken(message) {
  stopPolling();
  document.getElementById("sign-out").hidden = true;
  crumbs();
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "current-password",
                              required: true, "aria-describedby": "token-help" });
  const form = el("form", { id: "token-form", class: "token", onsubmit: (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    route();
  } },
  el("div", { class: "field" }, el("label", { for: "token" }, "API token"), input,
     el("p", { class: "help", id: "token-help" },
        "The deployer's bearer token (FLOWDROP_API_TOKEN). It is kept in this tab only, for this session.")),
  el("button", { type: "submit", class: "primary" }, "Open"));
  show(el("h1", {}, "flowdrop"), message ? el("p", { class: "problems" }, message) : null, form);
  input.focus();
}

// -- #/ : the flows -------------------------------------------------------------------------------

async function flowsView(gen) {
  crumbs();
  say("Loading flows…");
  const { flows } = await api("flows");
  check(gen);
  const rows = flows.map((flow) => {
    const row = el("tr", { "data-flow": flow.flow },
      el("td", {}, el("a", { href: `#/flow/${enc(flow.flow)}` }, flow.flow)),
      el("td", { class: "version" }, `v${flow.version}`),
      el("td", { class: "schedule" }, flow.schedule ? `${flow.schedule} (${flow.timezone || "UTC"})` : "—"),
      el("td", { class: "next" }, "…"),
      el("td", { class: "runs" }, "…"));
    return row;
  });
  show(el("h1", {}, "Flows in production"),
       flows.length ? el("div", { class: "scroll" }, el("table", { id: "flows" },
         el("thead", {}, el("tr", {}, el("th", {}, "Flow"), el("th", {}, "Version"), el("th", {}, "Schedule"),
                               el("th", {}, "Next runs"), el("th", {}, "Last runs"))),
         el("tbody", {}, rows)))
         : el("p", {}, "No flow is deployed yet: `python flow.py step-functions create` deploys one."));
  await Promise.all(flows.map(async (flow, i) => {
    const row = rows[i];
    const [detail, runs] = await Promise.all([
      api(`flows/${enc(flow.flow)}`).catch(() => null),
      api(`flows/${enc(flow.flow)}/runs?limit=${RECENT_RUNS}`).catch(() => null)]);
    put(row.querySelector(".next"), detail ? nextRuns(detail) : "?");
    const list = runs ? runs.runs : [];
    put(row.querySelector(".runs"), ...(list.length ? list.map((r) =>
      badge(r.status, r.status[0], `#/run/${enc(flow.flow)}/${enc(r.run_id)}`)) : ["none yet"]));
  }));
  check(gen);
  say(`${flows.length} flow${flows.length === 1 ? "" : "s"}.`);
}

// A flow's next fire times, then what else starts it (a flow can have a schedule and triggers both).
function nextRuns(detail) {
  const times = detail.next_fire_times || [];
  const triggers = eventTriggers(detail);
  if (!times.length && !triggers.length) return "—";
  return [
    times.length ? el("ul", { class: "plain" }, times.map((t) => el("li", {}, el("time", { datetime: t }, when(t)))))
      : null,
    triggers.length ? el("ul", { class: "plain triggers" }, triggers.map((t) =>
      el("li", { "data-kind": t.kind }, times.length ? `also ${triggerText(t)}` : triggerText(t)))) : null];
}

// -- #/flow/<flow> : versions, rollback, trigger form, runs -------------------------------------------

async function flowView(flow, gen) {
  crumbs([flow, null]);
  say("Loading the flow…");
  const [detail, runs] = await Promise.all([api(`flows/${enc(flow)}`), api(`flows/${enc(flow)}/runs?limit=25`)]);
  check(gen);
  const production = detail.production_version;
  const versions = el("table", { id: "versions" },
    el("thead", {}, el("tr", {}, el("th", {}, "Version"), el("th", {}, "Deployed"),
                          el("th", { class: "hide-narrow" }, "Code package"), el("th", {}, "By"), el("th", {}, ""))),
    el("tbody", {}, [...detail.versions].reverse().map((v) => el("tr", { "data-version": v.version },
      el("td", {}, `v${v.version}`, v.version === production ? el("strong", {}, " (production)") : null),
      el("td", {}, el("time", { datetime: v.deployed_at }, when(v.deployed_at)),
         v.created ? el("div", { class: "muted" }, `package made ${when(v.created)}`) : null),
      el("td", { class: "hide-narrow mono", title: v.code_sha256 }, (v.code_sha256 || "").slice(0, 12)),
      el("td", {}, v.user || "—"),
      el("td", {}, v.version === production ? null : el("button", {
        type: "button", class: "danger rollback", "data-version": v.version,
        onclick: () => rollback(flow, v.version, production) }, `Roll back to v${v.version}`))))));
  const schedule = detail.schedule
    ? el("p", { id: "schedule" }, `Runs on ${detail.schedule} (${detail.timezone || "UTC"}); next: `,
         detail.next_fire_times.map((t, i) => [i ? ", " : "", el("time", { datetime: t }, when(t))]))
    : el("p", { id: "schedule" }, "No schedule.");
  show(el("h1", {}, flow, detail.flow_name && detail.flow_name !== flow ? el("span", { class: "muted" },
          ` (${detail.flow_name})`) : null),
       schedule,
       eventTriggers(detail).length
         ? el("div", { id: "triggers" }, el("p", {}, "Started by:"), el("ul", {}, eventTriggers(detail).map((t) =>
             el("li", { "data-kind": t.kind }, triggerText(t), " ", el("span", { class: "muted mono" },
               `(rule ${t.rule} on ${t.bus})`)))))
         : null,
       el("h2", {}, "Start a run"), triggerForm(flow, detail.parameters || []),
       el("h2", {}, "Recent runs"), runsTable(flow, runs.runs),
       el("h2", {}, "Versions"), el("div", { class: "scroll" }, versions));
  say("");
}

// The flow's @trigger / @trigger_on_finish rules (GET /flows/{flow} lists them with its schedule).
function eventTriggers(detail) {
  return (detail.trigger_rules || []).filter((t) => t.kind === "event" || t.kind === "flow");
}

function triggerText(t) {
  if (t.kind === "flow") return `when ${t.deployed || t.flow} succeeds`;
  const mapped = Object.entries(t.parameters || {}).map(([p, f]) => `${p} ← ${f}`).join(", ");
  return `event ${t.event}` + (mapped ? ` (${mapped})` : "");
}

async function rollback(flow, version, production) {
  if (!window.confirm(`Move production of ${flow} from v${production} back to v${version}? ` +
                      "New runs and its schedule will use that version.")) return;
  try {
    const record = await api(`flows/${enc(flow)}/rollback`, { method: "POST", body: { version } });
    say(record.message || `Production is v${version}.`);
    delete flowCache[flow];
    await flowView(flow, generation);
    say(record.message || `Production is v${version}.`);
  } catch (err) {
    if (err instanceof Stale) return;
    say(`Rollback refused: ${err.message}`);
  }
}

function runsTable(flow, runs) {
  if (!runs.length) return el("p", { id: "runs" }, "No runs yet.");
  return el("div", { class: "scroll" }, el("table", { id: "runs" },
    el("thead", {}, el("tr", {}, el("th", {}, "Run"), el("th", {}, "State"), el("th", {}, "Started"),
                          el("th", { class: "hide-narrow" }, "Ended"))),
    el("tbody", {}, runs.map((r) => el("tr", { "data-run": r.run_id },
      el("td", {}, el("a", { href: `#/run/${enc(flow)}/${enc(r.run_id)}` }, r.run_id)),
      el("td", {}, badge(r.status)),
      el("td", {}, when(r.start_date)),
      el("td", { class: "hide-narrow" }, when(r.stop_date)))))));
}

// A number for a number parameter when the text is one; else the text as typed: the API converts it
// and says what does not fit.
function typed(type, text) {
  const number = Number(text);
  if (type === "float" && Number.isFinite(number)) return number;
  if (type === "int" && Number.isInteger(number)) return number;
  return text;
}

function triggerForm(flow, parameters) {
  const fields = {};
  const general = el("ul", { class: "problems", id: "trigger-problems" });
  const rows = parameters.filter((p) => !p.deploy_time).map((p) => {
    const id = `param-${p.name}`;
    const help = [p.help, `${p.type}${p.required ? ", required" : ""}`,
                  p.default !== undefined && p.default !== null ? `default ${JSON.stringify(p.default)}` : null]
      .filter(Boolean).join(" · ");
    const input = p.type === "bool"
      ? el("input", { type: "checkbox", id, name: p.name, checked: p.default === true })
      : p.type === "json"
        ? el("textarea", { id, name: p.name, rows: 3, placeholder: p.default === undefined ? "" : String(p.default) })
        : el("input", { type: "text", id, name: p.name, inputmode: p.type === "str" ? null : "decimal",
                        placeholder: p.default === undefined || p.default === null ? "" : String(p.default) });
    const problem = el("p", { class: "problem", id: `${id}-problem`, role: "alert" });
    fields[p.name] = { spec: p, input, problem };
    return el("div", { class: "field", "data-param": p.name }, el("label", { for: id }, p.name), input,
              el("div", { class: "help", id: `${id}-help` }, help), problem);
  });
  const deployTime = parameters.filter((p) => p.deploy_time);
  const form = el("form", { id: "trigger", onsubmit: async (event) => {
    event.preventDefault();
    put(general);
    const values = {};
    for (const [name, field] of Object.entries(fields)) {
      field.problem.textContent = "";
      field.input.parentElement.classList.remove("invalid");
      if (field.spec.type === "bool") {
        if (field.input.checked !== (field.spec.default === true)) values[name] = field.input.checked;
      } else if (field.input.value.trim() !== "") {
        values[name] = typed(field.spec.type, field.input.value.trim());
      }
    }
    try {
      const started = await api(`flows/${enc(flow)}/runs`, { method: "POST", body: { parameters: values } });
      location.hash = `#/run/${enc(flow)}/${enc(started.run_id)}`;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400) { general.append(el("li", {}, err.message)); return; }
      const problems = err.body.problems || [];
      const unplaced = [];
      for (const text of problems) {
        const name = Object.keys(fields).find((n) => text.includes(`'${n}'`));
        if (name) {
          const field = fields[name];
          field.problem.textContent = field.problem.textContent ? `${field.problem.textContent} ${text}` : text;
          field.input.parentElement.classList.add("invalid");
        } else unplaced.push(text);
      }
      general.append(el("li", {}, err.message), ...unplaced.map((t) => el("li", {}, t)));
    }
  } },
  rows.length ? rows : el("p", { class: "muted" }, "This flow takes no parameters."),
  deployTime.length ? el("p", { class: "muted" }, "Set at deploy time: ",
                         deployTime.map((p) => `${p.name}=${JSON.stringify(p.value)}`).join(", ")) : null,
  general,
  el("button", { type: "submit", class: "primary", id: "trigger-run" }, "Trigger run"));
  return form;
}

// -- #/run/<flow>/<run id> : the graph, step states and tasks -----------------------------------------

const flowCache = {};

async function runView(flow, runId, gen) {
  crumbs([flow, `#/flow/${enc(flow)}`], [runId, null]);
  say("Loading the run…");
  const detail = flowCache[flow] || (flowCache[flow] = await api(`flows/${enc(flow)}`));
  let status = await api(`flows/${enc(flow)}/runs/${enc(runId)}`);
  check(gen);
  const header = el("div", { id: "run-header" });
  const graphBox = el("div", { id: "graph" });
  const stepsBox = el("div", { id: "steps" });
  const panel = el("section", { id: "step-panel", "aria-live": "polite" });
  let selected = null;

  const select = (step) => {
    selected = step;
    for (const node of graphBox.querySelectorAll(".node")) {
      node.classList.toggle("selected", node.dataset.step === step);
    }
    showStep(flow, runId, step, panel);
  };
  let failed = [];
  const draw = () => {
    failed = failedSteps(detail.graph || [], status);
    put(header, el("h1", {}, runId), el("p", {}, badge(status.status, null), " ",
      status.start_date ? `started ${when(status.start_date)}` : "",
      status.stop_date ? `, ended ${when(status.stop_date)}` : ""),
      failed.length
        ? el("p", { class: "problems", id: "run-failed" }, "Failed in ",
             failed.map((step) => el("button", {
               type: "button", class: "link", "data-step": step, onclick: () => select(step) }, step)),
             " (select a step for its exception and logs)")
        : null,
      status.error
        ? el("details", { id: "run-error" }, el("summary", {}, "What Step Functions said"),
             el("pre", {}, `${status.error}: ${status.cause || ""}`))
        : null,
      status.partial ? el("p", { class: "muted" }, "Step states are partial: ",
                          (status.partial_reasons || []).join("; ")) : null);
    put(graphBox, drawGraph(detail.graph || [], status, select, selected));
    put(stepsBox, stepTable(detail.graph || [], status, select));
  };
  draw();
  show(header, graphBox, el("h2", {}, "Steps"), stepsBox, panel);
  // A failed run opens on its (first) failed step: the exception is what the operator came for.
  if (failed.length) select(failed[0]);
  say(status.status === "RUNNING" ? "Live: refreshing while the run is going." : "");

  stopPolling();
  if (status.status !== "RUNNING") return;
  let polls = 0;
  const marker = (answer) => JSON.stringify([answer.status, answer.last_event_id]);
  const mapRunning = () => (status.map_runs || []).some((run) => run.status === "RUNNING");
  const tick = async () => {
    if (gen !== generation) return;
    try {
      polls += 1;
      const cheap = await api(`flows/${enc(flow)}/runs/${enc(runId)}?steps=false&marker=true`);
      check(gen);
      if (marker(cheap) !== marker(status) || (mapRunning() && polls % MAP_RUN_EVERY === 0)) {
        status = await api(`flows/${enc(flow)}/runs/${enc(runId)}`);
        check(gen);
        draw();
        if (selected) showStep(flow, runId, selected, panel);
      }
      if (status.status !== "RUNNING") {  // ended, drawn from one last full view: no more polls
        pollTimer = null;
        say(`The run ended: ${status.status}.`);
        return;
      }
    } catch (err) {
      if (err instanceof Stale) return;
      say(`Refresh failed: ${err.message}; retrying.`);
    }
    pollTimer = setTimeout(tick, POLL_MS);
  };
  pollTimer = setTimeout(tick, POLL_MS);
}

// The steps the run status calls FAILED, in the graph's order.
function failedSteps(graph, status) {
  const states = status.steps || {};
  const names = graph.length ? graph.map((n) => n.name) : Object.keys(states);
  return names.filter((name) => states[name] === "FAILED");
}

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}

// The innermost foreach around a step, whose width is the number of tasks the step runs.
function foreachOf(node, byName) {
  const parents = node.split_parents || [];
  for (let i = parents.length - 1; i >= 0; i -= 1) {
    const parent = byName[parents[i]];
    if (parent && parent.type === "foreach") return parents[i];
  }
  return null;
}

function countsText(node, byName, status) {
  const counts = (status.step_counts || {})[node.name];
  const foreach = foreachOf(node, byName);
  if (!foreach) return null;
  const width = (status.foreach_widths || {})[foreach];
  const c = counts || { succeeded: 0, failed: 0, running: 0 };
  const of = width === undefined ? "?" : width;
  let text = `${c.succeeded}/${of} done`;
  if (c.failed) text += `, ${c.failed} failed`;
  if (c.running) text += `, ${c.running} running`;
  return text;
}

function stepTable(graph, status, select) {
  const byName = Object.fromEntries(graph.map((n) => [n.name, n]));
  const states = status.steps || {};
  const names = graph.length ? graph.map((n) => n.name) : Object.keys(states);
  return el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "Step"), el("th", {}, "State"), el("th", {}, "Tasks"))),
    el("tbody", {}, names.map((name) => el("tr", { "data-step": name },
      el("td", {}, el("button", { type: "button", class: "step-link", onclick: () => select(name) }, name)),
      el("td", {}, states[name] ? badge(states[name]) : el("span", { class: "muted" }, "not started")),
      el("td", { class: "step-counts" }, byName[name] ? countsText(byName[name], byName, status) || "" : ""))))));
}

// Layered drawing: a step's row is its longest distance from start (back edges of a recursive switch left
// out), steps of one row side by side in the order the graph lists them; edges from bottom to top.
function drawGraph(graph, status, select, selected) {
  const W = 170, H = 48, GX = 24, GY = 44, PAD = 12;
  const byName = Object.fromEntries(graph.map((n) => [n.name, n]));
  const order = Object.fromEntries(graph.map((n, i) => [n.name, i]));
  const rank = {};
  for (const node of graph) rank[node.name] = rank[node.name] || 0;
  for (const node of graph) {
    for (const child of node.out_funcs || []) {
      if (order[child] > order[node.name]) rank[child] = Math.max(rank[child] || 0, rank[node.name] + 1);
    }
  }
  const rows = [];
  for (const node of graph) (rows[rank[node.name]] = rows[rank[node.name]] || []).push(node.name);
  const widest = Math.max(1, ...rows.map((r) => (r ? r.length : 0)));
  const width = PAD * 2 + widest * W + (widest - 1) * GX;
  const pos = {};
  rows.forEach((row, r) => {
    if (!row) return;
    const rowWidth = row.length * W + (row.length - 1) * GX;
    row.forEach((name, i) => {
      pos[name] = { x: (width - rowWidth) / 2 + i * (W + GX), y: PAD + r * (H + GY) };
    });
  });
  const height = PAD * 2 + rows.length * H + Math.max(0, rows.length - 1) * GY;
  const states = status.steps || {};
  const edges = [];
  for (const node of graph) {
    const cases = Object.fromEntries((node.switch_cases || []).map(([value, step]) => [step, value]));
    for (const child of node.out_funcs || []) {
      const a = pos[node.name], b = pos[child];
      if (!a || !b) continue;
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      const back = order[child] <= order[node.name];
      const path = back
        ? `M${a.x + W} ${a.y + H / 2} C${a.x + W + 30} ${a.y + H / 2}, ` +
          `${b.x + W + 30} ${b.y + H / 2}, ${b.x + W} ${b.y + H / 2 - 6}`
        : `M${x1} ${y1} C${x1} ${y1 + GY / 2}, ${x2} ${y2 - GY / 2}, ${x2} ${y2 - 2}`;
      const kind = node.condition ? "edge switch" : "edge";
      edges.push(svg("path", { d: path, class: kind, "data-from": node.name, "data-to": child,
                               "marker-end": "url(#arrow)" }));
      const label = node.type === "foreach" ? `foreach ${node.foreach_param}`
        : node.condition ? `${node.condition} == ${cases[child] !== undefined ? cases[child] : "?"}` : null;
      if (label) edges.push(svg("text", { x: (x1 + x2) / 2 + 4, y: y1 + GY / 2 + 3, class: "edge-label" }, label));
    }
  }
  const nodes = graph.filter((n) => pos[n.name]).map((node) => {
    const { x, y } = pos[node.name];
    const state = states[node.name] || "NOT_STARTED";
    const spoken = state.toLowerCase().replace("_", " ");
    const sub = countsText(node, byName, status)
      || (node.type === "foreach" ? `foreach: ${(status.foreach_widths || {})[node.name] ?? "?"} items`
        : node.condition ? `${node.type === "join" ? "join, " : ""}switch on ${node.condition}`
        : node.type === "join" ? "join" : "")
      || spoken;  // "not started" for a step with no state yet
    const g = svg("g", { class: `node state-${state}${node.name === selected ? " selected" : ""}`,
                         "data-step": node.name, "data-state": state, tabindex: 0, role: "button",
                         "aria-label": `step ${node.name}: ${spoken}${sub ? `, ${sub}` : ""}`,
                         onclick: () => select(node.name),
                         onkeydown: (e) => {
                           if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(node.name); }
                         } },
      svg("title", {}, `${node.name} (${node.type}): ${state}`),
      svg("rect", { x, y, width: W, height: H, rx: 8 }),
      svg("text", { x: x + 10, y: y + 19 }, node.name.length > 20 ? `${node.name.slice(0, 19)}…` : node.name),
      svg("text", { x: x + 10, y: y + 37, class: "sub step-sub" }, sub));
    return g;
  });
  return svg("svg", { class: "graph", viewBox: `0 0 ${width + 40} ${height}`, width: width + 40, role: "img",
                      "aria-label": `the flow's graph, ${graph.length} steps` },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                                    markerHeight: 7, orient: "auto-start-reverse" },
                        svg("path", { d: "M0 0 L10 5 L0 10 z" }))),
    edges, nodes);
}

async function showStep(flow, runId, step, panel) {
  put(panel, el("h2", {}, `Step ${step}`), el("p", { class: "muted" }, "Loading its tasks…"));
  let answer;
  try {
    answer = await api(`flows/${enc(flow)}/runs/${enc(runId)}/steps/${enc(step)}`);
  } catch (err) {
    put(panel, el("h2", {}, `Step ${step}`), el("p", { class: "problems" }, err.message));
    return;
  }
  const shown = answer.tasks.length;
  put(panel, el("h2", {}, `Step ${step}`),
    el("p", {}, answer.task_count ? `${answer.task_count} task${answer.task_count === 1 ? "" : "s"}` +
                (shown < answer.task_count ? `; the first ${shown} shown` : "") : "No task has run yet."),
    ...answer.tasks.map((t) => taskBox(t, answer.tasks.length === 1 || t.status === "failed")));
}

function taskBox(task, open) {
  const attempts = el("table", { class: "attempts" },
    el("thead", {}, el("tr", {}, el("th", {}, "Attempt"), el("th", {}, "Status"), el("th", {}, "Started"),
                          el("th", { class: "hide-narrow" }, "Finished"))),
    el("tbody", {}, task.attempts.map((a) => el("tr", {},
      el("td", {}, a.attempt), el("td", {}, a.status || ""), el("td", {}, when(a.started)),
      el("td", { class: "hide-narrow" }, when(a.finished))))));
  const ex = task.exception;
  return el("details", { class: "task", "data-task": task.task_id, "data-status": task.status, open },
    el("summary", {}, `task ${task.task_id}: ${task.status}`),
    attempts,
    ex ? el("div", { class: "exception" }, el("h3", {}, "Exception"),
            el("p", { class: "problems" }, `${ex.exception_type || "error"}: ${ex.exception_message || ""}`),
            ex.exception ? el("pre", {}, ex.exception) : null) : null,
    el("h3", {}, "stdout (last lines)"), el("pre", { class: "stdout" }, task.stdout || "(empty)"),
    el("h3", {}, "stderr (last lines)"), el("pre", { class: "stderr" }, task.stderr || "(empty)"),
    el("h3", {}, "Artifacts"),
    task.artifacts.length ? el("ul", { class: "artifacts" }, task.artifacts.map((a) =>
      el("li", { "data-artifact": a.name }, el("code", {}, a.name), ` — ${bytes(a.size)}`)))
      : el("p", { class: "muted" }, "none"));
}

// -- routing ------------------------------------------------------------------------------------

async function route() {
  stopPolling();
  const gen = ++generation;
  if (!token()) { askToken(); return; }
  document.getElementById("sign-out").hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "flow" && parts[1]) await flowView(parts[1], gen);
    else if (parts[0] === "run" && parts[1] && parts[2]) await runView(parts[1], parts[2], gen);
    else await flowsView(gen);
  } catch (err) {
    if (err instanceof Stale) return;
    say("");
    failure(err);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken("Token forgotten.");
  });
  window.addEventListener("hashchange", route);
  route();
});
