// The page for people: score, explain, batch, review and the model card, over the API's own routes.
// No library, no build step. Every value that came from data is put in the page as text (textContent or
// a text node), never parsed as HTML. The key lives in this tab's sessionStorage and goes with every call.
"use strict";

(() => {
  const KEY = "mlops-template-api-key";
  const SVG = "http://www.w3.org/2000/svg";
  const SHOWN_ROWS = 200; // rows of a scored file listed on the page (the download holds them all)
  const $ = (id) => document.getElementById(id);
  const state = { me: null, model: null, columns: [], tabs: [], loaded: {} };

  // --- small helpers -------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.firstChild.remove();
    return node;
  }

  function number(value, digits = 4) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "n/a";
  }

  function signed(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "n/a";
    const sign = value > 0 ? "+" : value < 0 ? "\u2212" : "";
    const size = Math.abs(value);
    return sign + (size === 0 || size >= 0.001 ? size.toFixed(4) : size.toExponential(1));
  }

  function shown(value) {
    if (value === null || value === undefined) return "(none)";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function figures(list, pairs) {
    clear(list);
    for (const [name, value] of pairs) list.append(el("dt", { text: name }), el("dd", { text: value }));
  }

  async function api(path, options = {}) {
    const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "" };
    let body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await fetch(path, { method: options.method || "GET", headers, body, cache: "no-store" });
    } catch (error) {
      return { ok: false, status: 0, body: { detail: `the API did not answer (${error.message})` } };
    }
    const type = response.headers.get("content-type") || "";
    let payload;
    try {
      payload = type.includes("json") ? await response.json() : await response.text();
    } catch (error) {
      payload = { detail: `unreadable answer (${error.message})` };
    }
    return { ok: response.ok, status: response.status, body: payload };
  }

  function detail(answer) {
    const text = answer.body && typeof answer.body === "object" ? answer.body.detail : answer.body;
    return `${answer.status || "no answer"}: ${shown(text)}`;
  }

  // --- the key -------------------------------------------------------------------------------------

  async function useKey(key) {
    sessionStorage.setItem(KEY, key);
    const answer = await api("v1/me");
    if (!answer.ok) {
      sessionStorage.removeItem(KEY);
      $("key-error").textContent = `This key was refused (${detail(answer)}).`;
      $("key-input").focus();
      return;
    }
    state.me = answer.body;
    $("key-error").textContent = "";
    $("key-input").value = "";
    $("key-panel").hidden = true;
    $("app").hidden = false;
    $("forget").hidden = false;
    $("who").textContent = `Key scopes: ${state.me.scopes.join(", ") || "none"}`;
    await setUpTabs();
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY);
    window.location.reload();
  }

  // --- tabs (WAI-ARIA tabs pattern: arrows, Home and End move; one tab stop) -------------------------

  async function setUpTabs() {
    const scopes = new Set(state.me.scopes);
    state.tabs = [...document.querySelectorAll('[role="tab"]')].filter((tab) => scopes.has(tab.dataset.scope));
    for (const tab of state.tabs) tab.hidden = false;
    $("no-tabs").hidden = state.tabs.length > 0;
    if (scopes.has("predict")) await loadModel();
    if (state.tabs.length) select(state.tabs[0], false);
  }

  function select(tab, focus) {
    for (const other of state.tabs) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      other.tabIndex = chosen ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !chosen;
    }
    if (focus) tab.focus();
    const name = tab.id.replace("tab-", "");
    if (!state.loaded[name] && OPENERS[name]) {
      state.loaded[name] = true;
      OPENERS[name]();
    }
  }

  function onTabKey(event) {
    const at = state.tabs.indexOf(event.target);
    if (at < 0) return;
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: state.tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = (moves[event.key] + state.tabs.length) % state.tabs.length;
    select(state.tabs[next], true);
  }

  // --- the model and its contract --------------------------------------------------------------------

  async function loadModel() {
    const answer = await api("v1/model");
    if (!answer.ok) {
      $("score-status").textContent = `The model is not available (${detail(answer)}).`;
      return;
    }
    state.model = answer.body;
    const contract = state.model.contract;
    const label = contract.label;
    state.columns = contract.columns.filter((column) => column.role !== "label" && column.name !== label);
    const row = contract.row || "record";
    $("score-heading").textContent = `Score one ${row}`;
    $("title").textContent = `${state.model.model_card?.model?.name || contract.name || "Model"}: ${row}s`;
    document.title = $("title").textContent;
    buildForm();
  }

  function randomId() {
    const bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    return `page-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  function startValue(column) {
    const contract = state.model.contract;
    const reference = state.model.metadata?.reference || {};
    if (column.name === contract.id) return randomId();
    if (column.dtype === "datetime") return new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const value = reference[column.name];
    if (value !== undefined && value !== null) return String(value);
    if (column.allowed) return column.nullable ? "" : String(column.allowed[0]);
    if (column.dtype === "string" && !column.nullable) return "example";
    return "";
  }

  function rulesOf(column) {
    const rules = [column.dtype];
    if (column.min !== undefined) rules.push(`min ${column.min}`);
    if (column.max !== undefined) rules.push(`max ${column.max}`);
    if (column.max_length !== undefined) rules.push(`at most ${column.max_length} characters`);
    if (column.dtype === "datetime") rules.push("ISO 8601, e.g. 2026-11-02T14:30:00Z");
    if (column.nullable) rules.push("may be empty");
    return rules.join("; ");
  }

  function buildForm() {
    const box = clear($("score-fields"));
    for (const column of state.columns) {
      const id = `field-${column.name}`;
      const hint = el("span", { id: `${id}-hint`, class: "hint", text: rulesOf(column) });
      const error = el("span", { id: `${id}-error`, class: "error" });
      let input;
      if (column.allowed) {
        input = el("select", { id, name: column.name });
        if (column.nullable) input.append(el("option", { value: "", text: "(none)" }));
        for (const value of column.allowed) input.append(el("option", { value: String(value), text: String(value) }));
      } else {
        const numeric = column.dtype === "float" || column.dtype === "integer";
        input = el("input", { id, name: column.name, type: "text", autocomplete: "off", spellcheck: "false" });
        if (numeric) input.setAttribute("inputmode", column.dtype === "float" ? "decimal" : "numeric");
      }
      input.value = startValue(column);
      input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
      box.append(el("div", { class: "field" }, el("label", { for: id, text: column.name }), input, hint, error));
    }
  }

  // A cell or a form value as JSON for the contract's column: numbers as numbers when they read as one;
  // anything else as typed, so the API's own rule refuses it with its own words.
  function typed(column, raw) {
    const text = raw.trim();
    if (text === "") return column.nullable || column.dtype !== "string" ? null : "";
    const numeric = column.dtype === "float" || column.dtype === "integer";
    if (numeric && text !== "" && Number.isFinite(Number(text))) return Number(text);
    return column.dtype === "string" ? raw : text;
  }

  function fieldErrors(body, path) {
    // The 422's errors whose loc starts with `path` (["record"] or ["records", i]), by field name.
    const found = [];
    for (const error of (body && body.errors) || []) {
      const loc = error.loc || [];
      if (path.every((part, i) => loc[i] === part)) {
        found.push({ field: loc.slice(path.length).join("."), rule: error.rule, message: error.message });
      }
    }
    return found;
  }

  async function score(event) {
    event.preventDefault();
    const record = {};
    for (const column of state.columns) {
      const input = $(`field-${column.name}`);
      input.removeAttribute("aria-invalid");
      $(`field-${column.name}-error`).textContent = "";
      record[column.name] = typed(column, input.value);
    }
    $("score-status").textContent = "Scoring…";
    const answer = await api("v1/predict", { method: "POST", json: { record } });
    if (!answer.ok) {
      $("score-result").hidden = true;
      showFieldErrors(answer);
      return;
    }
    const result = answer.body.results[0];
    const explained = await api("v1/explain", { method: "POST", json: { record } });
    $("score-status").textContent = `Scored: ${result.label}.`;
    const classes = state.model.classes;
    figures($("score-figures"), [
      ["Label", `${result.label} (${classes.positive} when the probability reaches the threshold, else ${classes.negative})`],
      ["Probability", number(result.probability)],
      ["Confidence", number(result.confidence)],
      ["Threshold", number(result.threshold)],
      ["Request id", result.request_id],
      ["Model version", result.model_version],
    ]);
    const chart = clear($("score-chart"));
    $("score-result").hidden = false;
    if (explained.ok) chart.append(contributionChart(explained.body.contributions, chart.clientWidth));
    else chart.append(el("p", { class: "error", text: `No explanation (${detail(explained)}).` }));
  }

  function showFieldErrors(answer) {
    const errors = answer.status === 422 ? fieldErrors(answer.body, ["record"]) : [];
    let first = null;
    const elsewhere = [];
    for (const error of errors) {
      const input = $(`field-${error.field}`);
      if (!input) {
        elsewhere.push(`${error.field || "(body)"}: ${error.message} (rule: ${error.rule})`);
        continue;
      }
      input.setAttribute("aria-invalid", "true");
      $(`field-${error.field}-error`).textContent = `${error.message} (rule: ${error.rule})`;
      first = first || input;
    }
    $("score-status").textContent = `Not scored: ${detail(answer)}${elsewhere.length ? `; ${elsewhere.join("; ")}` : ""}`;
    if (first) first.focus();
  }

  // --- the explanation as a bar chart (SVG drawn here; bars from a zero line, right pushes up) ---------

  function contributionChart(contributions, room) {
    const rows = contributions.slice(0, 12);
    const width = Math.round(Math.min(640, Math.max(300, room || 640))); // drawn at the size it is shown
    const labelWidth = Math.round(width * 0.42);
    const characters = Math.floor((labelWidth - 12) / 8); // 13 px text: about 7.5 px a character
    const rowHeight = 26;
    const half = (width - labelWidth - 70) / 2;
    const zero = labelWidth + half;
    const largest = Math.max(1e-9, ...rows.map((c) => Math.abs(c.contribution)));
    const described = rows.map((c) => `${c.feature} ${signed(c.contribution)}`);
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${rows.length * rowHeight + 10}`,
      role: "img",
      "aria-label": `Contributions: ${described.join(", ")}`,
      class: "bars",
    });
    chart.append(svg("line", { x1: zero, x2: zero, y1: 0, y2: rows.length * rowHeight + 10, class: "axis" }));
    rows.forEach((c, i) => {
      const y = i * rowHeight + 5;
      const length = (Math.abs(c.contribution) / largest) * half;
      const up = c.contribution >= 0;
      const name = `${c.feature} = ${shown(c.value)}`;
      chart.append(svg("text", { x: labelWidth - 8, y: y + 17, "text-anchor": "end", class: "name", text: name.length > characters ? `${name.slice(0, characters - 1)}\u2026` : name }));
      chart.append(svg("rect", { x: up ? zero : zero - length, y: y + 3, width: Math.max(length, 1), height: rowHeight - 8, class: up ? "up" : "down" }));
      const at = up ? zero + length + 4 : zero - length - 4;
      const text = signed(c.contribution);
      chart.append(svg("text", { x: at, y: y + 17, "text-anchor": up ? "start" : "end", class: "value", text }));
    });
    return chart;
  }

  // --- batch: CSV in, chunks of the API's batch limit, scored CSV out ------------------------------------

  function parseCsv(text) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < text.length; i += 1) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"' && field === "") quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
      else if (c !== "\r") field += c;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows.filter((cells) => !(cells.length === 1 && cells[0] === ""));
  }

  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    // A cell a spreadsheet would run as a formula is kept as text (OWASP: CSV injection).
    if (/^[=+\-@\t\r]/.test(text) && !Number.isFinite(Number(text))) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  }

  function bodyBytes(records) {
    return new TextEncoder().encode(JSON.stringify({ records })).length;
  }

  async function scoreRecords(records, outcomes, progress) {
    let size = Math.max(1, state.me.max_batch);
    let start = 0;
    const todo = records.map((record, i) => i).filter((i) => outcomes[i] === undefined);
    while (start < todo.length) {
      let chunk = todo.slice(start, start + size);
      if (chunk.length > 1 && bodyBytes(chunk.map((i) => records[i])) > state.me.max_body_bytes * 0.9) {
        size = Math.max(1, Math.floor(chunk.length / 2));
        continue;
      }
      while (chunk.length) {
        const answer = await api("v1/predict", { method: "POST", json: { records: chunk.map((i) => records[i]) } });
        if (answer.ok) {
          answer.body.results.forEach((result, k) => { outcomes[chunk[k]] = { result }; });
          break;
        }
        const bad = new Map();
        if (answer.status === 422) {
          for (const error of (answer.body && answer.body.errors) || []) {
            const [where, index, ...field] = error.loc || [];
            if (where !== "records" || typeof index !== "number") continue;
            if (!bad.has(chunk[index])) bad.set(chunk[index], []);
            bad.get(chunk[index]).push({ field: field.join("."), rule: error.rule, message: error.message });
          }
        }
        if (!bad.size) { // refused as a whole: every row of the chunk says why
          for (const i of chunk) outcomes[i] = { errors: [{ field: "", rule: `http_${answer.status}`, message: detail(answer) }] };
          break;
        }
        for (const [i, errors] of bad) outcomes[i] = { errors };
        chunk = chunk.filter((i) => !bad.has(i));
      }
      start += size;
      progress(Math.min(start, todo.length), todo.length);
    }
  }

  async function scoreFile(event) {
    event.preventDefault();
    const file = $("batch-file").files[0];
    const status = $("batch-status");
    if (!file) {
      status.textContent = "Choose a CSV file first.";
      $("batch-file").focus();
      return;
    }
    $("batch-download").hidden = true;
    const rows = parseCsv(await file.text());
    if (rows.length < 2) {
      status.textContent = "The file holds no data row (a header row, then one record a row).";
      return;
    }
    const header = rows[0].map((name) => name.trim());
    const label = state.model.contract.label;
    const byName = new Map(state.columns.map((column) => [column.name, column]));
    const records = [];
    const outcomes = [];
    rows.slice(1).forEach((cells, n) => {
      const record = {};
      header.forEach((name, i) => {
        if (name === label) return;
        const column = byName.get(name);
        record[name] = column ? typed(column, cells[i] ?? "") : cells[i];
      });
      records.push(record);
      if (cells.length !== header.length) {
        outcomes[n] = { errors: [{ field: "", rule: "csv_columns", message: `${cells.length} cells for ${header.length} columns` }] };
      }
    });
    const bar = $("batch-progress");
    bar.max = records.length;
    bar.value = 0;
    const progress = (done, total) => {
      bar.value = records.length - total + done;
      status.textContent = `${bar.value} of ${records.length} rows`;
    };
    progress(0, records.length);
    await scoreRecords(records, outcomes, progress);
    bar.value = records.length;
    const failed = outcomes.filter((outcome) => outcome.errors).length;
    status.textContent = `${records.length} rows: ${records.length - failed} scored, ${failed} refused.`;
    showBatch(header, rows.slice(1), outcomes);
  }

  function errorText(errors) {
    return errors.map((e) => `${e.field || "(row)"}: ${e.message} (rule: ${e.rule})`).join("; ");
  }

  function showBatch(header, rows, outcomes) {
    const added = ["label", "probability", "confidence", "threshold", "request_id", "error"];
    const lines = [[...header, ...added].map(csvCell).join(",")];
    rows.forEach((cells, i) => {
      const { result, errors } = outcomes[i];
      const extra = result
        ? [result.label, result.probability, result.confidence, result.threshold, result.request_id, ""]
        : ["", "", "", "", "", errorText(errors)];
      lines.push([...header.map((_, k) => cells[k] ?? ""), ...extra].map(csvCell).join(","));
    });
    const link = $("batch-download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" }));
    link.hidden = false;
    const idAt = header.indexOf(state.model.contract.id);
    const table = el("table", {}, el("caption", { text: `Scored rows (the first ${Math.min(SHOWN_ROWS, rows.length)} of ${rows.length})` }));
    table.append(el("thead", {}, el("tr", {}, ...["row", "id", "label", "probability", "errors"].map((h) => el("th", { scope: "col", text: h })))));
    const body = el("tbody");
    rows.slice(0, SHOWN_ROWS).forEach((cells, i) => {
      const { result, errors } = outcomes[i];
      body.append(el("tr", { class: result ? "" : "refused" },
        el("td", { text: String(i + 1) }),
        el("td", { text: idAt >= 0 ? cells[idAt] ?? "" : "" }),
        el("td", { text: result ? result.label : "refused" }),
        el("td", { text: result ? number(result.probability) : "" }),
        el("td", { text: result ? "" : errorText(errors) })));
    });
    table.append(body);
    const box = clear($("batch-table"));
    box.append(table);
    box.hidden = false;
  }

  // --- review --------------------------------------------------------------------------------------

  function interval(share) {
    if (!share || share.value === null || share.value === undefined) return "n/a (nothing to measure yet)";
    return `${number(share.value, 3)} [${number(share.interval[0], 3)}, ${number(share.interval[1], 3)}]`;
  }

  async function loadSummary() {
    const answer = await api("v1/review/summary");
    const box = clear($("review-summary"));
    if (!answer.ok) {
      box.append(el("p", { class: "error", text: `No summary (${detail(answer)}).` }));
      return;
    }
    const s = answer.body;
    const list = el("dl", { class: "figures" });
    figures(list, [
      ["Reviewed", `${s.reviewed} (${s.reviewed_flagged} flagged, ${s.reviewed_unflagged} not flagged)`],
      [`Precision (${Math.round(s.confidence * 100)}% interval)`, `${interval(s.precision)}${s.precision.total ? ` from ${s.precision.hits} of ${s.precision.total}` : ""}`],
      [`Recall (${Math.round(s.confidence * 100)}% interval)`, interval(s.recall)],
      ["Predictions of the served model", `${s.predictions.flagged} flagged, ${s.predictions.unflagged} not (version ${s.model_version})`],
    ]);
    box.append(list);
  }

  async function loadQueue() {
    $("review-status").textContent = "Loading…";
    const answer = await api("v1/review/queue?size=20");
    const box = clear($("review-queue"));
    if (!answer.ok) {
      $("review-status").textContent = `No queue (${detail(answer)}).`;
      return;
    }
    const { classes, id_column: idColumn, items } = answer.body;
    const mayLabel = state.me.scopes.includes("feedback");
    $("review-status").textContent = `${items.length} predictions to review${mayLabel ? "" : " (this key lacks the scope 'feedback': it may read, not label)"}.`;
    if (!items.length) return;
    const table = el("table", {}, el("caption", { text: "Predictions without a label" }));
    table.append(el("thead", {}, el("tr", {}, ...["id", "time", "probability", "model said", "why listed", "true label"].map((h) => el("th", { scope: "col", text: h })))));
    const body = el("tbody");
    for (const item of items) {
      const id = idColumn ? shown(item.inputs[idColumn]) : item.request_id;
      const cell = el("td", { class: "actions" });
      for (const name of [classes.positive, classes.negative]) {
        const button = el("button", { type: "button", "aria-label": `Mark ${id} as ${name}`, text: name });
        button.disabled = !mayLabel;
        button.addEventListener("click", () => label(item, name, cell, id));
        cell.append(button);
      }
      body.append(el("tr", { "data-request-id": item.request_id },
        el("td", { class: "id", text: id }),
        el("td", { text: item.created_at.replace("T", " ").replace(/\.\d+Z$/, "Z") }),
        el("td", { text: number(item.probability) }),
        el("td", { text: item.flagged ? classes.positive : classes.negative }),
        el("td", { text: item.why }),
        cell));
    }
    table.append(body);
    box.append(table);
  }

  async function label(item, name, cell, id) {
    for (const button of cell.querySelectorAll("button")) button.disabled = true;
    const answer = await api("v1/feedback", { method: "POST", json: { request_id: item.request_id, label: name } });
    if (!answer.ok) {
      for (const button of cell.querySelectorAll("button")) button.disabled = false;
      $("review-status").textContent = `Label for ${id} not recorded (${detail(answer)}).`;
      return;
    }
    const done = el("span", { class: "done", text: `reviewed: ${answer.body.label}` });
    const next = cell.closest("tr").nextElementSibling;
    clear(cell).append(done);
    $("review-status").textContent = `${id} labelled ${answer.body.label}.`;
    const focusable = next && next.querySelector("button:not([disabled])");
    if (focusable) focusable.focus();
    await loadSummary();
  }

  function openReview() {
    loadSummary();
    loadQueue();
  }

  // --- the model tab ------------------------------------------------------------------------------------

  function parseMetrics(text) {
    const series = [];
    for (const line of text.split("\n")) {
      const found = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!found || line.startsWith("#")) continue;
      const labels = {};
      for (const pair of (found[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
      series.push({ name: found[1], labels, value: Number(found[3]) });
    }
    return series;
  }

  function total(series, name, keep = () => true) {
    return series.filter((s) => s.name === name && keep(s.labels)).reduce((sum, s) => sum + s.value, 0);
  }

  async function openModel() {
    const m = state.model;
    if (!m) {
      $("model-status").textContent = "No model loaded.";
      return;
    }
    figures($("model-figures"), [
      ["Version", m.version],
      ["Threshold", `${number(m.threshold)} (${m.threshold_rule || "rule not recorded"})`],
      ["Model", `${m.model_kind || "?"}, calibration ${m.calibration || "?"}`],
      ["Classes", `${m.classes.positive} / ${m.classes.negative}`],
      ["Loaded at", m.loaded_at],
      ["Explanation", m.explanation_method],
    ]);
    const metrics = await api("metrics");
    if (metrics.ok && typeof metrics.body === "string") {
      const series = parseMetrics(metrics.body);
      const byLabel = [m.classes.positive, m.classes.negative].map((name) => `${total(series, "mlops_predictions_total", (l) => l.label === name)} ${name}`);
      figures($("model-live"), [
        ["Predictions", byLabel.join(", ")],
        ["HTTP requests", String(total(series, "mlops_http_requests_total"))],
        ["Error answers", `${total(series, "mlops_http_errors_total", (l) => l.kind === "client")} client, ${total(series, "mlops_http_errors_total", (l) => l.kind === "server")} server`],
        ["Model ready", total(series, "mlops_model_ready") >= 1 ? "yes" : "no"],
      ]);
    } else {
      figures($("model-live"), [["Live figures", `not available (${detail(metrics)})`]]);
    }
    const monitor = await api("v1/monitor");
    const box = clear($("model-monitor"));
    if (!monitor.ok) box.append(el("p", { class: "error", text: `Not available (${detail(monitor)}).` }));
    else if (!monitor.body.present) box.append(el("p", { text: `No report: ${monitor.body.detail}.` }));
    else {
      const r = monitor.body.report;
      const list = el("dl", { class: "figures" });
      figures(list, [
        ["Verdict", shown(r.reason)],
        ["Window", r.window ? `${r.window.start} to ${r.window.end}, ${r.window.rows} rows, ${r.window.labelled} labelled` : "n/a"],
        ["Model version", shown(r.model_version)],
        ["Written", monitor.body.modified_at],
      ]);
      box.append(list, el("ul", {}, ...(r.detectors || []).map((d) => el("li", { text: `${d.status}: ${d.detector} (${d.kind}): ${d.reason}` }))));
    }
    showCard(m.model_card);
  }

  function showCard(card) {
    const box = clear($("model-card"));
    if (!card) {
      box.append(el("p", { text: "This image carries no model card." }));
      return;
    }
    if (card.intended_use) box.append(el("h4", { text: "Intended use" }), el("p", { text: card.intended_use }));
    if (Array.isArray(card.limitations)) {
      box.append(el("h4", { text: "Limitations" }), el("ul", {}, ...card.limitations.map((l) => el("li", { text: l }))));
    }
    const model = card.metrics && card.metrics.model;
    if (model) {
      const baseline = card.metrics.baseline || {};
      const table = el("table", {}, el("caption", { text: "Test metrics" }));
      table.append(el("thead", {}, el("tr", {}, ...["metric", "model", "baseline"].map((h) => el("th", { scope: "col", text: h })))));
      table.append(el("tbody", {}, ...Object.keys(model).map((name) => el("tr", {},
        el("th", { scope: "row", text: name }), el("td", { text: number(model[name]) }), el("td", { text: number(baseline[name]) })))));
      box.append(el("h4", { text: "Metrics" }), el("div", { class: "scroll", role: "region", "aria-label": "Test metrics", tabindex: "0" }, table));
    }
    const weeks = card.data && card.data.weeks;
    if (weeks) {
      const list = el("dl", { class: "figures" });
      figures(list, Object.entries(weeks).map(([split, names]) => [split, Array.isArray(names) ? names.join(", ") : shown(names)]));
      box.append(el("h4", { text: "Data weeks" }), list);
    }
  }

  const OPENERS = { review: openReview, model: openModel };

  // --- start ---------------------------------------------------------------------------------------

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (key) useKey(key);
    else $("key-error").textContent = "Enter a key.";
  });
  $("forget").addEventListener("click", forgetKey);
  $("tabs").addEventListener("keydown", onTabKey);
  for (const tab of document.querySelectorAll('[role="tab"]')) tab.addEventListener("click", () => select(tab, false));
  $("score-form").addEventListener("submit", score);
  $("batch-form").addEventListener("submit", scoreFile);
  $("review-refresh").addEventListener("click", loadQueue);
  const kept = sessionStorage.getItem(KEY);
  if (kept) useKey(kept);
  else $("key-input").focus();
})();
