"use strict";
// The operator view: pages drawn from the REST API's answers, routed by the URL's fragment
// (#/runs, #/runs/ID, #/datasets/NAME, #/dlq) so that the page itself is one route, GET /.
// API calls use relative URLs: they reach the API wherever the page was served from (etl serve,
// a stage prefix, etl dashboard's signing proxy). Data is only ever inserted as text, never as HTML.

const TERMINAL = new Set(["SUCCEEDED", "REJECTED", "FAILED", "SUPERSEDED"]);
const STATUSES = ["RUNNING", "WRITING", "SUCCEEDED", "REJECTED", "FAILED", "SUPERSEDED"];
const PERIODS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");

let navigation = 0;  // bumped on every page change: answers for an older page are dropped
let pollTimer = null;

// --- talking to the API ---------------------------------------------------------------------

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let answer;
  try {
    answer = await response.json();
  } catch {
    answer = { error: "unreadable", message: response.statusText };
  }
  if (!response.ok) {
    // the API's errors are {error, message}; API Gateway's own are {message}
    throw new Error(`${response.status} ${answer.error || "error"}: ${answer.message || ""}`);
  }
  return answer;
}

function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return new URLSearchParams(pairs).toString();
}

// --- building the page ----------------------------------------------------------------------

function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function show(page, ...nodes) {
  if (page !== navigation) return false;
  main.replaceChildren(...nodes.filter((node) => node !== null));  // null: a section the page does not have
  return true;
}

function failure(error) {
  return el("p", { class: "notice error", role: "alert" }, String(error.message || error));
}

function statusBadge(status) {
  return el("span", { class: `status status-${status || "UNKNOWN"}` }, status || "unknown");
}

function runLink(id) {
  return id ? el("a", { href: `#/runs/${encodeURIComponent(id)}`, class: "mono" }, id) : "";
}

function datasetLink(name) {
  return name ? el("a", { href: `#/datasets/${encodeURIComponent(name)}` }, name) : "";
}

function when(text) {
  return text ? text.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "";
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  // milliseconds matter below a second (local states take a few); above, tenths are enough
  return `${value.toFixed(value < 1 ? 3 : 1).replace(/\.?0+$/, "")} s`;
}

function percent(share) {
  return share === null || share === undefined ? "" : `${(share * 100).toFixed(1)} %`;
}

function number(value) {
  return value === null || value === undefined ? "" : String(value);
}

function table(headings, rows, attrs) {
  return el("table", attrs,
    el("thead", {}, el("tr", {}, headings.map(([text, cls]) => el("th", { class: cls }, text)))),
    el("tbody", {}, rows));
}

function records(items) {
  return items.length > 0 && items.every((item) => item && typeof item === "object" && !Array.isArray(item));
}

// Any JSON value as a table, list or text: for what the page does not know field by field
// (the run's quality profile, a dead letter's reasons), so new fields show without a change here.
function anyValue(value) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "none");
  if (Array.isArray(value)) {
    if (value.length === 0) return el("span", { class: "muted" }, "none");
    if (records(value)) {
      const columns = [...new Set(value.flatMap(Object.keys))];
      return table(columns.map((c) => [c]), value.map((item) => el("tr", {}, columns.map((c) => el("td", {}, anyValue(item[c]))))));
    }
    return el("ul", { class: "reasons" }, value.map((item) => el("li", {}, anyValue(item))));
  }
  if (typeof value === "object" && records(Object.values(value))) {  // e.g. per field: one row each
    const columns = [...new Set(Object.values(value).flatMap(Object.keys))];
    return table([[""], ...columns.map((c) => [c])], Object.entries(value).map(([key, item]) =>
      el("tr", {}, el("th", {}, key), columns.map((c) => el("td", {}, anyValue(item[c]))))));
  }
  if (typeof value === "object") {
    return el("table", { class: "fields" }, el("tbody", {},
      Object.entries(value).map(([key, item]) => el("tr", {}, el("th", {}, key), el("td", {}, anyValue(item))))));
  }
  if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return String(value);
}

function fields(pairs) {
  return el("table", { class: "fields" }, el("tbody", {},
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([name, value]) => el("tr", {}, el("th", {}, name), el("td", {}, value)))));
}

