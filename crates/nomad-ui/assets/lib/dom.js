// Building DOM nodes without innerHTML: every string from the API ends up
// in a text node or an attribute, never parsed as markup.

/**
 * h('a', {href: '/ui/jobs', class: 'x', onclick: fn}, 'text', child, [more])
 * Props: `class`, `text`, `title`, `on<event>` handlers, `style` (an object,
 * applied through the CSSOM so the page's CSP allows it), `dataset` (an
 * object), booleans (`disabled`, `checked`, `selected`, `open`) and any
 * other attribute. Children: nodes, strings, numbers; null/false/undefined
 * are skipped and arrays are flattened.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) applyProps(el, props);
  append(el, children);
  return el;
}

function applyProps(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

/** Appends children (see `h`) to `el`. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link inside the application (the router intercepts the click). */
export function link(href, ...children) {
  return h('a', { href }, ...children);
}

/**
 * A table: columns are [header, cell(row) → node|string, className?];
 * `empty` is shown when there are no rows; `rowClass(row)` adds a class.
 */
export function table(columns, rows, opts = {}) {
  const head = h('thead', null, h('tr', null, columns.map(([title, , cls]) => h('th', { class: cls }, title))));
  const body = h('tbody');
  if (!rows.length) {
    body.appendChild(h('tr', null, h('td', { class: 'empty', colspan: columns.length }, opts.empty || 'Nothing to show.')));
  }
  for (const r of rows) {
    const tr = h('tr', { class: opts.rowClass ? opts.rowClass(r) : null });
    for (const [, cell, cls] of columns) tr.appendChild(h('td', { class: cls }, cell(r)));
    body.appendChild(tr);
    if (opts.after) {
      const extra = opts.after(r);
      if (extra) body.appendChild(h('tr', { class: 'detail-row' }, h('td', { colspan: columns.length }, extra)));
    }
  }
  return h('table', { class: ['table', opts.class] }, head, body);
}

/** A two-column key/value list; pairs with a null value are skipped. */
export function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined) continue;
    dl.appendChild(h('dt', null, k));
    dl.appendChild(h('dd', null, v === '' ? '—' : v));
  }
  return dl;
}

/** A titled section. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...children);
}
