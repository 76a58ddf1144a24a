/* The Try-it panel of a project that has none of its own (serve.py passes no panel= to serving.create_app).
 * A project's panel is projects/<name>/page.js: see the contract at the top of /page/page.js. */
"use strict";

window.mlstarter.registerPanel(function (root, api) {
  root.append(
    api.el("h2", {}, "Try it"),
    api.el("p", {}, `${api.project} has no panel on this page yet. Try its API in the form at `,
      api.el("a", { href: "/docs" }, "/docs"), "."),
  );
});
