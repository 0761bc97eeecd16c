// The clients list: blocking queries on /v1/nodes and on the allocations
// (for the running count of each client).

import { h, replace, table, link } from '../lib/dom.js';
import { seg } from '../lib/api.js';
import { badge, errorSlot, loading } from '../lib/ui.js';
import { shortId } from '../lib/format.js';

/** Running allocations per node ID. */
export function runningByNode(allocs) {
  const m = new Map();
  for (const a of allocs || []) {
    if (a.ClientStatus === 'running' && a.DesiredStatus === 'run') m.set(a.NodeID, (m.get(a.NodeID) || 0) + 1);
  }
  return m;
}

export function mount(ctx) {
  ctx.title('Clients');
  let nodes = null;
  let running = new Map();
  const search = h('input', { type: 'search', placeholder: 'Search by ID or name prefix', value: ctx.params.get('search') || '', 'aria-label': 'Search clients' });
  const statusSel = h('select', { 'aria-label': 'Status' }, h('option', { value: '' }, 'All statuses'),
    ['initializing', 'ready', 'down', 'disconnected'].map((s) => h('option', { value: s, selected: s === ctx.params.get('status') }, s)));
  const list = h('div', null, loading());
  const count = h('span', { class: 'muted' });
  const errors = errorSlot();
  const onFilter = () => { ctx.setQuery({ search: search.value.trim(), status: statusSel.value }); draw(); };
  search.addEventListener('input', onFilter);
  statusSel.addEventListener('change', onFilter);

  ctx.el.append(
    h('header', { class: 'page-header' }, h('h1', null, 'Clients', ' ', count)),
    h('div', { class: 'filters' }, search, statusSel),
    errors.el,
    h('section', { class: 'card flush' }, list),
  );

  function draw() {
    if (!nodes) return;
    const p = search.value.trim().toLowerCase();
    const rows = nodes
      .filter((n) => !statusSel.value || n.Status === statusSel.value)
      .filter((n) => !p || n.ID.toLowerCase().startsWith(p) || (n.Name || '').toLowerCase().startsWith(p))
      .sort((a, b) => (a.Name || '').localeCompare(b.Name || '') || a.ID.localeCompare(b.ID));
    count.textContent = `${rows.length} of ${nodes.length}`;
    replace(list, table([
      ['ID', (n) => link(`/ui/clients/${seg(n.ID)}`, h('code', null, shortId(n.ID)))],
      ['Name', (n) => link(`/ui/clients/${seg(n.ID)}`, n.Name)],
      ['Datacenter', (n) => n.Datacenter],
      ['Pool', (n) => n.NodePool || 'default'],
      ['Class', (n) => n.NodeClass || '—'],
      ['Address', (n) => n.Address || '—'],
      ['Status', (n) => badge(n.Status)],
      ['Eligibility', (n) => badge(n.SchedulingEligibility)],
      ['Drain', (n) => (n.Drain ? badge('draining') : 'false')],
      ['Running allocs', (n) => String(running.get(n.ID) || 0), 'num'],
      ['Version', (n) => n.Version || '—'],
    ], rows, { empty: nodes.length ? 'No client matches these filters.' : 'No clients have registered.' }));
  }

  ctx.scope.watch('/v1/nodes', {}, (data) => { nodes = data || []; draw(); }, errors.set);
  ctx.scope.watch('/v1/allocations', { namespace: '*', task_states: 'false' }, (data) => { running = runningByNode(data); draw(); }, errors.set);
}
