/* mlstarter's page: the core script, served as /page/page.js (see src/mlstarter/page.py).
 *
 * The page has two tabs. "Try it" belongs to the project: its PANEL, a script in the project's folder
 * (projects/<name>/page.js, passed to serving.create_app(panel=...) in serve.py, served as /page/panel.js).
 * "The model" is drawn here, from the page's routes (/page/run, /page/runs, /page/reports).
 *
 * ---- The panel contract ----------------------------------------------------------------------------------
 * A panel is one plain script (no modules, no build step) that registers one function:
 *
 *     window.mlstarter.registerPanel(async function (root, api) {
 *       const text = api.el("textarea", { id: "text" });
 *       root.append(api.el("label", { for: "text" }, "Text"), text);
 *       ...
 *       try {
 *         const answer = await api.postJSON("/predict", { text: text.value });   // the parsed JSON answer
 *         ...show it...
 *       } catch (error) {
 *         api.showError(root, error);     // the API's own message, in a role="alert" element
 *       }
 *     }, { metrics: ["test_roc_auc"] });  // optional: the metrics the runs table shows as columns
 *
 * The function is called once the page has loaded /metadata (and /page/run, or failed to), with:
 *   root                       the empty <div> of the Try-it tab, for the panel to fill
 *   api.project, api.runId     the served project and run
 *   api.metadata               GET /metadata's answer: input_schema is the request's JSON Schema (with its examples)
 *   api.run                    GET /page/run's answer: metrics, config, plots and examples (file names) of the
 *                              served run; a run's examples/ files are at /page/run/examples/<name>. Should
 *                              /page/run fail, the panel still runs: api.run then holds /metadata's metrics,
 *                              an empty config and no plots or examples (the page says why, at the top)
 *   api.getJSON(path)          fetch from this server -> Promise of the parsed JSON answer;
 *   api.postJSON(path, body)     on a 4xx/5xx they reject with an ApiError whose message is the API's own
 *   api.postForm(path, form)     (detail[].msg, with where: "age: Input should be less than or equal to 75");
 *                              error.status and error.detail are there too. postForm sends a FormData (files).
 *   api.showError(where, error), api.clearError(where)   one role="alert" element at the top of `where`
 *   api.showWarnings(where, warnings)                     an answer's `warnings` list, as notes (or nothing)
 *   api.el(tag, attributes, ...children)   make an element; strings are always text, never HTML
 *   api.svg(tag, attributes, ...children)  the same for SVG
 *   api.bars(items, options)   an SVG bar chart of signed values: items [{label, value}], see bars() below
 *   api.gauge(p, threshold, options)   a probability on 0..1 against a threshold, as an SVG bar
 *   api.schemaForm(schema, values)     a form for a flat JSON Schema object: {element, read(), fields}
 *   api.debounce(fn, ms) (with .cancel()), api.format(number, digits), api.label(name)
 * Every request goes to this server only (the Content-Security-Policy forbids anything else). The policy also
 * blocks style attributes: el("p", { style: "color: red" }) is refused (a console error, which fails the browser
 * tests). Use a class of page.css, or set a property from the script: node.style.backgroundColor = "...".
 * The result of a prediction goes in an element with the attribute data-result, set to a new value (a count)
 * each time a result is shown: the browser tests wait for it to change (tests/test_page.py). Announce the
 * result to screen readers with one short line in an aria-live element (not the whole result, which would
 * be read out in full on every change). Errors thrown by the panel's function are shown, not swallowed.
 * In the browser's console, window.mlstarter.api is this same api, to try: mlstarter.api.format(0.00004).
 * -----------------------------------------------------------------------------------------------------------
 */
"use strict";