// --- the runs -------------------------------------------------------------------------------

let datasetNames = null;  // fetched once: the filter's choices

async function knownDatasets() {
  if (datasetNames === null) datasetNames = (await api("GET", "datasets")).datasets.map((d) => d.name);
  return datasetNames;
}

function runRow(run) {
  const counts = run.counts || {};
  return el("tr", { "data-run": run.run_id, class: run.status === "FAILED" ? "failed" : null },
    el("td", {}, statusBadge(run.status)),
    el("td", { class: "run" }, runLink(run.run_id)),
    el("td", {}, datasetLink(run.dataset)),
    el("td", { class: "mono" }, (run.source && run.source.key) || ""),
    el("td", {}, when(run.started_at)),
    el("td", { class: "num" }, seconds(run.duration_seconds)),
    ["in", "valid", "invalid", "written"].map((name) => el("td", { class: "num" }, number(counts[name]))));
}

function runsTable(runs) {
  return table([["Status"], ["Run"], ["Dataset"], ["Source"], ["Started (UTC)"], ["Duration", "num"],
    ["In", "num"], ["Valid", "num"], ["Invalid", "num"], ["Written", "num"]], runs.map(runRow), { id: "runs" });
}

function filterForm(filters, datasets) {
  const choose = (name, label, options) => el("label", {}, label,
    el("select", { name, onchange: (event) => {
      location.hash = `#/runs?${query({ ...filters, [name]: event.target.value })}`;
    } }, options.map(([value, text]) => el("option", { value, selected: value === filters[name] }, text))));
  return el("form", { class: "filters", onsubmit: (event) => event.preventDefault() },
    choose("status", "Status", [["", "any"], ...STATUSES.map((s) => [s, s])]),
    choose("dataset", "Dataset", [["", "any"], ...datasets.map((d) => [d, d])]),
    choose("since", "Started", [["", "any time"], ["1h", "last hour"], ["24h", "last 24 hours"],
      ["7d", "last 7 days"], ["30d", "last 30 days"]]),
    el("button", { type: "button", onclick: route }, "Refresh"));
}

async function runsPage(page, params) {
  const filters = { status: params.get("status") || "", dataset: params.get("dataset") || "", since: params.get("since") || "" };
  const since = PERIODS[filters.since] ? new Date(Date.now() - PERIODS[filters.since]).toISOString() : filters.since;
  const ask = { status: filters.status, dataset: filters.dataset, since, limit: 50 };
  const [datasets, first] = await Promise.all([knownDatasets(), api("GET", `runs?${query(ask)}`)]);
  const rows = runsTable(first.runs);
  const more = el("p", {});
  const addPage = (token) => {
    if (!token) return more.replaceChildren();
    more.replaceChildren(el("button", { type: "button", onclick: async (event) => {
      event.target.disabled = true;
      try {
        const next = await api("GET", `runs?${query({ ...ask, next_token: token })}`);
        rows.tBodies[0].append(...next.runs.map(runRow));
        addPage(next.next_token);
      } catch (error) {
        more.replaceChildren(failure(error));
      }
    } }, "More runs"));
  };
  addPage(first.next_token);
  show(page, el("h1", {}, "Runs"),
    el("section", {}, filterForm(filters, datasets)),
    el("section", {}, first.runs.length ? rows : el("p", { class: "muted" }, "No runs match."), more));
}

// --- one run --------------------------------------------------------------------------------

function counts(run) {
  const c = run.counts || {};
  const share = c.in ? c.invalid / c.in : null;
  return table([["In", "num"], ["Valid", "num"], ["Invalid", "num"], ["Invalid share", "num"], ["Transformed", "num"], ["Written", "num"]],
    [el("tr", {}, [c.in, c.valid, c.invalid].map((v) => el("td", { class: "num" }, number(v))),
      el("td", { class: "num" }, percent(share)),
      el("td", { class: "num" }, number(run.records_transformed)), el("td", { class: "num" }, number(c.written)))],
    { id: "counts" });
}

