// DOM shorthands shared by the page's modules: an element by id, a new element, a 16×16 line icon.

/** @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node|string)[]} [children]
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/**
 * A stroked line icon in a 16×16 box, built node by node: the page's CSP (Trusted Types) allows no HTML
 * parsing from strings.
 * @param {string} d the path's outline
 */
export function svg(d) {
  const node = document.createElementNS(SVG, "svg");
  node.setAttribute("viewBox", "0 0 16 16");
  node.setAttribute("aria-hidden", "true");
  node.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  for (const [k, v] of Object.entries({
    d,
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "1.5",
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
  }))
    path.setAttribute(k, v);
  node.append(path);
  return node;
}
