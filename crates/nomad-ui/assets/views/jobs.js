// The jobs list: one blocking query on /v1/jobs (jobs and their
// summaries); filters and the prefix search work on the loaded list.

import { h, replace, table, link } from '../lib/dom.js';
import { seg } from '../lib/api.js';
import { badge, statusBar, errorSlot, age, loading } from '../lib/ui.js';
import { ALLOC_STATES, CHILD_STATES, summaryTotals, isParent, jobType } from '../lib/format.js';

const TYPES = ['service', 'batch', 'system', 'sysbatch'];
const STATUSES = ['pending', 'running', 'dead'];

/** The link to a job's page (with its namespace unless `default`). */
export function jobHref(id, namespace, tab) {
  const base = `/ui/jobs/${seg(id)}${tab ? `/${tab}` : ''}`;
  return namespace && namespace !== 'default' ? `${base}?namespace=${encodeURIComponent(namespace)}` : base;
}

/** The allocation-state bar of a job stub (children for periodic and parameterized parents). */
export function jobBar(stub, opts) {
  const s = stub.JobSummary || {};
  if (isParent(stub)) {
    const c = s.Children || {};
    return statusBar(CHILD_STATES.map((k) => [`${k} children`, c[k] || 0, `c-${k.toLowerCase()}`]), opts);
  }
  const t = summaryTotals(s);
  return statusBar(ALLOC_STATES.map((k) => [k, t[k], `a-${k.toLowerCase()}`]), opts);
}

export function mount(ctx) {
  ctx.title('Jobs');
  const ns = ctx.namespace;
  const filters = {
    search: ctx.params.get('search') || '',
    type: ctx.params.get('type') || '',
    status: ctx.params.get('status') || '',
    children: ctx.params.get('children') === '1',
  };
  let jobs = null;

  const search = h('input', { type: 'search', placeholder: 'Search by ID prefix', value: filters.search, 'aria-label': 'Search jobs by prefix' });
  const typeSel = h('select', { 'aria-label': 'Type' }, h('option', { value: '' }, 'All types'),
    TYPES.map((t) => h('option', { value: t, selected: t === filters.type }, t)));
  const statusSel = h('select', { 'aria-label': 'Status' }, h('option', { value: '' }, 'All statuses'),
    STATUSES.map((t) => h('option', { value: t, selected: t === filters.status }, t)));
  const childBox = h('input', { type: 'checkbox', checked: filters.children });
  const list = h('div', null, loading());
  const count = h('span', { class: 'muted' });
  const errors = errorSlot();

  const onFilter = () => {
    filters.search = search.value.trim();
    filters.type = typeSel.value;
    filters.status = statusSel.value;
    filters.children = childBox.checked;
    ctx.setQuery({ search: filters.search, type: filters.type, status: filters.status, children: filters.children ? '1' : '' });
    draw();
  };
  search.addEventListener('input', onFilter);
  typeSel.addEventListener('change', onFilter);
  statusSel.addEventListener('change', onFilter);
  childBox.addEventListener('change', onFilter);

  ctx.el.append(
    h('header', { class: 'page-header' },
      h('h1', null, 'Jobs', ' ', count),
      h('div', { class: 'page-actions' }, link('/ui/jobs/run', 'Run a job'))),
    h('div', { class: 'filters' }, search, typeSel, statusSel, h('label', { class: 'check' }, childBox, ' Show dispatched and periodic children')),
    errors.el,
    h('section', { class: 'card flush' }, list),
  );

  function matches(j) {
    if (!filters.children && j.ParentID) return false;
    if (filters.type && j.Type !== filters.type) return false;
    if (filters.status && j.Status !== filters.status) return false;
    if (filters.search) {
      const p = filters.search.toLowerCase();
      if (!j.ID.toLowerCase().startsWith(p) && !(j.Name || '').toLowerCase().startsWith(p)) return false;
    }
    return true;
  }

  function draw() {
    if (!jobs) return;
    const rows = jobs.filter(matches);
    count.textContent = `${rows.length} of ${jobs.length}`;
    const cols = [
      ['Name', (j) => h('span', null, link(jobHref(j.ID, j.Namespace), j.ID), j.Stop ? h('span', { class: 'tag' }, 'stopped') : null)],
      ns === '*' ? ['Namespace', (j) => j.Namespace] : null,
      ['Type', (j) => jobType(j)],
      ['Priority', (j) => String(j.Priority), 'num'],
      ['Status', (j) => badge(j.Status)],
      ['Submitted', (j) => age(j.SubmitTime)],
      ['Allocations', (j) => jobBar(j, { compact: true }), 'bar-cell'],
    ].filter(Boolean);
    const empty = jobs.length
      ? 'No job matches these filters.'
      : h('span', null, 'No jobs yet. ', link('/ui/jobs/run', 'Run one'), ' or use ', h('code', null, 'nomad job run'), '.');
    replace(list, table(cols, rows, { empty }));
  }

  ctx.scope.watch('/v1/jobs', { namespace: ns }, (data) => {
    jobs = data || [];
    if (ns === '*') ctx.noteNamespaces(jobs.map((j) => j.Namespace));
    draw();
  }, errors.set);
}
