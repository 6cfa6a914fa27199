"use strict";
// The facetransfer page: the swaps list, the new-swap form (drawn from the option declarations the
// server sends), and one swap's progress, previews, loss plot and results. Live updates come by
// server-sent events (/api/events); nothing is loaded from outside this app.

const $ = (selector) => document.querySelector(selector);
const state = { jobs: [], schema: null, current: null, detail: null, sources: [], target: null,
                lastPreview: null, lastMetricsStep: null, lastFiles: "" };

async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    throw new Error((payload && payload.error) || `${response.status} ${response.statusText}`);
  }
  return payload;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ------------------------------------------------------------------ routing

function route() {
  const hash = location.hash || "#/jobs";
  const [, view, name] = hash.split("/");
  for (const id of ["jobs", "new", "job"]) $(`#view-${id}`).hidden = id !== view;
  $("#nav-jobs").classList.toggle("active", view === "jobs");
  $("#nav-new").classList.toggle("active", view === "new");
  if (view === "new") showForm();
  if (view === "job" && name) openJob(decodeURIComponent(name));
  else state.current = null;
  if (!["jobs", "new", "job"].includes(view)) location.hash = "#/jobs";
}

// ------------------------------------------------------------------ the swaps list

function renderJobs() {
  const body = $("#jobs-table tbody");
  body.replaceChildren();
  $("#jobs-empty").hidden = state.jobs.length > 0;
  $("#jobs-table").hidden = state.jobs.length === 0;
  for (const job of state.jobs) {
    const link = element("a", { href: `#/job/${encodeURIComponent(job.name)}`, text: job.name });
    body.append(element("tr", { "data-name": job.name },
      element("td", {}, link),
      element("td", {}, element("span", { class: `badge ${job.state}`, text: job.state }), " ",
              element("span", { class: "line", text: job.line === job.state ? "" : job.line })),
      element("td", {}, job.from_app ? "" : element("span", { class: "muted", text: "command line" }))));
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.onopen = () => $("#connection").classList.add("live");
  source.onerror = () => $("#connection").classList.remove("live");
  source.onmessage = (event) => {
    const payload = JSON.parse(event.data);
    state.jobs = payload.jobs;
    renderJobs();
    if (state.current) {
      const summary = state.jobs.find((job) => job.name === state.current);
      if (summary) refreshJob(summary);
    }
  };
}

// ------------------------------------------------------------------ the form

function fieldDefault(field) {
  const preset = $("#opt-preset") ? $("#opt-preset").value : "";
  if (field.preset_defaults && preset && preset in field.preset_defaults) return field.preset_defaults[preset];
  if (field.preset_defaults && !preset) return field.preset_defaults.cpu;
  return field.default;
}

function describeDefault(field, value) {
  if (value === null || value === undefined) return "not set";
  if (field.type === "bool") return value ? "on" : "off";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  return String(value);
}

function fieldInput(field) {
  const id = `opt-${field.flag}`;
  const shown = describeDefault(field, fieldDefault(field));
  let input;
  if (field.type === "bool" || field.choices) {
    input = element("select", { id, name: field.flag });
    input.append(element("option", { value: "", text: `default (${shown})`, "data-default": "1" }));
    const choices = field.type === "bool" ? [["true", "on"], ["false", "off"]] : field.choices.map((c) => [c, c]);
    for (const [value, text] of choices) input.append(element("option", { value, text }));
  } else if (field.type === "list") {
    input = element("textarea", { id, name: field.flag, rows: 2, placeholder: `${shown} (one per line)` });
  } else {
    const numeric = field.type === "int" || field.type === "float";
    input = element("input", {
      id, name: field.flag, type: numeric ? "number" : "text", placeholder: shown,
      step: field.type === "int" ? "1" : "any",
      min: field.minimum ?? undefined, max: field.maximum ?? undefined,
    });
  }
  const unit = field.unit && !field.flag.endsWith(field.unit) ? ` (${field.unit})` : "";
  const where = field.sections.length > 1 ? ` [${field.sections.join(", ")}]` : "";
  return element("label", { class: "field", for: id, "data-flag": field.flag },
    element("span", { text: `${field.flag}${unit}` }), input,
    element("small", { text: field.help + where }));
}

function updatePlaceholders() {
  for (const field of state.schema.fields) {
    const input = $(`#opt-${CSS.escape(field.flag)}`);
    if (!input || field.flag === "preset") continue;
    const shown = describeDefault(field, fieldDefault(field));
    if (input.tagName === "SELECT") input.options[0].textContent = `default (${shown})`;
    else input.placeholder = field.type === "list" ? `${shown} (one per line)` : shown;
  }
}

async function showForm() {
  if (state.schema) return;
  try {
    state.schema = await api("/api/options");
  } catch (error) {
    $("#form-error").textContent = error.message;
    return;
  }
  const main = $("#main-options");
  const all = $("#all-options");
  const groups = {};
  for (const field of state.schema.fields) {
    if (field.main) { main.append(fieldInput(field)); continue; }
    if (!groups[field.section]) {
      groups[field.section] = element("div", { class: "options" });
      all.append(element("fieldset", {}, element("legend", { text: field.section }), groups[field.section]));
    }
    groups[field.section].append(fieldInput(field));
  }
  const preset = $("#opt-preset");
  if (preset) {
    for (const option of preset.options) {
      const described = state.schema.presets.find((p) => p.name === option.value);
      if (described) option.title = described.description;
    }
    preset.addEventListener("change", updatePlaceholders);
  }
}

function formValues() {
  const values = {};
  for (const field of state.schema.fields) {
    const input = $(`#opt-${CSS.escape(field.flag)}`);
    if (!input || input.value.trim() === "") continue;
    const text = input.value.trim();
    if (field.type === "bool") values[field.flag] = text === "true";
    else if (field.type === "int" || field.type === "float") values[field.flag] = Number(text);
    else if (field.type === "list") values[field.flag] = text.split("\n").map((s) => s.trim()).filter(Boolean);
    else values[field.flag] = text;
  }
  return values;
}

function renderChosen() {
  const list = $("#sources");
  list.replaceChildren(...state.sources.map((path, index) => element("li", {},
    element("span", { text: path }),
    element("button", { type: "button", title: "remove", text: "×",
      onclick: () => { state.sources.splice(index, 1); renderChosen(); } }))));
  $("#target").replaceChildren(...(state.target ? [element("li", {}, element("span", { text: state.target }),
    element("button", { type: "button", title: "remove", text: "×",
      onclick: () => { state.target = null; renderChosen(); } }))] : []));
}

async function uploadFiles(files, into) {
  const progress = $("#upload-progress");
  $("#form-error").textContent = "";
  for (const file of files) {
    progress.textContent = `uploading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)…`;
    try {
      const result = await api(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "PUT", body: file });
      if (into === "target") state.target = result.path; else state.sources.push(result.path);
    } catch (error) {
      $("#form-error").textContent = error.message;
    }
  }
  progress.textContent = "";
  renderChosen();
}

