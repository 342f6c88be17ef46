// The words the portal uses, and what each means.

import { h, replace } from "../dom.js";
import { GLOSSARY } from "../words.js";

export async function render(root) {
  replace(
    root,
    h("h1", {}, "Glossary"),
    h("p", { class: "muted" }, "The words ClassSight uses on every page, in plain terms."),
    h("dl", { class: "card glossary" }, GLOSSARY.map(([term, meaning]) => [h("dt", {}, term), h("dd", {}, meaning)])),
  );
}
