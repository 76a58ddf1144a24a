/* The "Try it" panel of credit_risk's page (http://127.0.0.1:8000/ after make serve PROJECT=credit_risk).
 *
 * The form is built from the API's own schema (GET /metadata's input_schema, the Applicant model of serve.py):
 * a select for each category, a bounded number for each integer, the example applicant filled in. Each change
 * scores the applicant again with POST /predict?explain=true and shows what moved: the decision, P(default)
 * against the model's threshold, and the attributes that pushed the score most.
 * The core page (src/mlstarter/page/page.js) documents the `api` this function gets.
 */
"use strict";

window.mlstarter.registerPanel(function (root, api) {
  const { el } = api;
  const schema = api.metadata.input_schema;
  const example = (schema.examples || [])[0] || {};
  const form = api.schemaForm(schema, example);
  // The answer: a section named by its heading; one line of it (not all of it) read out by screen readers
  const status = el("p", { class: "visually-hidden", role: "status" });
  const answerBox = el("div", {}, el("p", { class: "hint" }, "Scoring…"));
  const result = el("section", { class: "result", "aria-labelledby": "result-title" },
    el("h3", { id: "result-title" }, "The model's answer"), status, answerBox);
  const formBox = el("form", { novalidate: true, "aria-label": "Applicant" },
    form.element,
    el("div", { class: "actions" },
      el("button", { type: "submit" }, "Score"),
      el("button", { type: "button", class: "secondary", onclick: reset }, "Back to the example applicant")));

  const summary = el("p", { class: "summary-bar", "aria-hidden": "true" }); // the answer, in view on a phone
  root.append(
    el("h2", {}, "Score an applicant"),
    el("p", {}, "The example applicant is the first of the German Credit data. Change any field: the answer is " +
      "scored again, and the line under the decision says what moved."),
    el("div", { class: "try-layout" }, el("div", {}, formBox), result),
    summary,
  );

  let shown = 0; // answers shown so far: the result's data-result, which tests wait for
  let latest = 0; // the latest request sent: an older answer arriving late is dropped
  let previous = null; // {inputs, answer} of the answer on screen, to say what changed

  async function score() {
    const request = ++latest;
    const inputs = form.read();
    let answer;
    try {
      answer = await api.postJSON("/predict?explain=true", inputs);
    } catch (error) {
      if (request !== latest) return;
      api.showError(formBox, error);
      markInvalid(error.detail);
      return;
    }
    if (request !== latest) return;
    api.clearError(formBox);
    markInvalid(null);
    show(inputs, answer);
  }

  // The field each error is about (loc ["body", "age"]) gets aria-invalid, so it is outlined and announced
  function markInvalid(detail) {
    const bad = new Set((detail || []).map((item) => (item.loc || [])[1]));
    for (const [name, input] of Object.entries(form.fields)) input.setAttribute("aria-invalid", String(bad.has(name)));
  }

  function show(inputs, answer) {
    const p = answer.probability_of_default;
    const rejected = answer.decision === "reject";
    const children = [
      el("p", { class: "headline decision-" + answer.decision }, rejected ? "Reject" : "Approve"),
      el("p", {}, `P(default) ${api.format(p)}; the loan is rejected when it is at least the threshold ` +
        `${api.format(answer.threshold)}, which training chose to minimise the expected cost.`),
      api.gauge(p, answer.threshold, { title: "P(default)", high: "bad" }),
      el("p", { class: "change" }, whatMoved(inputs, answer)),
    ];
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    children.push(warnings);
    if (answer.top_features && answer.top_features.length) {
      children.push(
        el("h4", {}, "What moved the score most"),
        el("p", { class: "hint" }, "Change in log-odds of default against a typical applicant: " +
          "to the right (red) riskier, to the left (green) safer."),
        api.bars(answer.top_features.map((f) => ({ label: `${api.label(f.feature)}: ${f.value}`, value: f.effect })),
          { positive: "bad", title: "Top factors" }),
      );
    }
    children.push(el("p", { class: "hint" }, `Model ${answer.model_version}`));
    answerBox.replaceChildren(...children);
    const line = `${rejected ? "Reject" : "Approve"} · P(default) ${api.format(p)} ` +
      `(threshold ${api.format(answer.threshold)})`;
    summary.textContent = status.textContent = line;
    result.setAttribute("data-result", String(++shown));
    previous = { inputs, answer };
  }

  // "Age 67 → 30: P(default) 0.053 → 0.081 (+0.028)"
  function whatMoved(inputs, answer) {
    if (!previous) return "Change a field to see what moves.";
    const changed = Object.keys(inputs).filter((k) => inputs[k] !== previous.inputs[k]);
    if (!changed.length) return "Nothing changed since the last answer.";
    const before = previous.answer.probability_of_default, after = answer.probability_of_default;
    const fields = changed.map((k) => `${api.label(k)} ${previous.inputs[k]} → ${inputs[k]}`).join(", ");
    const delta = after - before;
    const sign = delta >= 0 ? "+" : "";
    const change = `P(default) ${api.format(before)} → ${api.format(after)} (${sign}${api.format(delta)})`;
    return `${fields}: ${change}` +
      (previous.answer.decision !== answer.decision ? `, and the decision flips to ${answer.decision}.` : ".");
  }

  function reset() {
    scoreSoon.cancel();
    for (const [name, input] of Object.entries(form.fields)) input.value = example[name];
    score();
  }

  const scoreSoon = api.debounce(score, 300); // as you type: once the typing pauses
  formBox.addEventListener("input", scoreSoon);
  formBox.addEventListener("submit", (event) => {
    event.preventDefault();
    scoreSoon.cancel();
    score();
  });
  score(); // the example applicant, at once
}, { metrics: ["test_roc_auc", "test_cost", "cv_roc_auc_mean"] });
