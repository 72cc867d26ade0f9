// DOM helpers. Every string from the API goes into the page as text (textContent or a text
// node), never as markup: there is no innerHTML anywhere in the dashboard.

/**
 * h('tag', { class, text, on: { click }, ...attributes }, ...children)
 * Children are nodes or strings (strings become text nodes); null/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name === 'class') el.className = value;
    else if (name === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'style') for (const [k, v] of Object.entries(value)) el.style.setProperty(k, v);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of an element (by id or node) with the given children. */
export function fill(target, ...children) {
  const el = typeof target === 'string' ? document.getElementById(target) : target;
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (id) => document.getElementById(id);