(function () {
  let panel = null; // { draw, options } once panel.js has registered

  window.mlstarter = {
    registerPanel(draw, options) {
      panel = { draw, options: options || {} };
    },
  };

  // ---- Talking to the API -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, detail) {
      super(message);
      this.name = "ApiError";
      this.status = status;
      this.detail = detail;
    }
  }

  // The API's error shape (serving.Error): {"detail": [{"loc": ["body", "age"], "msg": "...", "type": "..."}]};
  // anything else (a plain-text 500, a proxy's page) is shown as the status and the start of the text
  function errorMessage(status, body, text) {
    if (body && Array.isArray(body.detail)) {
      return body.detail
        .map((item) => {
          const where = (item.loc || []).filter((part) => part !== "body" && part !== "query" && part !== "path");
          return (where.length ? where.join(".") + ": " : "") + item.msg;
        })
        .join("; ");
    }
    if (body && typeof body.detail === "string") return body.detail;
    const said = text.trim().slice(0, 300);
    if (said) return `The server answered ${status}: ${said}`;
    return `The server answered ${status}` + (status >= 500 ? ": an error on the server (see its log)" : "");
  }

  async function request(path, init) {
    let response, text;
    try {
      response = await fetch(path, { credentials: "same-origin", ...init });
      text = await response.text();
    } catch (error) {
      throw new ApiError(`Could not reach the server (${error.message}): is make serve still running?`, 0, null);
    }
    let body = null;
    if ((response.headers.get("content-type") || "").includes("json")) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null; // said to be JSON but is not: shown as text below
      }
    }
    if (!response.ok) {
      throw new ApiError(errorMessage(response.status, body, text), response.status, body && body.detail);
    }
    if (body === null) throw new ApiError(`The server's answer to ${path} is not JSON`, response.status, null);
    return body;
  }

  const api = {
    getJSON: (path) => request(path, { method: "GET" }),
    postJSON: (path, data) =>
      request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) }),
    postForm: (path, form) => request(path, { method: "POST", body: form }),
    ApiError,
  };

  // ---- Building the page ---------------------------------------------------------------------------------

  // el("p", {class: "note"}, "text", child): attributes by name; strings become text nodes, never HTML
  function el(tag, attributes, ...children) {
    return build(document.createElement(tag), attributes, children);
  }

  function svg(tag, attributes, ...children) {
    return build(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);
  }

  function build(node, attributes, children) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) { // arrays of children, nested or not, are spread
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function alertBox(where) {
    let box = where.querySelector(":scope > .error[role=alert]");
    if (!box) {
      box = el("div", { class: "error", role: "alert" });
      where.prepend(box);
    }
    return box;
  }

  function showError(where, error) {
    const box = alertBox(where);
    box.textContent = error && error.message ? error.message : String(error);
    box.hidden = false;
  }

  function clearError(where) {
    const box = where.querySelector(":scope > .error[role=alert]");
    if (box) box.remove();
  }

  // An answer's `warnings` (serving.PredictionWarning: code, field, message): one note each
  function showWarnings(where, warnings) {
    where.replaceChildren(
      ...(warnings || []).map((w) => el("p", { class: "note warn", "data-code": w.code }, "Warning: " + w.message)),
    );
  }

  // 0.123456 -> "0.123"; 12345.6 -> "12,346"; 0.00004 -> "4.0e-5": short, and never rounded to a false 0 or 1
  function format(x, digits = 3) {
    if (typeof x !== "number" || !Number.isFinite(x)) return x === null || x === undefined ? "—" : String(x);
    if (Number.isInteger(x)) return x.toLocaleString("en");
    if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en");
    if (x !== 0 && Math.abs(x) < Math.pow(10, -digits)) return x.toExponential(1);
    const text = x.toFixed(digits);
    if (x > 0 && x < 1 && Number(text) === 1) return "> " + (1 - Math.pow(10, -digits)).toFixed(digits);
    return text;
  }

  // "checking_account" -> "Checking account"
  function label(name) {
    const words = String(name).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // fn, called once the calls stop for `ms` milliseconds (as you type); .cancel() drops a call still waiting
  function debounce(fn, ms) {
    let timer = null;
    const debounced = function (...args) {
      clearTimeout(timer);
      timer = setTimeout(() => fn.apply(this, args), ms);
    };
    debounced.cancel = () => clearTimeout(timer);
    return debounced;
  }

  // ---- Charts: inline SVG, no library --------------------------------------------------------------------

  // A horizontal bar per item, its label above it: left of the zero line for negative values, right for positive.
  // items: [{label, value}]; options: {positive: "good" | "bad" (the colour of values > 0), title, unit}
  function bars(items, options = {}) {
    const width = 320, row = 38, barHeight = 14; // in SVG units, about CSS pixels in a phone-wide box
    const biggest = Math.max(1e-9, ...items.map((item) => Math.abs(item.value)));
    const zero = width / 2;
    const scale = (width / 2 - 2) / biggest; // value -> SVG units
    const height = row * items.length;
    const positive = options.positive === "bad" ? "bar-bad" : "bar-good";
    const negative = options.positive === "bad" ? "bar-good" : "bar-bad";
    const summary = items.map((item) => `${item.label}: ${format(item.value)}`).join("; ");
    const chart = svg("svg", {
      class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": (options.title ? options.title + ". " : "") + summary,
    });
    items.forEach((item, i) => {
      const y = i * row;
      const length = Math.max(1, Math.abs(item.value) * scale);
      chart.append(
        svg("text", { x: 0, y: y + 14, class: "bar-label" }, svg("title", {}, String(item.label)),
          String(item.label).length > 40 ? String(item.label).slice(0, 39) + "…" : String(item.label)),
        svg("text", { x: width, y: y + 14, "text-anchor": "end", class: "bar-value" },
          (item.value > 0 ? "+" : "") + format(item.value, 2) + (options.unit || "")),
        svg("rect", { x: item.value >= 0 ? zero : zero - length, y: y + 19, width: length, height: barHeight,
          class: item.value >= 0 ? positive : negative }),
        svg("line", { class: "axis", x1: zero, x2: zero, y1: y + 17, y2: y + row }), // zero, beside the bar only
      );
    });
    return chart;
  }

  // A probability p on 0..1 as a filled bar, and the threshold as a marked line: where the decision flips.
  // options: {title, high: "bad" | "good" (the colour when p >= threshold), thresholdLabel}
  function gauge(p, threshold, options = {}) {
    const width = 320, height = 56, left = 4, right = 4, top = 20, barHeight = 14;
    const x = (value) => left + value * (width - left - right);
    const above = threshold !== null && threshold !== undefined && p >= threshold;
    const good = (options.high === "good") === above; // p on the good side of the threshold
    const tone = good ? "bar-good" : "bar-bad";
    const chart = svg("svg", {
      class: "chart gauge", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `${options.title || "Probability"} ${format(p)}` +
        (threshold === undefined || threshold === null ? "" : `, threshold ${format(threshold)}`),
    });
    chart.append(
      svg("rect", { class: "gauge-track", x: left, y: top, width: width - left - right, height: barHeight }),
      svg("rect", { class: tone, x: left, y: top, width: Math.max(1, x(p) - left), height: barHeight }),
      svg("text", { x: left, y: top + barHeight + 16, class: "bar-value" }, "0"),
      svg("text", { x: width - right, y: top + barHeight + 16, "text-anchor": "end", class: "bar-value" }, "1"),
    );
    if (threshold !== undefined && threshold !== null) {
      const tx = x(threshold);
      chart.append(
        svg("line", { class: "threshold", x1: tx, x2: tx, y1: top - 3, y2: top + barHeight + 3 }),
        svg("text", { x: tx, y: top - 6, class: "bar-value",
          "text-anchor": tx < width * 0.2 ? "start" : tx > width * 0.8 ? "end" : "middle" },
          (options.thresholdLabel || "threshold") + " " + format(threshold)),
      );
    }
    return chart;
  }

  // ---- A form from the API's JSON Schema ------------------------------------------------------------------

  // For a flat object schema (the request model): a <select> for each enum, a bounded number input for each
  // integer or number, a text input for each string. Returns {element, read(), fields: {name: input}};
  // read() gives the values as the API takes them (an empty or unreadable number is sent as it is, so that
  // the API's own message says what is wrong).
  function schemaForm(schema, values = {}) {
    const fields = {};
    const element = el("div", { class: "fields" });
    for (const [name, property] of Object.entries(schema.properties || {})) {
      const id = "field-" + name;
      const hintId = id + "-hint";
      let input;
      if (Array.isArray(property.enum)) {
        input = el("select", { id, name, "aria-describedby": hintId },
          property.enum.map((option) => el("option", { value: option }, option)));
      } else if (property.type === "integer" || property.type === "number") {
        input = el("input", {
          id, name, type: "number", inputmode: property.type === "integer" ? "numeric" : "decimal",
          min: property.minimum, max: property.maximum, step: property.type === "integer" ? 1 : "any",
          "aria-describedby": hintId,
        });
      } else if (property.type === "string") {
        input = el("input", { id, name, type: "text", "aria-describedby": hintId, maxlength: property.maxLength });
      } else {
        continue; // lists and nested objects: the panel builds those itself
      }
      if (values[name] !== undefined) input.value = values[name];
      fields[name] = input;
      element.append(el("div", { class: "field" },
        el("label", { for: id }, property.title || label(name)),
        input,
        el("small", { id: hintId, class: "hint" }, property.description || "")));
    }
    function read() {
      const out = {};
      for (const [name, input] of Object.entries(fields)) {
        const type = schema.properties[name].type;
        const numeric = type === "integer" || type === "number";
        if (numeric && input.value.trim() !== "" && Number.isFinite(Number(input.value))) {
          out[name] = Number(input.value);
        } else if (numeric) {
          out[name] = input.value === "" ? null : input.value;
        } else {
          out[name] = input.value;
        }
      }
      return out;
    }
    return { element, read, fields };
  }

  Object.assign(api, { el, svg, showError, clearError, showWarnings, format, label, debounce, bars, gauge });
  api.schemaForm = schemaForm;

  // ---- Tabs (WAI-ARIA tabs: buttons with aria-selected; arrow keys, Home and End move between them) ------

  const tabs = () => Array.from(document.querySelectorAll("[role=tab]"));

  function select(tab, focus) {
    for (const other of tabs()) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      other.tabIndex = chosen ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
    }
    if (focus) tab.focus();
    const name = tab.getAttribute("aria-controls");
    history.replaceState(null, "", name === "try" ? location.pathname : "#" + name);
    if (name === "model") showModel();
  }

  function setUpTabs() {
    for (const tab of tabs()) {
      tab.addEventListener("click", () => select(tab, false));
      tab.addEventListener("keydown", (event) => {
        const all = tabs(), i = all.indexOf(tab);
        const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: all.length - 1 }[event.key];
        if (next === undefined) return;
        event.preventDefault();
        select(all[(next + all.length) % all.length], true);
      });
    }
  }

  // ---- The model tab ------------------------------------------------------------------------------------

  let ready = null; // the promise of start()'s loading: the model tab waits for it (it may be clicked before)
  let modelShown = false;

  async function showModel() {
    if (modelShown) return;
    modelShown = true;
    const root = document.getElementById("model-content");
    try {
      await ready;
    } catch (error) {
      notLoaded(root); // the page could not start: its message is at the top
      return;
    }
    // the served run's sections come from api.run; the runs list and the reports are drawn whatever they answer
    const [list, reports] = await Promise.allSettled([api.getJSON("/page/runs"), api.getJSON("/page/reports")]);
    try {
      const run = api.run;
      const sections = [metricsSection(run), plotsSection(run), cardSection(run), configSection(run),
        runsSection(run, list), reportsSection(run.project, reports)];
      root.replaceChildren(...sections.filter(Boolean));
    } catch (error) {
      root.replaceChildren();
      showError(root, error);
      modelShown = false; // try again on the next visit
    }
    root.removeAttribute("aria-busy");
  }

  // A <section> with its heading, named by it for screen readers
  function section(id, title, ...children) {
    return el("section", { "aria-labelledby": id }, el("h2", { id }, title), ...children);
  }

  function errorBox(error) {
    const box = el("div", {});
    showError(box, error);
    return box;
  }

  // Rendered by the server from Markdown with raw HTML off (src/mlstarter/page.py render_markdown): safe as HTML
  function markdownBlock(html, className) {
    const block = el("div", { class: "markdown " + (className || "") });
    block.innerHTML = html;
    return block;
  }

  // {"model": {"kind": "logistic"}} -> rows "model.kind | logistic"
  function flatTable(data, caption) {
    const rows = [];
    (function walk(value, prefix) {
      if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
        for (const [key, inner] of Object.entries(value)) walk(inner, prefix ? prefix + "." + key : key);
      } else if (prefix) {
        const text = typeof value === "number" ? format(value, 4) : typeof value === "string" ? value
          : JSON.stringify(value);
        rows.push(el("tr", {}, el("th", { scope: "row" }, prefix), el("td", {}, text)));
      }
    })(data, "");
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 2 }, "(empty)")));
    return el("table", { class: "keys" }, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "key"), el("th", { scope: "col" }, "value"))),
      el("tbody", {}, rows));
  }

  // The metrics the runs table shows: the panel's choice, else the first three test_* (or val_*, or any)
  function headlineNames(metrics) {
    const chosen = panel && panel.options.metrics;
    if (Array.isArray(chosen) && chosen.length) return chosen;
    const names = Object.keys(metrics).filter((k) => typeof metrics[k] === "number");
    for (const prefix of ["test_", "val_", ""]) {
      const found = names.filter((k) => k.startsWith(prefix));
      if (found.length) return found.slice(0, 3);
    }
    return [];
  }

  function metricsSection(run) {
    const evaluate = `make evaluate PROJECT=${run.project} RUN=${run.run_id}`;
    const children = (run.unreadable || []).map((problem) => el("p", { class: "note warn" }, "Unreadable: " + problem));
    if (run.headline) {
      children.push(el("p", { class: "hint" }, `The model card's section “${run.headline.title}”: the numbers ` +
        "with the baselines it states them against."), markdownBlock(run.headline.html, "headline"));
    } else if (run.card_html) {
      children.push(el("p", { class: "note" }, "The model card has no section of metrics: see the card below."));
    } else {
      children.push(el("p", { class: "note" }, `No model card yet: evaluate the run on held-out data: ${evaluate}`));
    }
    children.push(el("details", {}, el("summary", {}, "Every number in metrics.json"),
      flatTable(run.metrics, "metrics.json")));
    return section("h-metrics", "Metrics", children);
  }

  function plotsSection(run) {
    if (!run.plots.length) {
      return section("h-plots", "Plots",
        el("p", { class: "note" }, `No plots yet: make evaluate PROJECT=${run.project} RUN=${run.run_id} draws them.`));
    }
    return section("h-plots", "Plots", el("div", { class: "plots" }, run.plots.map((name) => {
      const url = "/page/run/plots/" + encodeURIComponent(name);
      return el("figure", {},
        el("a", { href: url }, el("img", { src: url, alt: "Plot: " + label(name.replace(/\.\w+$/, "")) })),
        el("figcaption", {}, name));
    })));
  }

  function cardSection(run) {
    if (!run.card_html) return null;
    return section("h-card", "Model card", el("details", {},
      el("summary", {}, "MODEL_CARD.md, as written by make evaluate"), markdownBlock(run.card_html, "card")));
  }

  function configSection(run) {
    return section("h-config", "Config and environment",
      el("details", {}, el("summary", {}, "config.json: every setting of the run"),
        flatTable(run.config, "config.json")),
      el("details", {}, el("summary", {}, "environment.json: versions, seed, data checksums, git commit"),
        flatTable(run.environment, "environment.json")));
  }

  // settled: /page/runs's answer, as Promise.allSettled gives it ({status, value} or {status, reason})
  function runsSection(run, settled) {
    const project = run.project;
    const hint = el("p", { class: "hint" }, `Serve another: make serve PROJECT=${project} RUN=<run>; make it the ` +
      `default: make promote PROJECT=${project} RUN=<run>`);
    if (settled.status === "rejected") return section("h-runs", "Runs", errorBox(settled.reason), hint);
    const table = runsTable(project, settled.value, headlineNames(run.metrics));
    return section("h-runs", "Runs", el("div", { class: "scroll" }, table), hint);
  }

  function runsTable(project, list, columns) {
    const caption = list.total > list.runs.length
      ? `The newest ${list.runs.length} of the ${list.total} complete runs of ${project}`
      : `Every complete run of ${project}, newest first`;
    const row = (r) => {
      const status = [r.served && "served", r.promoted && "promoted", r.dry_run && "dry run"].filter(Boolean);
      const classes = [r.served && "served", r.unreadable && "unreadable"].filter(Boolean);
      return el("tr", { class: classes.join(" ") || null },
        el("th", { scope: "row" }, r.run_id),
        r.unreadable
          ? el("td", { colspan: 2 + columns.length }, "Unreadable: " + r.unreadable)
          : [el("td", {}, r.created ? r.created.replace("T", " ").replace("+00:00", " UTC") : "—"),
            el("td", {}, r.kind || "—"),
            columns.map((name) => el("td", { class: "number" }, format(r.metrics[name])))],
        el("td", {}, status.join(", ")));
    };
    return el("table", { class: "runs" }, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, ["run", "created", "kind", ...columns, "status"].map((h) =>
        el("th", { scope: "col" }, h)))),
      el("tbody", {}, list.runs.map(row)));
  }

  // settled: /page/reports's answer ({explore, monitoring}: each null, {title, html, plots} or {title, unreadable})
  function reportsSection(project, settled) {
    if (settled.status === "rejected") return section("h-reports", "Reports", errorBox(settled.reason));
    const box = section("h-reports", "Reports");
    const commands = { explore: `make explore PROJECT=${project}`, monitoring: `make monitor PROJECT=${project}` };
    for (const [key, report] of Object.entries(settled.value)) {
      if (report && report.unreadable) {
        box.append(el("p", { class: "note warn" }, `${report.title}: unreadable: ${report.unreadable}`));
      } else if (report) {
        box.append(el("details", { class: "report", "data-report": key },
          el("summary", {}, report.title), markdownBlock(report.html, "report")));
      } else {
        const what = key === "explore" ? "data" : "monitoring";
        box.append(el("p", { class: "note" }, `No ${what} report yet: ${commands[key]} writes one.`));
      }
    }
    return box;
  }

  // ---- Start ---------------------------------------------------------------------------------------------

  function showPageError(error) {
    const box = document.getElementById("page-error");
    box.textContent = error && error.message ? error.message : String(error);
    box.hidden = false;
  }

  // A tab's content when the page could not start: not "Loading…" for ever, and no longer busy
  function notLoaded(root) {
    root.replaceChildren(el("p", { class: "note" }, "Nothing to show: the page could not load the served run " +
      "(the message above says why). Reload the page to try again."));
    root.removeAttribute("aria-busy");
  }

  // /metadata, which the panel needs, and /page/run, which the model tab needs (the panel may use it too):
  // without /page/run the panel still runs, with what /metadata says of the run
  async function load() {
    const [metadata, run] = await Promise.allSettled([api.getJSON("/metadata"), api.getJSON("/page/run")]);
    if (metadata.status === "rejected") throw metadata.reason;
    const m = metadata.value;
    Object.assign(api, { metadata: m, project: m.project, runId: m.run_id });
    if (run.status === "fulfilled") {
      api.run = run.value;
    } else {
      const problem = `the run's details (/page/run) did not load: ${run.reason.message}`;
      api.run = { project: m.project, run_id: m.run_id, metrics: m.metrics || {}, config: {}, environment: {},
        plots: [], examples: [], headline: null, card_html: null, unreadable: [problem] };
      showPageError(new Error("The model tab is incomplete: " + problem));
    }
    document.title = `${m.project} · mlstarter`;
    document.getElementById("title").textContent = m.project;
    const live = m.live || {};
    const since = live.since ? `, since ${String(live.since).replace("T", " ")}` : "";
    document.getElementById("subtitle").textContent =
      `Serving run ${m.run_id} (${live.chosen_by || "chosen at start-up"}${since})`;
    if (api.run.dry_run) {
      const note = document.getElementById("dry-run");
      note.textContent = "This run was trained with --dry-run, on a tiny subset: its answers and metrics mean " +
        `little. Train a real model: make train PROJECT=${m.project}`;
      note.hidden = false;
    }
  }

  async function drawPanel() {
    const root = document.getElementById("panel");
    root.replaceChildren();
    root.removeAttribute("aria-busy");
    if (!panel) {
      showError(root, new Error("The project's panel did not load (/page/panel.js): try the API at /docs"));
      return;
    }
    try {
      await panel.draw(root, api);
    } catch (error) {
      showError(root, error);
    }
  }

  function start() {
    setUpTabs();
    ready = load();
    ready.then(drawPanel, (error) => {
      showPageError(new Error(`The page could not load the served run (/metadata): ${error.message || error}`));
      document.getElementById("subtitle").textContent = "The served run did not load.";
      notLoaded(document.getElementById("panel"));
    });
    if (location.hash === "#model") select(document.getElementById("tab-model"), false);
  }

  window.mlstarter.api = api; // to try in the browser's console
  window.addEventListener("error", (event) => showPageError(event.error || event.message));
  window.addEventListener("unhandledrejection", (event) => showPageError(event.reason));
  document.addEventListener("DOMContentLoaded", start);
})();
