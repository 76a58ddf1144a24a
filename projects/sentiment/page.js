/* The "Try it" panel of sentiment's page (http://127.0.0.1:8000/ after make serve PROJECT=sentiment).
 *
 * A text box scored as you type (POST /predict, once the typing pauses): the label, P(positive) against 0.5,
 * the text with the words that moved the decision most coloured by their effect (green towards positive, red
 * towards negative; effect = change in log-odds when the word is removed), and any warning, such as a text
 * with no word the model knows. For the transformer kind, the answer's `attention` is shown too: per head of
 * the last block, how much attention each token receives. A few example sentences fill the box with a click.
 * The core page (src/mlstarter/page/page.js) documents the `api` this function gets.
 */
"use strict";

window.mlstarter.registerPanel(function (root, api) {
  const { el } = api;
  const schema = api.metadata.input_schema;
  const example = ((schema.examples || [])[0] || {}).text || "";
  const maxLength = schema.properties.text.maxLength;
  const EXAMPLES = [
    example,
    "Dull, predictable and far too long.",
    "Not bad at all!",
    "A quiet, moving film with a superb cast.",
    "Καλή ταινία, αλλά πολύ μεγάλη.", // Greek: no word the model knows, so the answer comes with a warning
  ];

  const text = el("textarea", { id: "review", rows: 4, maxlength: maxLength, "aria-describedby": "review-hint" });
  text.value = example;
  // The answer: a section named by its heading; one line of it (not all of it) read out by screen readers
  const status = el("p", { class: "visually-hidden", role: "status" });
  const answerBox = el("div", {}, el("p", { class: "hint" }, "Scoring…"));
  const result = el("section", { class: "result", "aria-labelledby": "result-title" },
    el("h3", { id: "result-title" }, "The model's answer"), status, answerBox);
  const input = el("div", {},
    el("label", { for: "review" }, "Review text"),
    text,
    el("small", { id: "review-hint", class: "hint" },
      `Scored as you type, up to ${maxLength.toLocaleString("en")} characters. ` +
        "The model learned from English film reviews."),
    el("h3", { id: "examples-title" }, "Examples"),
    el("div", { class: "examples", role: "group", "aria-labelledby": "examples-title" },
      EXAMPLES.map((sentence) =>
        el("button", { type: "button", class: "secondary", onclick: () => use(sentence) }, sentence))));

  root.append(
    el("h2", {}, "Score a review"),
    el("p", {}, "Positive or negative? Type a sentence, or click an example."),
    el("div", { class: "try-layout" }, input, result),
  );

  let shown = 0; // answers shown so far: the result's data-result, which tests wait for
  let latest = 0; // the latest request sent: an older answer arriving late is dropped

  async function score() {
    const request = ++latest;
    const sent = text.value;
    let answer;
    try {
      answer = await api.postJSON("/predict", { text: sent });
    } catch (error) {
      if (request !== latest) return;
      api.showError(input, error);
      text.setAttribute("aria-invalid", "true");
      return;
    }
    if (request !== latest) return;
    api.clearError(input);
    text.setAttribute("aria-invalid", "false");
    show(sent, answer);
  }

  function show(sent, answer) {
    const p = answer.probability_positive;
    const warnings = el("div", {});
    api.showWarnings(warnings, answer.warnings);
    const name = answer.label === "positive" ? "Positive" : "Negative";
    const children = [
      el("p", { class: "headline label-" + answer.label }, name),
      el("p", {}, `P(positive) ${api.format(p)}: positive when it is at least 0.5.`),
      api.gauge(p, 0.5, { title: "P(positive)", high: "good" }),
      warnings,
      el("h4", {}, "The words that moved it most"),
      el("p", { class: "hint" }, "Green pushed towards positive, red towards negative; the stronger the colour, " +
        "the bigger the effect."),
      markedText(sent, answer.words),
    ];
    if (answer.words.length) {
      children.push(api.bars(answer.words.map((w) => ({ label: w.word, value: w.effect })),
        { positive: "good", title: "Change in log-odds of positive when the word is removed" }));
    }
    if (answer.known_word_share !== null && answer.known_word_share !== undefined) {
      const share = Math.round(answer.known_word_share * 100);
      children.push(el("p", { class: "hint" }, `${share}% of its words appeared in training.`));
    }
    if (answer.attention) children.push(...attention(answer.attention));
    children.push(el("p", { class: "hint" }, `Model ${answer.model_version}`));
    answerBox.replaceChildren(...children);
    status.textContent = `${name} · P(positive) ${api.format(p)}`;
    result.setAttribute("data-result", String(++shown));
  }

  // The text as typed, each word the answer lists wrapped in a <mark> coloured by its effect
  function markedText(sent, words) {
    const effects = new Map(words.map((w) => [w.word, w.effect]));
    const biggest = Math.max(1e-9, ...words.map((w) => Math.abs(w.effect)));
    const block = el("p", { class: "marked-text" });
    let end = 0;
    for (const match of sent.matchAll(/[\p{L}\p{N}\p{M}_']+/gu)) { // a word, as the model's tokenizer finds them
      const effect = effects.get(match[0].normalize("NFC").toLowerCase());
      if (effect === undefined) continue;
      block.append(sent.slice(end, match.index), mark(match[0], effect, biggest));
      end = match.index + match[0].length;
    }
    block.append(sent.slice(end));
    return block;
  }

  function mark(word, effect, biggest) {
    const strength = 0.15 + 0.35 * Math.abs(effect) / biggest; // light enough for dark text to stay readable
    const node = el("mark", { title: `effect ${effect > 0 ? "+" : ""}${api.format(effect, 2)}` }, word);
    node.style.backgroundColor = effect > 0 ? `rgba(23, 112, 58, ${strength})` : `rgba(179, 38, 30, ${strength})`;
    return node;
  }

  // attention = {tokens: [...], heads: [[weight per token], ...]}: one strip of tokens per head, each token
  // shaded by the share of that head's attention it receives
  function attention({ tokens, heads }) {
    const strips = heads.map((weights, h) => {
      const biggest = Math.max(1e-9, ...weights);
      return el("p", { class: "marked-text compact" },
        el("strong", {}, `Head ${h + 1}: `),
        tokens.map((token, i) => {
          const node = el("mark", { title: `${api.format(weights[i], 3)} of the head's attention` }, token);
          node.style.backgroundColor = `rgba(11, 87, 164, ${0.05 + 0.45 * weights[i] / biggest})`;
          return [node, " "];
        }));
    });
    return [
      el("h4", {}, "Attention of the last block"),
      el("p", { class: "hint" }, "Per head, how much attention each token receives (darker: more). Where the " +
        "network looked, not why it decided: the coloured words above are what moved the answer."),
      ...strips,
    ];
  }

  function use(sentence) {
    scoreSoon.cancel();
    text.value = sentence;
    score();
  }

  const scoreSoon = api.debounce(score, 300); // as you type: once the typing pauses
  text.addEventListener("input", scoreSoon);
  score(); // the example, at once
}, { metrics: ["test_accuracy", "test_roc_auc", "test_macro_f1"] });