async function submitForm(event) {
  event.preventDefault();
  $("#form-error").textContent = "";
  $("#start").disabled = true;
  try {
    const result = await api("/api/jobs", { json: {
      name: $("#job-name").value.trim() || null, sources: state.sources, target: state.target,
      options: formValues() } });
    location.hash = `#/job/${encodeURIComponent(result.name)}`;
  } catch (error) {
    $("#form-error").textContent = error.message;
  } finally {
    $("#start").disabled = false;
  }
}

// ------------------------------------------------------------------ the file browser

const browser = { mode: "sources", path: null, selected: new Set(), request: 0 };

// Only the newest listing asked for is shown; #browser carries data-loading while one is on its way.
async function browse(path) {
  const request = ++browser.request;
  $("#browser-error").textContent = "";
  $("#browser").dataset.loading = "1";
  let listing;
  try {
    listing = await api(`/api/browse${path ? `?path=${encodeURIComponent(path)}` : ""}`);
  } catch (error) {
    if (request === browser.request) {
      $("#browser-error").textContent = error.message;
      delete $("#browser").dataset.loading;
    }
    return;
  }
  if (request !== browser.request) return;
  delete $("#browser").dataset.loading;
  browser.path = listing.path;
  browser.selected.clear();
  $("#browser-path").textContent = listing.path;
  const list = $("#browser-list");
  list.replaceChildren();
  if (listing.parent) {
    list.append(element("li", { class: "up", onclick: () => browse(listing.parent) }, element("span", { text: "↑ .." })));
  }
  for (const entry of listing.entries) {
    const item = element("li", { "data-path": entry.path, class: entry.is_dir ? "dir" : "file" },
      element("span", { class: entry.is_dir || entry.is_media ? "" : "muted", text: entry.is_dir ? `${entry.name}/` : entry.name }),
      element("span", { class: "size", text: entry.is_dir ? "" : `${(entry.size / 1e6).toFixed(1)} MB` }));
    item.addEventListener("click", () => {
      if (entry.is_dir) { browse(entry.path); return; }
      if (browser.mode === "target") { browser.selected.clear(); list.querySelectorAll("li").forEach((li) => li.classList.remove("selected")); }
      if (browser.selected.has(entry.path)) { browser.selected.delete(entry.path); item.classList.remove("selected"); }
      else { browser.selected.add(entry.path); item.classList.add("selected"); }
    });
    list.append(item);
  }
  $("#browser-use-folder").hidden = browser.mode === "target";
}

