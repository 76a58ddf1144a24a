/* The "Try it" panel of gan's page (http://127.0.0.1:8000/ after make serve PROJECT=gan).
 *
 * Two forms. "New images": a class, a seed and a count -> GET /generate, the images as a grid.
 * "A walk between two seeds": GET /walk, the images on the way from one seed's noise vector to another's,
 * one class all the way, as a strip: its first image is the first seed's (the one /generate draws with n=1),
 * its last the second seed's. Both ask for format=json and paint the pixels (uint8, (n, H, W) or (n, H, W, 3))
 * on a <canvas>: one request gives the images and the warnings' messages (a PNG carries only their codes).
 * The classes the served model draws come from /openapi.json (serve.py's document_limits writes them there).
 * The core page (src/mlstarter/page/page.js) documents the `api` this function gets.
 */
"use strict";

window.mlstarter.registerPanel(async function (root, api) {
  const { el } = api;
  const query = api.metadata.input_schema.properties; // GenerateQuery: n, seed, class, format, scale
  const SEED_MAX = query.seed.maximum;

  // The served model's classes: 0 to the maximum /openapi.json states, or none (an unconditional model)
  const openapi = await api.getJSON("/openapi.json");
  const classParameter = openapi.paths["/generate"].get.parameters.find((p) => p.name === "class");
  const topClass = classParameter ? classParameter.schema.anyOf.find((o) => o.type === "integer").maximum : null;
  const classes = topClass === null ? [] : Array.from({ length: topClass + 1 }, (_, c) => c);
  const walkSchema = openapi.paths["/walk"].get.parameters.find((p) => p.name === "steps").schema;

  // ---- The forms ------------------------------------------------------------------------------------------

  function field(id, text, input, hint) {
    return el("div", { class: "field" }, el("label", { for: id }, text), input,
      hint ? el("small", { class: "hint", id: id + "-hint" }, hint) : null);
  }
  function numberInput(id, value, min, max) {
    return el("input", { id, type: "number", inputmode: "numeric", min, max, step: 1, value,
      "aria-describedby": id + "-hint" });
  }
  function classSelect(id, withEveryClass) {
    const options = classes.map((c) => el("option", { value: String(c) }, String(c)));
    if (withEveryClass) options.unshift(el("option", { value: "" }, "every class in turn"));
    return el("select", { id, "aria-describedby": id + "-hint" }, options);
  }
  const randomSeed = () => String(Math.floor(Math.random() * (SEED_MAX + 1)));

  const gridClass = classSelect("gan-class", true);
  const seed = numberInput("gan-seed", 0, 0, SEED_MAX);
  const count = numberInput("gan-count", 16, query.n.minimum, query.n.maximum);
  const gridForm = el("form", { novalidate: true, "aria-labelledby": "gan-grid-title" },
    el("h3", { id: "gan-grid-title" }, "New images"),
    el("div", { class: "fields" },
      classes.length ? field("gan-class", "Class", gridClass, "The digit (class) to draw, or every class in turn")
        : el("p", { class: "note" }, "This model is unconditional: it draws whatever it likes, no class can be asked for."),
      field("gan-seed", "Seed", seed, `0 to ${api.format(SEED_MAX)}: the same seed gives the same images`),
      field("gan-count", "How many", count, `${query.n.minimum} to ${query.n.maximum} images`)),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, "Generate"),
      el("button", { type: "button", class: "secondary", onclick: () => { seed.value = randomSeed(); drawGrid(); } },
        "Another seed")));

  const fromSeed = numberInput("gan-from", 0, 0, SEED_MAX);
  const toSeed = numberInput("gan-to", 1, 0, SEED_MAX);
  const steps = numberInput("gan-steps", 8, walkSchema.minimum, walkSchema.maximum);
  const walkClass = classSelect("gan-walk-class", false);
  const walkForm = el("form", { novalidate: true, "aria-labelledby": "gan-walk-title" },
    el("h3", { id: "gan-walk-title" }, "A walk between two seeds"),
    el("p", { class: "hint" }, "Each seed is a point in the generator's latent space (its noise vector). The walk " +
      "draws the images on the great circle from one to the other: the first image is the first seed's, the last " +
      "the second's, and the ones between show how the generator morphs one into the other."),
    el("div", { class: "fields" },
      field("gan-from", "From seed", fromSeed, "The first image: /generate's image of this seed (n=1)"),
      field("gan-to", "To seed", toSeed, "The last image"),
      field("gan-steps", "Steps", steps, `${walkSchema.minimum} to ${walkSchema.maximum} images, both ends included`),
      classes.length ? field("gan-walk-class", "Class of the walk", walkClass, "One class all the way") : null),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, "Walk"),
      el("button", { type: "button", class: "secondary", onclick: () => {
        fromSeed.value = randomSeed(); toSeed.value = randomSeed(); drawWalk();
      } }, "Two other seeds")));

  // Each form with its answer beside it (below it on a phone); data-result on the two together
  const gridBox = el("figure", {}, el("p", { class: "hint" }, "Drawing…"));
  const walkBox = el("figure", {}, el("p", { class: "hint" }, "Drawing…"));
  const answerBox = (id, title, figure) => el("section", { class: "result", "aria-labelledby": id },
    el("h3", { id }, title), figure);
  const result = el("div", {},
    el("div", { class: "try-layout" }, gridForm, answerBox("gan-grid-answer", "The images", gridBox)),
    el("div", { class: "try-layout" }, walkForm, answerBox("gan-walk-answer", "The walk", walkBox)));
  root.append(
    el("h2", {}, "Draw digits from noise"),
    el("p", {}, "The generator turns a vector of random numbers (the noise of a seed) into an image. Pick a seed and " +
      "a class for new images, or two seeds to see the images on the way from one to the other."),
    result,
  );

  // ---- Drawing pixels ------------------------------------------------------------------------------------

  // images (n, H, W) or (n, H, W, 3) of 0-255 -> a <canvas>, `columns` images a row, one dark pixel between
  // them (as serve.py's PNG grid), shown `scale` CSS pixels per image pixel, crisp (no smoothing)
  function paint(images, columns, label) {
    const h = images[0].length, w = images[0][0].length, pad = 1;
    const rows = Math.ceil(images.length / columns);
    const canvas = el("canvas", { role: "img", "aria-label": label,
      width: columns * (w + pad) + pad, height: rows * (h + pad) + pad });
    const context = canvas.getContext("2d");
    const picture = context.createImageData(canvas.width, canvas.height);
    for (let i = 3; i < picture.data.length; i += 4) picture.data[i] = 255; // opaque black: the padding
    images.forEach((image, k) => {
      const top = pad + Math.floor(k / columns) * (h + pad), left = pad + (k % columns) * (w + pad);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const value = image[y][x]; // a number (grayscale) or [r, g, b]
          const at = 4 * ((top + y) * canvas.width + left + x);
          const [r, g, b] = Array.isArray(value) ? value : [value, value, value];
          picture.data[at] = r; picture.data[at + 1] = g; picture.data[at + 2] = b;
        }
      }
    });
    context.putImageData(picture, 0, 0);
    const scale = Math.max(1, Math.floor(64 / w)); // 8 for 8x8 digits, 2 for 28x28: as the API's PNG
    canvas.style.width = "100%";
    canvas.style.maxWidth = canvas.width * scale + "px";
    canvas.style.imageRendering = "pixelated";
    canvas.style.display = "block";
    return canvas;
  }

  // ---- Calling the API -----------------------------------------------------------------------------------

  let shown = 0; // results shown so far (grids and walks): data-result, which tests wait for
  const latest = { grid: 0, walk: 0 }; // the latest request of each form: an older answer arriving late is dropped

  async function ask(kind, form, path) {
    const request = ++latest[kind];
    try {
      const answer = await api.getJSON(path);
      if (request !== latest[kind]) return null;
      api.clearError(form);
      return answer;
    } catch (error) {
      if (request === latest[kind]) api.showError(form, error);
      return null;
    }
  }

  function showResult() {
    result.setAttribute("data-result", String(++shown));
  }

  async function drawGrid() {
    const params = new URLSearchParams({ n: count.value, seed: seed.value, format: "json" });
    if (classes.length && gridClass.value !== "") params.set("class", gridClass.value);
    const answer = await ask("grid", gridForm, "/generate?" + params);
    if (!answer) return;
    const n = answer.images.length;
    const everyClass = classes.length && gridClass.value === "" && n > classes.length;
    const columns = everyClass ? classes.length : Math.ceil(Math.sqrt(n));
    const what = answer.classes === null ? "" : gridClass.value === "" ? ", every class in turn" : `, class ${gridClass.value}`;
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    gridBox.replaceChildren(
      paint(answer.images, columns, `${n} generated images from seed ${answer.seed}${what}`),
      el("figcaption", {}, `${n} image${n === 1 ? "" : "s"} from seed ${answer.seed}${what}` +
        (everyClass ? ": one class a column, 0 on the left." : ".")),
      warnings);
    showResult();
  }

  async function drawWalk() {
    const params = new URLSearchParams({ from_seed: fromSeed.value, to_seed: toSeed.value, steps: steps.value,
      format: "json" });
    if (classes.length) params.set("class", walkClass.value);
    const answer = await ask("walk", walkForm, "/walk?" + params);
    if (!answer) return;
    const n = answer.images.length;
    const what = answer.classes === null ? "" : `, class ${answer.classes[0]}`;
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    walkBox.replaceChildren(
      paint(answer.images, n, `A walk of ${n} images from seed ${answer.from_seed} to seed ${answer.to_seed}${what}`),
      el("figcaption", {}, `Seed ${answer.from_seed} (left) to seed ${answer.to_seed} (right) in ${n} steps${what}: ` +
        `t = ${answer.t.map((t) => api.format(t, 2)).join(", ")} of the way.`),
      warnings);
    showResult();
  }

  gridForm.addEventListener("submit", (event) => { event.preventDefault(); drawGrid(); });
  walkForm.addEventListener("submit", (event) => { event.preventDefault(); drawWalk(); });
  await drawGrid(); // the first seed's images at once, then a walk
  await drawWalk();
}, { metrics: ["test_fd_ratio", "test_class_accuracy", "test_precision"] });