function outcome(run) {
  if (!run.reason && !run.failed_state && !run.error) return null;
  return el("section", { class: "outcome", id: "outcome" }, el("h2", {}, "Outcome"), fields([
    ["Failed state", run.failed_state ? el("strong", { id: "failed-state" }, run.failed_state) : null],
    ["Error", run.error ? el("code", {}, run.error) : null],
    ["Cause", run.cause ? el("code", {}, run.cause) : null],
    ["Reason", run.reason],
  ]));
}

// States visited more than once (a redriven state, or one state run per chunk) are numbered.
function visitLabels(states) {
  const totals = {};
  for (const state of states) totals[state.name] = (totals[state.name] || 0) + 1;
  const seen = {};
  return states.map((state) => {
    seen[state.name] = (seen[state.name] || 0) + 1;
    return totals[state.name] > 1 ? `${state.name} (${seen[state.name]}/${totals[state.name]})` : state.name;
  });
}

function visitClass(state) {
  if (state.error) return "failed";
  if (state.exited === null) return "open";
  return state.attempts > 1 ? "retried" : "ok";
}

function retryText(state) {
  const waits = (state.retry_waits_seconds || []).filter((w) => w !== null);
  if (state.attempts <= 1) return "";
  return `${state.attempts} attempts` + (waits.length ? `, waited ${waits.map(seconds).join(" + ")}` : "");
}

// A round step (1, 2 or 5 times a power of ten) that cuts span into about count parts: for axis ticks.
function niceStep(span, count) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw * 0.999);
}

function multiples(step, upTo) {
  const ticks = [];
  for (let n = 0; n * step <= upTo * 1.0001; n++) ticks.push(n * step);
  return ticks;
}

// The rows a run's timeline shows: its states and, under the Map that processes the chunks, each chunk's
// own states (or, for a chunk whose history was not read, one row for the chunk).
function timelineRows(history) {
  const labels = visitLabels(history.states);
  return history.states.flatMap((state, i) => [
    { state, label: labels[i], chunk: null },
    ...(state.chunks || []).flatMap((chunk) => {
      const name = chunk.index === null ? "chunk" : `chunk ${chunk.index}`;
      if (!chunk.states) return [{ state: chunkVisit(chunk), label: `\u2003${name}`, chunk: chunk.index }];
      return visitLabels(chunk.states).map((label, j) => ({ state: chunk.states[j], label: `\u2003${name} \u00b7 ${label}`,
        chunk: chunk.index }));
    }),
  ]);
}

function chunkVisit(chunk) {
  const duration = chunk.stopped ? (Date.parse(chunk.stopped) - Date.parse(chunk.started)) / 1000 : null;
  return { name: "chunk", type: "Chunk", entered: chunk.started, exited: chunk.stopped, duration_seconds: duration,
    attempts: 0, retry_waits_seconds: [], error: chunk.error, cause: chunk.cause };
}

// A Gantt chart of the visits: one bar per row, from entering the state to leaving it (open: not left).
function gantt(history, rows) {
  const time = (text) => Date.parse(text);
  const start = Math.min(...rows.map((r) => time(r.state.entered)));
  const end = Math.max(start + 1, ...rows.flatMap((r) => [time(r.state.entered), r.state.exited ? time(r.state.exited) : 0]),
    ...history.redrives.map(time));
  const [left, width, rowHeight, top] = [230, 900, 22, 24];
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - 230);
  const height = top + rowHeight * rows.length + 20;  // room below for the redrive marks' labels
  const ticks = multiples(niceStep(end - start, 4), end - start).map((offset) => start + offset);
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "timeline of the run's states" },
    ticks.map((t) => [
      svg("line", { class: "axis", x1: x(t), x2: x(t), y1: top - 6, y2: height - 14 }),
      svg("text", { x: x(t), y: 12, "text-anchor": "middle" }, seconds((t - start) / 1000)),
    ]),
    history.redrives.map((t) => [
      svg("line", { class: "redrive", x1: x(time(t)), x2: x(time(t)), y1: top - 6, y2: height - 14 }),
      svg("text", { x: x(time(t)), y: height - 2, "text-anchor": "middle" }, "redrive"),
    ]),
    rows.map(({ state, label }, i) => {
      const y = top + i * rowHeight;
      const from = x(time(state.entered));
      const to = state.exited ? x(time(state.exited)) : from;
      return svg("g", {},
        svg("text", { class: "label", x: left - 8, y: y + 14, "text-anchor": "end" }, label),
        svg("rect", { class: `bar ${visitClass(state)}`, x: from, y: y + 4, width: Math.max(3, to - from), height: rowHeight - 8, rx: 2 },
          svg("title", {}, `${label}: ${seconds(state.duration_seconds) || "not left"}`)),
        svg("text", { x: Math.max(3, to - from) + from + 6, y: y + 14 },
          [seconds(state.duration_seconds), retryText(state), state.error || ""].filter(Boolean).join(" · ")));
    }));
}