function openBrowser(mode) {
  browser.mode = mode;
  $("#browser-title").textContent = mode === "target" ? "Choose the target video" : "Choose source videos, photos or a folder";
  $("#browser").showModal();
  browse(browser.path);
}

function useSelection(paths) {
  if (!paths.length) { $("#browser-error").textContent = "nothing selected"; return; }
  if (browser.mode === "target") state.target = paths[0];
  else for (const path of paths) if (!state.sources.includes(path)) state.sources.push(path);
  $("#browser").close();
  renderChosen();
}

// ------------------------------------------------------------------ one swap

async function openJob(name) {
  if (state.current !== name) {
    state.current = name;
    state.detail = null; state.lastPreview = null; state.lastMetricsStep = null; state.lastFiles = "";
    $("#job-title").textContent = name;
    $("#players").replaceChildren();
    $("#loss-plot").replaceChildren();
    $("#preview").hidden = true;
    $("#action-error").textContent = "";
  }
  await loadJob();
}

async function refreshJob(summary) {
  if (!state.detail || JSON.stringify(summary) !== JSON.stringify(state.detailSummary)) await loadJob();
}

async function loadJob() {
  const name = state.current;
  let detail;
  try {
    detail = await api(`/api/jobs/${encodeURIComponent(name)}`);
  } catch (error) {
    $("#job-error").textContent = error.message;
    return;
  }
  if (name !== state.current) return;
  state.detail = detail;
  state.detailSummary = state.jobs.find((job) => job.name === name) || null;
  renderJob(detail);
}

function renderJob(detail) {
  const status = detail.status;
  $("#job-state").textContent = detail.state;
  $("#job-state").className = `badge ${detail.state}`;
  $("#job-line").textContent = detail.line;
  $("#job-error").textContent = detail.state === "failed" ? status.error || "" : "";
  const active = ["running", "stopping", "queued"].includes(detail.state);
  const evaluating = ["running", "queued"].includes(detail.evaluation);
  $("#stop").disabled = !(active || evaluating);
  $("#continue").disabled = active;
  $("#convert").disabled = detail.train === null || detail.state === "queued";
  $("#evaluate").disabled = !detail.files.output || active || evaluating;

  const rows = $("#stages tbody");
  rows.replaceChildren();
  for (const stage of detail.stages) {
    const left = stage.name === "train" && stage.state === "running" && detail.train ? detail.train.seconds_left : null;
    rows.append(element("tr", { "data-stage": stage.name, "data-state": stage.state },
      element("td", { text: stage.title }),
      element("td", { text: stage.state + (stage.detail ? ` (${stage.detail})` : "") }),
      element("td", { text: duration(stage.seconds) }),
      element("td", { text: left !== null && left !== undefined ? duration(left) : "" })));
  }
  if (evaluating || detail.evaluation === "failed") {
    rows.append(element("tr", { "data-stage": "evaluate", "data-state": detail.evaluation },
      element("td", { text: "Evaluate" }),
      element("td", { text: detail.evaluation + (status.evaluation_error ? `: ${status.evaluation_error}` : "") }),
      element("td"), element("td")));
  }
  renderTraining(detail);
  renderResult(detail);
  $("#command").textContent = detail.command ||
    "Started from the command line: rerun its own command, or continue it here (the app then records its inputs).";
  $("#log-link").href = `/api/jobs/${encodeURIComponent(detail.name)}/files/log`;
  $("#config-link").href = `/api/jobs/${encodeURIComponent(detail.name)}/files/config`;
}

