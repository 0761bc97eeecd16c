// The application shell: client-side routes under /ui/, the namespace
// switcher, the token link, and mounting one view at a time (leaving a view
// disposes of its requests).

import { h } from './lib/dom.js';
import { Scope, get, getNamespace, setNamespace, getToken } from './lib/api.js';
import { startAgeTicker } from './lib/ui.js';
import * as jobs from './views/jobs.js';
import * as job from './views/job.js';
import * as run from './views/run.js';
import * as alloc from './views/alloc.js';
import * as clients from './views/clients.js';
import * as client from './views/client.js';
import * as servers from './views/servers.js';
import * as topology from './views/topology.js';
import * as evals from './views/evals.js';
import * as settings from './views/settings.js';

// [path pattern, nav section, view]; captured segments are decoded.
const ROUTES = [
  [/^\/ui\/?$/, null, null],
  [/^\/ui\/jobs\/?$/, 'jobs', jobs],
  [/^\/ui\/jobs\/run\/?$/, 'jobs', run],
  [/^\/ui\/jobs\/([^/]+)(?:\/(allocations|versions|evaluations|definition))?\/?$/, 'jobs', job],
  [/^\/ui\/allocations\/([^/]+)\/?$/, 'jobs', alloc],
  [/^\/ui\/clients\/?$/, 'clients', clients],
  [/^\/ui\/clients\/([^/]+)\/?$/, 'clients', client],
  [/^\/ui\/servers\/?$/, 'servers', servers],
  [/^\/ui\/topology\/?$/, 'topology', topology],
  [/^\/ui\/evaluations\/?$/, 'evaluations', evals],
  [/^\/ui\/settings\/tokens\/?$/, 'settings', settings],
];

let scope = null;
const knownNamespaces = new Set(['default']);

/** Goes to an application path (`/ui/...`). */
export function navigate(href, replaceEntry = false) {
  if (replaceEntry) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render();
}

/** Rewrites the query string of the current page without re-rendering. */
function setQuery(values) {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === '' || v === null || v === undefined) params.delete(k);
    else params.set(k, v);
  }
  const s = params.toString();
  history.replaceState(null, '', location.pathname + (s ? `?${s}` : ''));
}

function markNav(section) {
  for (const a of document.querySelectorAll('[data-section]')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function decode(s) {
  if (s === undefined) return undefined;
  try { return decodeURIComponent(s); } catch { return s; }
}

function render() {
  if (scope) scope.dispose();
  scope = new Scope();
  const el = document.getElementById('view');
  el.replaceChildren();
  window.scrollTo(0, 0);
  const path = location.pathname;
  for (const [re, section, view] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    if (!view) return navigate('/ui/jobs', true);
    markNav(section);
    document.title = 'Nomad';
    view.mount({
      el,
      scope,
      args: m.slice(1).map(decode),
      params: new URLSearchParams(location.search),
      namespace: getNamespace(),
      navigate,
      setQuery,
      noteNamespaces,
      title: (t) => { document.title = `${t} · Nomad`; },
    });
    return undefined;
  }
  markNav(null);
  document.title = 'Not found · Nomad';
  el.append(h('section', { class: 'card' },
    h('h1', null, 'Page not found'),
    h('p', null, 'There is no page at ', h('code', null, path), '. ', h('a', { href: '/ui/jobs' }, 'Go to the jobs list'), '.')));
  return undefined;
}

// ---- namespace switcher ----

function noteNamespaces(list) {
  let added = false;
  for (const ns of list) {
    if (ns && !knownNamespaces.has(ns)) { knownNamespaces.add(ns); added = true; }
  }
  if (added) fillNamespaces();
}

function fillNamespaces() {
  const sel = document.getElementById('namespace');
  const current = getNamespace();
  knownNamespaces.add(current === '*' ? 'default' : current);
  const names = [...knownNamespaces].sort();
  sel.replaceChildren(
    h('option', { value: '*', selected: current === '*' }, 'All namespaces'),
    ...names.map((ns) => h('option', { value: ns, selected: ns === current }, ns)),
  );
}

async function loadNamespaces() {
  // There is no namespaces endpoint yet: the namespaces are those of the jobs.
  try {
    const stubs = await get('/v1/jobs', { namespace: '*' });
    noteNamespaces((stubs || []).map((j) => j.Namespace));
  } catch {
    // The jobs list shows the error; the switcher keeps `default`.
  }
}

function refreshTokenLink() {
  const a = document.getElementById('token-link');
  a.textContent = getToken() ? 'ACL token ✓' : 'ACL token';
  a.title = getToken() ? 'A token is set and sent as X-Nomad-Token' : 'No token set';
}

function start() {
  fillNamespaces();
  document.getElementById('namespace').addEventListener('change', (ev) => {
    setNamespace(ev.target.value);
    // A job page belongs to its namespace: switching goes back to the list.
    if (/^\/ui\/(jobs\/.+|allocations\/.+)/.test(location.pathname)) navigate('/ui/jobs');
    else render();
  });
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href.startsWith('/ui/') || href.startsWith('/ui/assets/')) return;
    ev.preventDefault();
    if (href !== location.pathname + location.search) navigate(href);
  });
  window.addEventListener('popstate', render);
  window.addEventListener('nomad-token', refreshTokenLink);
  refreshTokenLink();
  startAgeTicker();
  render();
  loadNamespaces();
}

start();