function timeline(history) {
  const rows = timelineRows(history);
  const tableRows = rows.map(({ state, label, chunk }) => el("tr", {
    class: state.error ? "failed" : null, "data-state": state.name, "data-chunk": chunk === null ? null : String(chunk) },
    el("td", {}, label), el("td", {}, state.type), el("td", {}, when(state.entered)),
    el("td", { class: "num" }, seconds(state.duration_seconds)),
    el("td", { class: "num" }, String(state.attempts)),
    el("td", {}, (state.retry_waits_seconds || []).map(seconds).join(", ")),
    el("td", {}, state.error ? el("code", {}, state.error) : "", state.cause ? el("div", { class: "muted mono" }, state.cause) : "")));
  return el("section", { id: "timeline" }, el("h2", {}, "Timeline"),
    rows.length ? gantt(history, rows) : el("p", { class: "muted" }, "No states yet."),
    history.redrives.length ? el("p", { class: "muted" }, `Redriven at ${history.redrives.map(when).join(", ")}.`) : null,
    table([["State"], ["Type"], ["Entered (UTC)"], ["Duration", "num"], ["Attempts", "num"], ["Retry waits"], ["Error"]], tableRows));
}

function replayButton(letter, after) {
  const result = el("span", { class: "muted" });
  const button = el("button", { type: "button", "data-replay": letter.message_id, onclick: async () => {
    button.disabled = true;
    try {
      const [answer] = (await api("POST", "dlq/replay", { message_ids: [letter.message_id] })).results;
      result.replaceChildren(` ${answer.outcome} `, runLink(answer.run_id), answer.message ? ` ${answer.message}` : "");
      after(answer);
    } catch (error) {
      result.replaceChildren(failure(error));
      button.disabled = false;
    }
  } }, "Replay");
  return [button, result];
}

function lettersOf(run, letters, after) {
  const own = letters.filter((letter) => letter.run_id === run.run_id);
  if (!own.length) return null;
  return el("section", { id: "run-letters" }, el("h2", {}, "Dead letters of this run"),
    own.map((letter) => el("div", {},
      fields([["Kind", letter.kind], ["Reason", letter.reason], ["Quarantine", letter.quarantine ? el("code", {}, letter.quarantine) : null],
        ["Reasons", anyValue(letter.first_reasons)]]),
      el("p", {}, replayButton(letter, after)))));
}