function renderTraining(detail) {
  const train = detail.train;
  $("#training").hidden = !train;
  if (!train) return;
  const fraction = train.fraction ?? null;
  $("#train-bar").style.width = fraction === null ? "0" : `${(100 * fraction).toFixed(1)}%`;
  const parts = [`step ${train.step}` + (train.target_step ? ` of ${train.target_step}` : "")];
  if (train.iterations_per_s) parts.push(`${train.iterations_per_s} it/s`);
  if (train.loss_source !== null) parts.push(`loss source ${train.loss_source.toFixed(4)}, target ${train.loss_target.toFixed(4)}`);
  if (train.seconds_left !== null && train.seconds_left !== undefined) parts.push(`about ${duration(train.seconds_left)} left`);
  $("#train-numbers").textContent = parts.join(" · ");
  if (detail.preview && detail.preview !== state.lastPreview) {
    state.lastPreview = detail.preview;
    const img = $("#preview");
    img.src = `/api/jobs/${encodeURIComponent(detail.name)}/preview?v=${detail.preview}`;
    img.hidden = false;
    img.dataset.version = String(detail.preview);
    $("#preview-caption").textContent =
      `newest preview at step ${train.step}: each side, its reconstruction and mask, then the swap (target to source)`;
  }
  if (train.step !== state.lastMetricsStep) {
    state.lastMetricsStep = train.step;
    api(`/api/jobs/${encodeURIComponent(detail.name)}/metrics`).then(drawLoss).catch(() => {});
  }
}

