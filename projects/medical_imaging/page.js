/* The "Try it" panel of medical_imaging's page (http://127.0.0.1:8000/ after make serve PROJECT=medical_imaging).
 *
 * Pick a chest X-ray (or drop one on the page), or click one of the test X-rays that make evaluate saved with
 * the run (the run's examples/ folder, GET /page/run/examples/<name>): it is sent to POST /predict?gradcam=true
 * as a multipart form, and the answer shows P(pneumonia) against the run's threshold, what that threshold means
 * on the test set (the run's sensitivity and specificity there), the Grad-CAM heatmap beside the image as the
 * model saw it, and the API's warnings (out of distribution, converted, resized).
 * The core page (src/mlstarter/page/page.js) documents the `api` this function gets.
 */
"use strict";

window.mlstarter.registerPanel(function (root, api) {
  const { el } = api;
  const metrics = api.run.metrics || {};

  // ---- Choosing an image: a file input (with its label), a drop zone around it, the run's examples --------

  const input = el("input", { id: "xray-file", type: "file", accept: "image/png,image/jpeg",
    "aria-describedby": "xray-file-hint" });
  const preview = el("figure", { hidden: true });
  const drop = el("div", { class: "note" },
    el("label", { for: "xray-file" }, "Choose a chest X-ray (PNG or JPEG)"),
    el("div", {}, input),
    el("small", { class: "hint", id: "xray-file-hint" }, "or drop an image file anywhere in this box. It is sent to " +
      "this server only, converted to grayscale and shrunk to the training size; it is not kept."));
  const BORDER = "#767676", DRAGGED_OVER = "#0b57a4"; // the page's input border and accent colours (page.css)
  Object.assign(drop.style, { border: `2px dashed ${BORDER}`, padding: "1rem" });

  const examples = (api.run.examples || []).filter((name) => /\.(png|jpe?g)$/i.test(name));
  const exampleRow = el("div", { class: "examples" }, examples.map((name) => {
    const title = name.replace(/\.\w+$/, "").replace(/^xray-/, "").replace(/-(\d+)$/, " $1"); // "pneumonia 1"
    const thumbnail = el("img", { src: "/page/run/examples/" + encodeURIComponent(name), alt: "", width: 56, height: 56 });
    thumbnail.style.imageRendering = "pixelated";
    thumbnail.style.display = "block";
    return el("button", { type: "button", class: "secondary", "aria-label": `Example X-ray: ${title}`,
      onclick: () => sendExample(name) }, thumbnail, title);
  }));

  const chooser = el("div", {},
    drop,
    preview,
    el("h3", {}, "Or click an example"),
    examples.length
      ? el("p", { class: "hint" }, "X-rays of the test split, which the model never trained on, named for their true " +
        "label: is the model's answer the same?")
      : el("p", { class: "note" }, `No example X-rays in this run: make evaluate PROJECT=${api.project} RUN=${api.runId} ` +
        "saves a few from the test split."),
    exampleRow);

  // The answer: a section named by its heading; one line of it (not all of it) read out by screen readers
  const status = el("p", { class: "visually-hidden", role: "status" });
  const result = el("section", { class: "result", "aria-labelledby": "xray-result-title" },
    el("h3", { id: "xray-result-title" }, "The model's answer"),
    el("p", { class: "hint" }, examples.length ? "Reading the first example…" : "Choose an X-ray to see its answer."));

  root.append(
    el("h2", {}, "Pneumonia in a chest X-ray"),
    el("p", { class: "note warn" }, "A teaching model, not a medical device: its answer must never inform the care of " +
      "a patient."),
    el("p", {}, "The model reads a pediatric chest X-ray at 28x28 pixels and gives the probability of pneumonia. " +
      "The heatmap shows where in the image the evidence for pneumonia was strongest."),
    el("div", { class: "try-layout" }, chooser, result),
    status,
  );

  // ---- Sending it ----------------------------------------------------------------------------------------

  let shown = 0; // answers shown so far: the result's data-result, which tests wait for
  let latest = 0; // the latest request sent: an older answer arriving late is dropped
  let previewUrl = null;

  function showPreview(file, name) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    const image = el("img", { src: previewUrl, alt: `The image sent: ${name}` });
    image.style.maxWidth = "8rem";
    image.style.imageRendering = "pixelated";
    image.style.width = "100%";
    preview.replaceChildren(image, el("figcaption", {}, `Sent: ${name}`));
    preview.hidden = false;
  }

  async function send(file, name) {
    const request = ++latest;
    showPreview(file, name);
    const form = new FormData();
    form.append("file", file, name);
    let answer;
    try {
      answer = await api.postForm("/predict?gradcam=true", form);
    } catch (error) {
      if (request !== latest) return;
      api.showError(chooser, error); // e.g. a file that is not an image: the API's 415 and its message
      return;
    }
    if (request !== latest) return;
    api.clearError(chooser);
    show(answer, name);
  }

  async function sendExample(name) {
    let file;
    try {
      const response = await fetch("/page/run/examples/" + encodeURIComponent(name));
      if (!response.ok) throw new Error(`The example ${name} could not be loaded (the server answered ${response.status})`);
      file = new File([await response.blob()], name, { type: response.headers.get("content-type") || "image/png" });
    } catch (error) {
      api.showError(chooser, error);
      return;
    }
    await send(file, name);
  }

  function percent(x) {
    return typeof x === "number" ? `${Math.round(100 * x)}%` : "—";
  }

  // What the threshold means, from the run's test metrics (make evaluate writes them)
  function thresholdInWords(threshold) {
    const sensitivity = metrics.test_screening_sensitivity, specificity = metrics.test_screening_specificity;
    if (typeof sensitivity !== "number" || typeof specificity !== "number") {
      return `Evaluate the run (make evaluate PROJECT=${api.project} RUN=${api.runId}) to see how often this ` +
        "threshold is right on the test X-rays.";
    }
    return `At this threshold, the model found ${percent(sensitivity)} of pneumonia cases and cleared ` +
      `${percent(specificity)} of normal X-rays in the test set (sensitivity ${api.format(sensitivity)}, ` +
      `specificity ${api.format(specificity)}). A lower threshold would find more cases and raise more false alarms.`;
  }

  function show(answer, name) {
    const pneumonia = answer.label === "pneumonia";
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    const children = [
      el("h3", { id: "xray-result-title" }, "The model's answer"),
      el("p", { class: "hint" }, name),
      // red for pneumonia, green for normal (the page's colours for a bad and a good outcome)
      el("p", { class: "headline " + (pneumonia ? "decision-reject" : "decision-approve") },
        pneumonia ? "Pneumonia" : "Normal"),
      el("p", {}, `P(pneumonia) ${api.format(answer.probability_pneumonia)}: called pneumonia at or above the ` +
        `threshold ${api.format(answer.threshold)}, which training chose on validation X-rays.`),
      api.gauge(answer.probability_pneumonia, answer.threshold, { title: "P(pneumonia)", high: "bad" }),
      el("p", {}, thresholdInWords(answer.threshold)),
      warnings,
    ];
    if (answer.gradcam_png) {
      const heatmap = el("img", { src: "data:image/png;base64," + answer.gradcam_png,
        alt: "The X-ray as the model saw it, beside its Grad-CAM heatmap of evidence for pneumonia" });
      heatmap.style.maxWidth = "100%";
      children.push(el("figure", {}, heatmap, el("figcaption", {}, "Left: the image as the model saw it " +
        "(grayscale, at the training size). Right: Grad-CAM, where the " +
        "evidence for pneumonia was strongest (red), scaled to this image's own peak. Evidence on the lungs is what " +
        "we hope for; on the border or a text marker, a shortcut.")));
    }
    children.push(el("p", { class: "hint" }, `Out-of-distribution score ${api.format(answer.ood_score, 1)} (a warning ` +
      `above ${api.format(answer.ood_threshold, 1)}) · image ${answer.image_size.join("x")} · model ${answer.model_version}`));
    result.replaceChildren(...children);
    status.textContent = `${name}: ${answer.label}, P(pneumonia) ${api.format(answer.probability_pneumonia, 2)}`;
    result.setAttribute("data-result", String(++shown));
  }

  // ---- Events --------------------------------------------------------------------------------------------

  input.addEventListener("change", () => {
    if (input.files.length) send(input.files[0], input.files[0].name);
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault(); // without it the browser opens the dropped file instead
    drop.style.borderColor = DRAGGED_OVER;
  });
  drop.addEventListener("dragleave", () => { drop.style.borderColor = BORDER; });
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.style.borderColor = BORDER;
    const file = event.dataTransfer.files[0];
    if (file) send(file, file.name);
  });

  const first = examples.find((name) => name.includes("pneumonia")) || examples[0];
  if (first) sendExample(first); // an answer at once
}, { metrics: ["test_roc_auc", "test_screening_sensitivity", "test_screening_specificity"] });
