// Shared components: status bars, badges, error banners, notifications,
// dialogs, tabs and live ages.

import { h, replace } from './dom.js';
import { ago, formatTime, toDate } from './format.js';
import { formatJobDiff, lineKind } from './diff.js';

/** A colored status word (`running`, `failed`, `ready`, …). */
export function badge(status, extra) {
  const s = String(status || 'unknown');
  return h('span', { class: ['badge', `st-${s.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`, extra] }, s);
}

/**
 * A horizontal bar of counts: segments [[label, count, cssClass]], widths
 * proportional to the counts, with a legend underneath when `legend`.
 */
export function statusBar(segments, { legend = false, compact = false } = {}) {
  const total = segments.reduce((n, [, c]) => n + c, 0);
  const bar = h('div', {
    class: ['bar', compact && 'bar-compact'],
    role: 'img',
    'aria-label': segments.map(([l, c]) => `${l} ${c}`).join(', '),
    title: segments.filter(([, c]) => c).map(([l, c]) => `${l}: ${c}`).join(', ') || 'none',
  });
  if (!total) bar.appendChild(h('span', { class: 'seg seg-empty', style: { flexGrow: '1' } }));
  for (const [label, count, cls] of segments) {
    if (!count) continue;
    bar.appendChild(h('span', { class: ['seg', cls], style: { flexGrow: String(count) }, title: `${label}: ${count}` }));
  }
  if (!legend) return bar;
  return h('div', { class: 'bar-wrap' }, bar, h('ul', { class: 'legend' },
    segments.map(([label, count, cls]) => h('li', null, h('span', { class: ['swatch', cls] }), `${label} `, h('b', null, String(count))))));
}

/**
 * A small chart of recent samples, oldest left, as `slots` bars scaled to
 * the largest of them (the trend shows even when usage is a sliver of the
 * allocation); `label` is its accessible text.
 */
export function sparkline(values, label, slots = 40) {
  const recent = values.slice(-slots);
  const top = Math.max(...recent, 0) * 1.1 || 1;
  const bars = [];
  for (let i = recent.length; i < slots; i += 1) bars.push(h('span', { class: 'spark-empty' }));
  for (const v of recent) bars.push(h('span', { style: { height: `${Math.max(4, Math.round((v / top) * 100))}%` } }));
  return h('span', { class: 'spark', role: 'img', 'aria-label': label, title: label }, bars);
}

/** An element showing `3m12s ago` that stays current (see startAgeTicker). */
export function age(v) {
  const d = toDate(v);
  return h('time', {
    class: 'age',
    dataset: d ? { ts: String(d.getTime()) } : undefined,
    title: formatTime(v),
    datetime: d ? d.toISOString() : undefined,
  }, ago(v));
}

/** Refreshes every live age every 5 seconds (no requests involved). */
export function startAgeTicker() {
  setInterval(() => {
    if (document.hidden) return;
    const now = Date.now();
    for (const el of document.querySelectorAll('time.age[data-ts]')) {
      el.textContent = ago(Number(el.dataset.ts) * 1e6, now);
    }
  }, 5000);
}

/** An error banner with the API's text; `retry` adds a button. */
export function errorBox(err, retry) {
  if (!err) return null;
  const text = err.text !== undefined ? err.text : String(err.message || err);
  const status = err.status ? `Error ${err.status}` : 'Error';
  return h('div', { class: 'error', role: 'alert' },
    h('strong', null, status), ' ', h('span', { class: 'error-text' }, text),
    retry ? h('button', { class: 'btn btn-small', onclick: retry }, 'Retry') : null);
}

/**
 * A place for a view's live-update errors: `set(err)` shows the newest
 * one, `set(null)` clears it.
 */
export function errorSlot() {
  const el = h('div', { class: 'error-slot' });
  return {
    el,
    set(err) {
      replace(el, err ? errorBox(err) : null);
    },
  };
}