function drawLoss(series) {
  const svg = $("#loss-plot");
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  svg.replaceChildren();
  svg.dataset.points = String(series.steps.length);
  const values = [...series.source, ...series.target, ...series.holdout.map((p) => p[1])].filter((v) => v !== null);
  const steps = [...series.steps, ...series.holdout.map((p) => p[0])];
  if (!values.length) return;
  const [left, right, top, bottom] = [48, 470, 10, 250];
  const xMin = Math.min(...steps), xMax = Math.max(...steps, xMin + 1);
  let yMin = Math.min(...values), yMax = Math.max(...values);
  if (yMax - yMin < 1e-9) { yMin -= 0.01; yMax += 0.01; }
  const x = (step) => left + (right - left) * (step - xMin) / (xMax - xMin);
  const y = (value) => bottom - (bottom - top) * (value - yMin) / (yMax - yMin);
  svg.append(make("line", { x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#999" }));
  svg.append(make("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#999" }));
  for (let i = 0; i <= 4; i++) {
    const value = yMin + (yMax - yMin) * i / 4;
    const label = make("text", { x: 4, y: y(value) + 4 });
    label.textContent = value.toFixed(3);
    svg.append(label);
    const stepValue = Math.round(xMin + (xMax - xMin) * i / 4);
    const stepLabel = make("text", { x: x(stepValue) - 10, y: 268 });
    stepLabel.textContent = String(stepValue);
    svg.append(stepLabel);
  }
  for (const [name, data, color] of [["source", series.source, "#2b6cb0"], ["target", series.target, "#c05621"]]) {
    const points = series.steps.map((step, i) => data[i] === null ? null : `${x(step).toFixed(1)},${y(data[i]).toFixed(1)}`).filter(Boolean);
    svg.append(make("polyline", { class: name, points: points.join(" "), fill: "none", stroke: color, "stroke-width": 1.5 }));
  }
  for (const [step, value] of series.holdout) {
    svg.append(make("circle", { class: "holdout", cx: x(step), cy: y(value), r: 3.5, fill: "#2f855a" }));
  }
}

function renderResult(detail) {
  const files = detail.files;
  const hasResult = Boolean(files.output || detail.evaluate || detail.verify);
  $("#result").hidden = !hasResult;
  if (!hasResult) return;
  const key = JSON.stringify(files);
  if (key !== state.lastFiles) {
    state.lastFiles = key;
    const players = $("#players");
    players.replaceChildren();
    const base = `/api/jobs/${encodeURIComponent(detail.name)}/files`;
    if (files.compare) {
      players.append(element("figure", {}, element("video", { id: "compare-video", src: files.compare, controls: true, loop: true, muted: true, playsinline: true }),
        element("figcaption", { class: "muted", text: "before | after" })));
    }
    if (files.output) {
      players.append(element("figure", {}, element("video", { id: "result-video", src: files.output, controls: true, loop: true, muted: true, playsinline: true }),
        element("figcaption", { class: "muted", text: "result" })));
    }
    const links = [];
    if (files.output) links.push(element("a", { href: `${base}/output?download=1`, text: "Download the result" }));
    if (files.compare) links.push(element("a", { href: `${base}/compare?download=1`, text: "the side-by-side video" }));
    links.push(element("a", { href: `${base}/report`, target: "_blank", text: "report.json" }));
    $("#downloads").replaceChildren(...links.flatMap((link, i) => (i ? [" · ", link] : [link])));
  }
  const provenance = $("#provenance");
  provenance.replaceChildren();
  if (detail.verify) {
    const marked = /: MARKED/.test(detail.verify.split("\n")[0]);
    provenance.append(element("h4", { text: `Provenance: ${marked ? "marked" : "no mark found"}` }),
      element("pre", { id: "verify-text", text: detail.verify }));
  }
  const evaluation = $("#evaluation");
  evaluation.replaceChildren();
  if (detail.evaluate) {
    const table = element("table", { id: "evaluate-table" });
    table.append(element("tr", {}, element("th", { text: "metric" }), element("th", { text: "mean" }),
      element("th", { text: "median" }), element("th", { text: "p90" })));
    for (const [name, row] of Object.entries(detail.evaluate.summary || {})) {
      const cell = (v) => element("td", { text: v === null || v === undefined ? "" : Number(v).toFixed(3) });
      table.append(element("tr", {}, element("td", { text: name }), cell(row.mean), cell(row.median), cell(row.p90)));
    }
    evaluation.append(element("h4", { text: "Evaluation" }), table,
      element("img", { src: detail.evaluate.plot, alt: "per-frame metrics", style: "max-width:100%" }));
  }
}

async function jobAction(action, body) {
  $("#action-error").textContent = "";
  try {
    await api(`/api/jobs/${encodeURIComponent(state.current)}/${action}`, { json: body || {} });
    await loadJob();
  } catch (error) {
    $("#action-error").textContent = error.message;
  }
}

// ------------------------------------------------------------------ wiring

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  $("#new-form").addEventListener("submit", submitForm);
  $("#browse-sources").addEventListener("click", () => openBrowser("sources"));
  $("#browse-target").addEventListener("click", () => openBrowser("target"));
  $("#upload-sources").addEventListener("change", (e) => uploadFiles(e.target.files, "sources"));
  $("#upload-target").addEventListener("change", (e) => uploadFiles(e.target.files, "target"));
  $("#browser-use-selected").addEventListener("click", () => useSelection([...browser.selected]));
  $("#browser-use-folder").addEventListener("click", () => useSelection([browser.path]));
  $("#browser-go").addEventListener("click", () => browse($("#browser-typed").value.trim()));
  $("#stop").addEventListener("click", () => jobAction("stop"));
  $("#continue").addEventListener("click", () => jobAction("continue", { minutes: Number($("#more-minutes").value) }));
  $("#convert").addEventListener("click", () => jobAction("convert"));
  $("#evaluate").addEventListener("click", () => jobAction("evaluate"));
  api("/api/jobs").then((payload) => { state.jobs = payload.jobs; renderJobs(); }).catch(() => {});
  connect();
  route();
});
