// Live task logs: /v1/client/fs/logs/:alloc?plain=true streamed with
// fetch() and shown as they arrive, stdout or stderr, following or not.
// One stream at a time; switching task or stream aborts the previous one.

import { h, replace } from './dom.js';
import { authHeaders, url, seg } from './api.js';

/** Bytes of history loaded when a stream starts. */
const TAIL_BYTES = 64 * 1024;
/** Characters kept in the page; older output is dropped. */
const KEEP_CHARS = 512 * 1024;

/**
 * A log panel for an allocation: `tasks` are its task names. Streams stop
 * when the view's `scope` is disposed.
 */
export function logViewer(allocId, tasks, scope) {
  let task = tasks[0] || '';
  let type = 'stdout';
  let follow = true;
  let ctrl = null;

  const out = h('pre', { class: 'logs', tabindex: '0', 'aria-live': 'off', 'aria-label': 'Task log' });
  const status = h('span', { class: 'muted log-status' });
  const taskSel = h('select', { 'aria-label': 'Task' }, tasks.map((t) => h('option', { value: t }, t)));
  const typeBtns = ['stdout', 'stderr'].map((t) => h('button', { type: 'button', class: ['btn', 'btn-small', t === type && 'active'], 'aria-pressed': String(t === type) }, t));
  const followBox = h('input', { type: 'checkbox', checked: follow });
  const restart = h('button', { type: 'button', class: 'btn btn-small' }, 'Reload');

  taskSel.addEventListener('change', () => { task = taskSel.value; start(); });
  typeBtns.forEach((b) => b.addEventListener('click', () => {
    type = b.textContent;
    typeBtns.forEach((x) => { x.classList.toggle('active', x === b); x.setAttribute('aria-pressed', String(x === b)); });
    start();
  }));
  followBox.addEventListener('change', () => { follow = followBox.checked; start(); });
  restart.addEventListener('click', () => start());
  scope.signal.addEventListener('abort', () => { if (ctrl) ctrl.abort(); });

  function atBottom() {
    return out.scrollHeight - out.scrollTop - out.clientHeight < 40;
  }

  function appendText(text) {
    if (!text) return;
    const stick = atBottom();
    out.appendChild(document.createTextNode(text));
    if (out.textContent.length > KEEP_CHARS) {
      out.textContent = out.textContent.slice(-KEEP_CHARS / 2);
    }
    if (stick) out.scrollTop = out.scrollHeight;
  }

  async function start() {
    if (ctrl) ctrl.abort();
    if (scope.disposed || !task) return;
    const mine = new AbortController();
    ctrl = mine;
    replace(out);
    status.textContent = 'connecting…';
    const q = { task, type, plain: 'true', origin: 'end', offset: TAIL_BYTES, follow: follow ? 'true' : '' };
    try {
      const resp = await fetch(url(`/v1/client/fs/logs/${seg(allocId)}`, q), { headers: authHeaders(), signal: mine.signal });
      if (!resp.ok) {
        const text = (await resp.text()).trim();
        status.textContent = '';
        out.appendChild(h('span', { class: 'log-error' }, `Error ${resp.status}: ${text || resp.statusText}`));
        return;
      }
      status.textContent = follow ? 'following' : 'loaded';
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        appendText(dec.decode(value, { stream: true }));
      }
      appendText(dec.decode());
      if (ctrl === mine) status.textContent = follow ? 'stream closed by the agent (Reload to reconnect)' : 'end of log';
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (ctrl === mine) status.textContent = `stream failed: ${e.message} (Reload to retry)`;
    }
  }

  start();
  return h('div', { class: 'log-viewer' },
    h('div', { class: 'log-controls' },
      tasks.length > 1 ? h('label', null, 'Task ', taskSel) : h('span', null, 'Task ', h('b', null, task)),
      h('span', { class: 'btn-group' }, typeBtns),
      h('label', { class: 'check' }, followBox, ' Follow'),
      restart, status),
    out);
}
