// Evaluations: status, trigger and placement failures explained with the
// CLI's wording. One blocking query on /v1/evaluations; `?id=` opens one.

import { h, replace, section } from '../lib/dom.js';
import { seg } from '../lib/api.js';
import { errorSlot, loading } from '../lib/ui.js';
import { evalTable } from './job.js';

const STATUSES = ['blocked', 'pending', 'complete', 'failed', 'canceled'];
const MAX_ROWS = 500;

export function mount(ctx) {
  ctx.title('Evaluations');
  const ns = ctx.namespace;
  const open = ctx.params.get('id') || '';
  let evals = null;
  let single = null;
  const errors = errorSlot();
  const statusSel = h('select', { 'aria-label': 'Status' }, h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === ctx.params.get('status') }, s)));
  const search = h('input', { type: 'search', placeholder: 'Job or evaluation ID prefix', value: ctx.params.get('search') || '', 'aria-label': 'Search evaluations' });
  const failedBox = h('input', { type: 'checkbox', checked: ctx.params.get('failed') === '1' });
  const list = h('div', null, loading());
  const count = h('span', { class: 'muted' });
  const onFilter = () => {
    ctx.setQuery({ status: statusSel.value, search: search.value.trim(), failed: failedBox.checked ? '1' : '' });
    draw();
  };
  statusSel.addEventListener('change', onFilter);
  search.addEventListener('input', onFilter);
  failedBox.addEventListener('change', onFilter);
  ctx.el.append(
    h('header', { class: 'page-header' }, h('h1', null, 'Evaluations', ' ', count)),
    h('div', { class: 'filters' }, search, statusSel, h('label', { class: 'check' }, failedBox, ' Only with placement failures')),
    errors.el,
    h('section', { class: 'card flush' }, list),
  );

  function draw() {
    if (!evals) return;
    const p = search.value.trim();
    const rows = evals
      .filter((e) => !statusSel.value || e.Status === statusSel.value)
      .filter((e) => !failedBox.checked || (e.FailedTGAllocs && Object.keys(e.FailedTGAllocs).length))
      .filter((e) => !p || e.JobID.startsWith(p) || e.ID.startsWith(p))
      .sort((a, b) => b.CreateIndex - a.CreateIndex);
    count.textContent = `${rows.length} of ${evals.length}`;
    const shown = rows.slice(0, MAX_ROWS);
    if (single && !evals.some((e) => e.ID === single.ID)) shown.unshift(single);
    replace(list,
      evalTable(shown, { jobCol: true, open }),
      rows.length > MAX_ROWS ? h('p', { class: 'muted pad' }, `Showing the newest ${MAX_ROWS}; narrow the filters to see others.`) : null);
    if (open) {
      const row = list.querySelector('tr.highlight');
      if (row && !draw.scrolled) { draw.scrolled = true; row.scrollIntoView({ block: 'center' }); }
    }
  }

  ctx.scope.watch('/v1/evaluations', { namespace: ns }, (data) => { evals = data || []; draw(); }, errors.set);
  if (open) {
    // The evaluation may be in another namespace than the list shows.
    ctx.scope.watch(`/v1/evaluation/${seg(open)}`, {}, (e) => { single = e; draw(); }, (e) => {
      if (e && e.status === 404) replace(list, section(null, h('p', null, `Evaluation ${open} not found.`)));
      else errors.set(e);
    });
  }
}
