/* The "Try it" panel of time_series' page (http://127.0.0.1:8000/ after make serve PROJECT=time_series).
 *
 * Prices as CSV (the API's example, 60 days of the S&P 500, to start with; paste or upload your own), a horizon
 * slider, and POST /forecast's answer as a fan chart: the last prices sent, then the median path with its
 * interval (90% by default), drawn here in SVG. The CSV is read in the page (a header row naming the columns
 * date and price, then one line per day, oldest first): a line that is not a date and a price is named before
 * anything is sent; what only the API can judge (too few prices, gaps, dates out of order) is its own message.
 * The core page (src/mlstarter/page/page.js) documents the `api` this function gets.
 */
"use strict";

window.mlstarter.registerPanel(function (root, api) {
  const { el, svg } = api;
  const schema = api.metadata.input_schema; // ForecastRequest: horizon, history
  const serveConfig = (api.run.config && api.run.config.serve) || {};
  // the served run's own limits (its config; serve.py's document_limits writes the same into /openapi.json)
  const maxHorizon = Math.min(schema.properties.horizon.maximum, serveConfig.max_horizon || Infinity);
  const minHistory = serveConfig.min_history;
  const example = (schema.examples || []).find((e) => Array.isArray(e.history)) || { history: [] };
  const exampleCsv = ["date,price", ...example.history.map((p) => `${p.date},${p.price}`)].join("\n");
  const SHOWN_HISTORY = 60; // prices of history drawn before the forecast: about three months of trading days

  // ---- The form ------------------------------------------------------------------------------------------

  function nowrap(text) {
    const code = el("code", {}, text);
    code.style.whiteSpace = "nowrap";
    return code;
  }

  const horizon = el("input", { id: "ts-horizon", type: "range", min: 1, max: maxHorizon, step: 1,
    value: maxHorizon, "aria-describedby": "ts-horizon-hint" });
  const horizonShown = el("output", { for: "ts-horizon" }, `${maxHorizon} days`);
  horizon.style.flex = "1"; // the slider takes the row's width, its value after it
  const sliderRow = el("div", { class: "actions" }, horizon, horizonShown);
  sliderRow.style.margin = "0.25rem 0";
  const csv = el("textarea", { id: "ts-csv", rows: 8, spellcheck: "false", "aria-describedby": "ts-csv-hint" });
  csv.value = exampleCsv;
  const upload = el("input", { id: "ts-file", type: "file", accept: ".csv,text/csv,text/plain" });
  const form = el("form", { novalidate: true, "aria-label": "Prices and horizon" },
    el("div", { class: "field" },
      el("label", { for: "ts-horizon" }, "Horizon, in trading days"),
      sliderRow,
      el("small", { class: "hint", id: "ts-horizon-hint" }, `1 to ${maxHorizon} trading days ahead`)),
    el("div", { class: "field" },
      el("label", { for: "ts-csv" }, "Your daily prices, as CSV"),
      csv,
      el("small", { class: "hint", id: "ts-csv-hint" }, "A header row naming the columns date and price, then one " +
        "line a trading day, oldest first, e.g. ", nowrap("2024-01-31,4845.65"), `. At least ${minHistory || "60"} ` +
        "prices; the example is the end of 2018 for the S&P 500.")),
    el("div", { class: "field" },
      el("label", { for: "ts-file" }, "Or upload a CSV file"), upload),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, "Forecast"),
      el("button", { type: "button", class: "secondary", onclick: reset }, "Back to the example prices")));

  // The answer: a section named by its heading; one line of it (not all of it) read out by screen readers
  const status = el("p", { class: "visually-hidden", role: "status" });
  const result = el("section", { class: "result", "aria-labelledby": "ts-result-title" },
    el("h3", { id: "ts-result-title" }, "The forecast"), el("p", { class: "hint" }, "Forecasting…"));
  root.append(
    el("h2", {}, "Forecast a price path"),
    el("p", {}, "The model forecasts the daily returns of the prices you send and their volatility, and turns them " +
      "into a median price path with an interval around it. Not investment advice: a forecast of an index's " +
      "returns is close to a coin toss; the interval is the honest part."),
    el("div", { class: "try-layout" }, el("div", {}, form), result),
    status,
  );

  // ---- Reading the CSV -----------------------------------------------------------------------------------

  // "date,price\n2018-10-04,2901.61\n..." -> [{date, price}], or an Error naming the first bad line
  function parsePrices(text) {
    const lines = text.split(/\r?\n/);
    const headerAt = lines.findIndex((line) => line.trim() !== "");
    if (headerAt < 0) throw new Error("No prices: paste a header row (date,price) and one line a trading day.");
    const columns = lines[headerAt].split(",").map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase());
    const dateAt = columns.indexOf("date"), priceAt = columns.indexOf("price");
    if (dateAt < 0 || priceAt < 0) {
      throw new Error(`Line ${headerAt + 1}: the first line must be a header naming the columns date and price ` +
        `(date,price); it is "${lines[headerAt].trim().slice(0, 80)}".`);
    }
    const history = [];
    for (let i = headerAt + 1; i < lines.length; i++) {
      if (lines[i].trim() === "") continue;
      const cells = lines[i].split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
      const date = cells[dateAt], price = cells[priceAt];
      if (date === undefined || price === undefined) {
        throw new Error(`Line ${i + 1}: "${lines[i].trim().slice(0, 80)}" has no ${date === undefined ? "date" : "price"} ` +
          `column; each line needs ${columns.length} values, as the header has.`);
      }
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(date + "T00:00:00Z"))) {
        throw new Error(`Line ${i + 1}: "${date.slice(0, 40)}" is not a date written as YYYY-MM-DD (e.g. 2024-01-31).`);
      }
      const value = Number(price);
      if (price === "" || !Number.isFinite(value) || value <= 0) {
        throw new Error(`Line ${i + 1}: "${price.slice(0, 40)}" is not a price (a number above 0, with a dot for ` +
          "decimals and no thousands separator).");
      }
      history.push({ date, price: value });
    }
    if (!history.length) throw new Error("No prices after the header line: add one line a trading day (date,price).");
    return history;
  }

  // ---- Calling the API -----------------------------------------------------------------------------------

  let shown = 0; // answers shown so far: the result's data-result, which tests wait for
  let latest = 0; // the latest request sent: an older answer arriving late is dropped

  async function forecast() {
    const request = ++latest;
    let history;
    try {
      history = parsePrices(csv.value);
    } catch (error) {
      csv.setAttribute("aria-invalid", "true");
      api.showError(form, error); // said in the page: nothing is sent
      return;
    }
    const body = { horizon: Number(horizon.value), history };
    let answer;
    try {
      answer = await api.postJSON("/forecast", body);
    } catch (error) {
      if (request !== latest) return;
      csv.setAttribute("aria-invalid", String(/history/.test(error.message)));
      api.showError(form, error);
      return;
    }
    if (request !== latest) return;
    csv.setAttribute("aria-invalid", "false");
    api.clearError(form);
    show(history, answer);
  }

  function show(history, answer) {
    const end = answer.path[answer.path.length - 1];
    const level = `${Math.round(100 * answer.interval)}%`;
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    result.replaceChildren(
      el("h3", { id: "ts-result-title" }, "The forecast"),
      el("p", { class: "headline" }, `${price(end.median_price)} on ${end.date}`),
      el("p", {}, `The median price in ${end.day} trading day${end.day === 1 ? "" : "s"}, from ` +
        `${price(answer.last_price)} on ${answer.last_date}; the ${level} interval runs from ${price(end.lower)} to ` +
        `${price(end.upper)}. Tomorrow's volatility: ${api.format(answer.annualised_volatility_pct, 1)}% a year.`),
      fanChart(history.slice(-SHOWN_HISTORY), answer),
      warnings,
      el("details", {}, el("summary", {}, "Every day of the path"), pathTable(answer, level)),
      el("p", { class: "hint" }, `Returns: ${answer.returns_model}; volatility: ${answer.volatility_model}; ` +
        `model ${answer.model_version}. Dates are business days (exchange holidays are not skipped).`),
    );
    status.textContent = `Median ${price(end.median_price)} on ${end.date}, ${level} interval ` +
      `${price(end.lower)} to ${price(end.upper)}`;
    result.setAttribute("data-result", String(++shown));
  }

  function price(x) {
    return Math.abs(x) >= 1000 ? api.format(x) : api.format(x, Math.abs(x) >= 1 ? 2 : 4);
  }

  function pathTable(answer, level) {
    return el("table", {},
      el("caption", {}, `Median and ${level} interval, day by day`),
      el("thead", {}, el("tr", {}, ["day", "date", "median", "lower", "upper"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, answer.path.map((s) => el("tr", {},
        el("td", { class: "number" }, String(s.day)), el("td", {}, s.date),
        [s.median_price, s.lower, s.upper].map((v) => el("td", { class: "number" }, price(v)))))));
  }

  // ---- The fan chart: prices sent, then the median path inside its interval ---------------------------

  // Round ticks over [low, high]: a step of 1, 2 or 5 times a power of ten, the one giving closest to `count` ticks
  function ticks(low, high, count) {
    const power = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
    const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50].map((m) => m * power);
    const step = steps.reduce((best, s) =>
      Math.abs((high - low) / s - count) < Math.abs((high - low) / best - count) ? s : best);
    const out = [];
    for (let k = Math.ceil(low / step); k * step <= high; k++) out.push(k * step);
    return out;
  }

  function fanChart(history, answer) {
    const width = 420, height = 250, left = 58, right = 12, top = 26, bottom = 40;
    const n = history.length, steps = answer.path;
    // x: one slot a trading day, the prices sent first; the path starts from the last price sent
    const slots = n + steps.length;
    const x = (i) => left + (i / Math.max(1, slots - 1)) * (width - left - right);
    const values = [...history.map((p) => p.price), ...steps.flatMap((s) => [s.lower, s.upper])];
    let low = Math.min(...values), high = Math.max(...values);
    const margin = (high - low || high * 0.01) * 0.06;
    low -= margin; high += margin;
    const y = (v) => top + (1 - (v - low) / (high - low)) * (height - top - bottom);
    const point = (i, v) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`;

    const end = steps[steps.length - 1];
    const level = `${Math.round(100 * answer.interval)}%`;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Fan chart: ${n} prices from ${history[0].date} to ${answer.last_date}, then the median forecast ` +
        `to ${price(end.median_price)} on ${end.date} with its ${level} interval, ${price(end.lower)} to ${price(end.upper)}.` });
    chart.style.maxWidth = "40rem";

    // the price axis: round prices, with light grid lines
    for (const v of ticks(low, high, 4)) {
      chart.append(
        svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#d8dbe0", "stroke-width": 1 }),
        svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, price(v)));
    }
    // the date axis, one slot a trading day: the first price sent and the last (where the forecast starts) on the
    // first row, the path's end on the second (a short path's end is too close to the last price's for one row)
    const last = n - 1;
    const dates = [[0, history[0].date, "start", 16], [last, answer.last_date, "end", 16],
      [slots - 1, "forecast to " + end.date, "end", 32]];
    for (const [i, date, anchor, below] of dates) {
      chart.append(
        svg("line", { x1: x(i), x2: x(i), y1: height - bottom, y2: height - bottom + 4 + below - 16, stroke: "currentColor" }),
        svg("text", { x: x(i), y: height - bottom + below, "text-anchor": anchor }, date));
    }
    chart.append(
      svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }),
      svg("line", { x1: x(last), x2: x(last), y1: top, y2: height - bottom, stroke: "#767676", "stroke-dasharray": "2 3" }),
      svg("text", { x: left, y: 14 }, "Price"),
    );

    // the interval: a band from the last price sent (no spread yet) out to the path's end
    const upper = [point(last, answer.last_price), ...steps.map((s, k) => point(last + k + 1, s.upper))];
    const lower = [point(last, answer.last_price), ...steps.map((s, k) => point(last + k + 1, s.lower))].reverse();
    chart.append(
      svg("polygon", { points: [...upper, ...lower].join(" "), fill: "#0b57a4", "fill-opacity": 0.18, stroke: "none" },
        svg("title", {}, `${level} interval`)),
      svg("polyline", { points: history.map((p, i) => point(i, p.price)).join(" "), fill: "none",
        stroke: "#1b1b1b", "stroke-width": 1.5 }, svg("title", {}, "Prices sent")),
      svg("polyline", { points: [point(last, answer.last_price), ...steps.map((s, k) => point(last + k + 1, s.median_price))].join(" "),
        fill: "none", stroke: "#0b57a4", "stroke-width": 2, "stroke-dasharray": "5 3" }, svg("title", {}, "Median forecast")),
    );
    // a legend along the top
    const legend = [[108, "#1b1b1b", "prices sent", null], [214, "#0b57a4", "median", "5 3"]]; // x: after "Price"
    for (const [lx, colour, text, dash] of legend) {
      chart.append(svg("line", { x1: lx, x2: lx + 22, y1: 10, y2: 10, stroke: colour, "stroke-width": 2,
        "stroke-dasharray": dash }), svg("text", { x: lx + 26, y: 14 }, text));
    }
    chart.append(svg("rect", { x: 295, y: 4, width: 22, height: 12, fill: "#0b57a4", "fill-opacity": 0.18 }),
      svg("text", { x: 321, y: 14 }, `${level} interval`));
    return chart;
  }

  // ---- Events --------------------------------------------------------------------------------------------

  function reset() {
    forecastSoon.cancel();
    csv.value = exampleCsv;
    upload.value = "";
    forecast();
  }

  const forecastSoon = api.debounce(forecast, 250); // as the slider moves: once it pauses
  horizon.addEventListener("input", () => {
    horizonShown.textContent = `${horizon.value} day${horizon.value === "1" ? "" : "s"}`;
    forecastSoon();
  });
  upload.addEventListener("change", async () => {
    if (!upload.files.length) return;
    try {
      csv.value = await upload.files[0].text();
    } catch (error) {
      api.showError(form, new Error(`The file could not be read (${error.message}).`));
      return;
    }
    forecastSoon.cancel();
    forecast();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forecastSoon.cancel();
    forecast();
  });
  forecast(); // the example's prices, at once
}, { metrics: ["test_served_interval_coverage", "test_served_coverage_error", "test_served_qlike"] });