async function runPage(page, id) {
  const [run, history, letters] = await Promise.all([
    api("GET", `runs/${encodeURIComponent(id)}`),
    api("GET", `runs/${encodeURIComponent(id)}/history`),
    api("GET", "dlq?limit=100").then((answer) => answer.messages, () => []),  // the run shows without them
  ]);
  const notice = el("div", {});
  const redrive = run.status === "FAILED" ? el("button", { class: "primary", type: "button", id: "redrive", onclick: async () => {
    redrive.disabled = true;
    try {
      const answer = await api("POST", `runs/${encodeURIComponent(id)}/redrive`);
      notice.replaceChildren(el("p", { class: "notice" }, `Redriven from ${run.failed_state}: ${answer.status}`));
      pollTimer = setTimeout(route, POLL_MS);
    } catch (error) {
      notice.replaceChildren(failure(error));
      redrive.disabled = false;
    }
  } }, `Redrive from ${run.failed_state || "the failed state"}`) : null;
  const source = run.source || {};
  const shown = show(page,
    el("h1", {}, "Run ", el("span", { class: "mono" }, run.run_id), el("span", { id: "run-status" }, statusBadge(run.status)), redrive),
    notice,
    outcome(run),
    timeline(history),
    el("section", {}, el("h2", {}, "Counts"), counts(run)),
    run.quality ? el("section", { id: "quality" }, el("h2", {}, "Quality"), anyValue(run.quality)) : null,
    lettersOf(run, letters, () => { pollTimer = setTimeout(route, POLL_MS); }),
    el("section", {}, el("h2", {}, "Details"), fields([
      ["Dataset", datasetLink(run.dataset)],
      ["Source", source.key ? el("code", {}, `s3://${source.bucket}/${source.key}`) : null],
      ["Version", source.version ? el("code", {}, source.version) : null],
      ["Started (UTC)", when(run.started_at)], ["Finished (UTC)", when(run.finished_at)],
      ["Duration", seconds(run.duration_seconds)],
      ["Replay of", runLink(run.replay_of)],
      ["Redrives", run.redrive_count ? `${run.redrive_count} (last ${when(run.redriven_at)})` : null],
      ["Chunks", run.chunks === null ? null : `${run.chunks_validated} of ${run.chunks} validated`],
      ["Output files", run.output_files === null ? null : `${run.output_files} in ${run.output_partitions} partitions`],
      ["Quarantine", run.quarantine ? el("code", {}, run.quarantine) : null],
      ["Execution", run.execution_arn ? el("code", {}, run.execution_arn) : null],
    ])));
  // follow a run that is still going (after a redrive, too) until it ends
  if (shown && !TERMINAL.has(run.status)) pollTimer = setTimeout(route, POLL_MS);
}

// --- datasets -------------------------------------------------------------------------------

async function datasetsPage(page) {
  const names = await knownDatasets();
  show(page, el("h1", {}, "Datasets"), el("section", {},
    el("ul", {}, names.map((name) => el("li", {}, datasetLink(name))))));
}

// A line chart of one value per run, oldest run first; points link to their run.
function chart(title, runs, series, { format, threshold } = {}) {
  const [width, height, left, right, top, bottom] = [420, 200, 56, 12, 12, 28];
  const values = series.flatMap((s) => runs.map(s.value)).filter((v) => v !== null && v !== undefined);
  const step = niceStep(Math.max(threshold || 0, ...values) || 1, 3);
  const peak = Math.ceil(Math.max(threshold || 0, ...values, step) / step) * step;
  const x = (i) => left + (runs.length > 1 ? (i / (runs.length - 1)) * (width - left - right) : (width - left - right) / 2);
  const y = (v) => top + (1 - v / peak) * (height - top - bottom);
  const first = runs[0], last = runs[runs.length - 1];
  return el("section", { class: "chart" }, el("h2", {}, title),
    series.length > 1 ? el("div", { class: "legend" }, series.map((s, i) => el("span", {}, el("span", { class: `swatch series-${i}` }), s.name))) : null,
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title },
      multiples(step, peak).map((v) => [
        svg("line", { class: "axis", x1: left, x2: width - right, y1: y(v), y2: y(v) }),
        svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)),
      ]),
      threshold === undefined ? null : [
        svg("line", { class: "threshold", x1: left, x2: width - right, y1: y(threshold), y2: y(threshold) }),
        svg("text", { x: width - right, y: y(threshold) - 4, "text-anchor": "end" }, `limit ${format(threshold)}`),
      ],
      series.map((s, i) => {
        const points = runs.map((run, n) => [n, s.value(run), run]).filter(([, v]) => v !== null && v !== undefined);
        return svg("g", { class: `series-${i}` },
          svg("polyline", { points: points.map(([n, v]) => `${x(n)},${y(v)}`).join(" ") }),
          points.map(([n, v, run]) => svg("circle", { cx: x(n), cy: y(v), r: 3.5,
            onclick: () => { location.hash = `#/runs/${encodeURIComponent(run.run_id)}`; } },
          svg("title", {}, `${run.run_id}: ${format(v)}`))));
      }),
      first ? svg("text", { x: left, y: height - 8 }, when(first.started_at)) : null,
      runs.length > 1 ? svg("text", { x: width - right, y: height - 8, "text-anchor": "end" }, when(last.started_at)) : null));
}