/** A transient message in the corner; errors stay until dismissed. */
export function notify(text, kind = 'info') {
  let area = document.getElementById('toasts');
  if (!area) {
    area = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(area);
  }
  const close = h('button', { class: 'toast-close', title: 'Dismiss', 'aria-label': 'Dismiss' }, '×');
  const t = h('div', { class: ['toast', `toast-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, h('span', null, text), close);
  close.addEventListener('click', () => t.remove());
  area.appendChild(t);
  if (kind !== 'error') setTimeout(() => t.remove(), 5000);
}

/**
 * A modal form. fields: [{name, label, type: 'text'|'number'|'textarea'|
 * 'checkbox'|'select'|'kv', value, options, help, required}]. `submit(values)`
 * may throw: its error is shown in the dialog, which stays open. Resolves
 * to the submit's result, or undefined when cancelled.
 */
export function formDialog({ title, intro, fields = [], submitText = 'OK', danger = false, submit }) {
  return new Promise((resolve) => {
    const inputs = {};
    const err = h('div', { class: 'error-slot' });
    const rows = fields.map((f) => {
      let input;
      if (f.type === 'textarea') {
        input = h('textarea', { name: f.name, rows: f.rows || 6, placeholder: f.placeholder, value: f.value ?? '' });
      } else if (f.type === 'checkbox') {
        input = h('input', { type: 'checkbox', name: f.name, checked: Boolean(f.value) });
      } else if (f.type === 'select') {
        input = h('select', { name: f.name }, f.options.map(([v, l]) => h('option', { value: v, selected: v === f.value }, l)));
      } else {
        input = h('input', { type: f.type || 'text', name: f.name, value: f.value ?? '', placeholder: f.placeholder, min: f.min, required: f.required });
      }
      inputs[f.name] = input;
      const label = f.type === 'checkbox'
        ? h('label', { class: 'check' }, input, ' ', f.label)
        : h('label', null, h('span', { class: 'label' }, f.label), input);
      return h('div', { class: 'field' }, label, f.help ? h('small', { class: 'help' }, f.help) : null);
    });
    const ok = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] }, submitText);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const form = h('form', { method: 'dialog' },
      h('h2', null, title), intro ? h('p', null, intro) : null, ...rows, err,
      h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { class: 'dialog' }, form);
    let result;
    const finish = () => { dlg.close(); };
    cancel.addEventListener('click', finish);
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [k, el] of Object.entries(inputs)) values[k] = el.type === 'checkbox' ? el.checked : el.value;
      ok.disabled = true;
      replace(err);
      try {
        result = submit ? await submit(values) : values;
        if (result === undefined) result = true;
        finish();
      } catch (e) {
        replace(err, errorBox(e));
      } finally {
        ok.disabled = false;
      }
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector('input,textarea,select');
    if (first) first.focus();
  });
}

/** A yes/no confirmation; `submit` runs on yes (errors stay in the dialog). */
export function confirmDialog(title, text, submitText, submit, extraFields = []) {
  return formDialog({ title, intro: text, submitText, danger: true, fields: extraFields, submit });
}

/** Tabs as links: [[label, href]], the active one marked. */
export function tabs(items, active) {
  return h('nav', { class: 'tabs' }, items.map(([label, href]) =>
    h('a', { href, class: label === active ? 'active' : null, 'aria-current': label === active ? 'page' : null }, label)));
}

/** A button; `onclick` gets the event. */
export function button(label, onclick, kind = '', extra = {}) {
  return h('button', { type: 'button', class: ['btn', kind && `btn-${kind}`], onclick, ...extra }, label);
}

/** A JobDiff rendered as the CLI prints it, lines colored by marker. */
export function diffView(diff, verbose = false) {
  const text = formatJobDiff(diff, verbose).replace(/\n+$/, '');
  return h('pre', { class: 'diff' }, text.split('\n').map((line) => h('span', { class: ['line', lineKind(line) && `d-${lineKind(line)}`] }, `${line}\n`)));
}

/** "Loading…" placeholder. */
export function loading() {
  return h('p', { class: 'muted loading' }, 'Loading…');
}