async function datasetPage(page, name) {
  const [dataset, listing] = await Promise.all([
    api("GET", `datasets/${encodeURIComponent(name)}`),
    api("GET", `runs?${query({ dataset: name, limit: 100 })}`),
  ]);
  const runs = listing.runs.slice().reverse();  // the API lists newest first; charts read left to right
  const limit = dataset.transform && dataset.transform.max_invalid_ratio;
  const invalidShare = (run) => (run.counts && run.counts.in ? run.counts.invalid / run.counts.in : null);
  const properties = (dataset.schema && dataset.schema.properties) || {};
  const required = new Set((dataset.schema && dataset.schema.required) || []);
  show(page, el("h1", {}, "Dataset ", name),
    el("p", { class: "muted" }, `The last ${runs.length} runs, oldest first.`),
    el("div", { class: "charts", id: "trends" },
      chart("Rows per run", runs, [{ name: "in", value: (r) => r.counts && r.counts.in },
        { name: "written", value: (r) => r.counts && r.counts.written }], { format: (v) => String(Math.round(v)) }),
      chart("Invalid share", runs, [{ name: "invalid", value: invalidShare }], { format: percent, threshold: limit }),
      chart("Duration", runs, [{ name: "seconds", value: (r) => r.duration_seconds }], { format: seconds })),
    el("section", {}, el("h2", {}, "Runs"), runs.length ? runsTable(listing.runs) : el("p", { class: "muted" }, "No runs yet.")),
    el("section", {}, el("h2", {}, "Fields"), table([["Field"], ["Type"], ["Required"]],
      Object.entries(properties).map(([field, spec]) => el("tr", {}, el("td", { class: "mono" }, field),
        el("td", {}, [].concat(spec.type || spec.format || "any").join(", ") + (spec.format ? ` (${spec.format})` : "")),
        el("td", {}, required.has(field) ? "yes" : ""))))));
}

// --- dead letters ---------------------------------------------------------------------------

function countsText(counts) {
  return Object.entries(counts || {}).filter(([, n]) => n !== null).map(([name, n]) => `${n} ${name}`).join(" · ");
}

async function deadLettersPage(page) {
  const letters = (await api("GET", "dlq?limit=100")).messages;
  const later = () => { pollTimer = setTimeout(route, POLL_MS); };
  const rows = letters.map((letter) => el("tr", { "data-message": letter.message_id },
    el("td", {}, letter.kind || ""), el("td", { class: "run" }, runLink(letter.run_id)), el("td", {}, datasetLink(letter.dataset)),
    el("td", {}, letter.reason || ""), el("td", {}, countsText(letter.counts)), el("td", {}, anyValue(letter.first_reasons)),
    el("td", {}, when(letter.sent_at)), el("td", { class: "num" }, String(letter.receive_count)),
    el("td", {}, replayButton(letter, later))));
  show(page, el("h1", {}, "Dead letters"),
    el("p", { class: "muted" }, "Oldest first. A replay starts a fresh run of the message's source object and then deletes the message."),
    el("section", {}, letters.length
      ? table([["Kind"], ["Run"], ["Dataset"], ["Reason"], ["Counts"], ["Reasons"], ["Sent (UTC)"], ["Receives", "num"], [""]], rows, { id: "letters" })
      : el("p", { class: "muted" }, "The dead-letter queue is empty.")));
}

// --- routing --------------------------------------------------------------------------------

async function route() {
  clearTimeout(pollTimer);
  const page = ++navigation;
  const [path, search] = (location.hash.replace(/^#/, "") || "/runs").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.nav === (parts[0] === "runs" || !parts[0] ? "runs" : parts[0]));
  }
  try {
    if (parts[0] === "runs" && parts[1]) await runPage(page, parts[1]);
    else if (parts[0] === "datasets" && parts[1]) await datasetPage(page, parts[1]);
    else if (parts[0] === "datasets") await datasetsPage(page);
    else if (parts[0] === "dlq") await deadLettersPage(page);
    else await runsPage(page, new URLSearchParams(search || ""));
  } catch (error) {
    show(page, failure(error));
  }
}

window.addEventListener("hashchange", route);
route();
