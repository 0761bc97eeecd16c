// Topology: every client as a box sized by its capacity, filled by the
// CPU and memory of its allocations (one colored segment per allocation,
// colored by job), grouped by datacenter. Live through blocking queries on
// /v1/nodes?resources=true and /v1/allocations?resources=true.

import { h, replace, link, section, kv } from '../lib/dom.js';
import { seg } from '../lib/api.js';
import { badge, errorSlot, loading } from '../lib/ui.js';
import { allocResources, allocTerminal, nodeCapacity, formatMB, percent, hue, shortId } from '../lib/format.js';
import { jobHref } from './jobs.js';

/** Live allocations per node ID, with their resources. */
export function placedByNode(allocs) {
  const m = new Map();
  for (const a of allocs || []) {
    if (allocTerminal(a) || !a.NodeID) continue;
    if (!m.has(a.NodeID)) m.set(a.NodeID, []);
    m.get(a.NodeID).push({ alloc: a, res: allocResources(a) });
  }
  return m;
}

export function mount(ctx) {
  ctx.title('Topology');
  const errors = errorSlot();
  const body = h('div', null, loading());
  ctx.el.append(h('header', { class: 'page-header' }, h('h1', null, 'Topology')), errors.el, body);
  let nodes = null;
  let allocs = null;

  ctx.scope.watch('/v1/nodes', { resources: 'true' }, (n) => { nodes = n || []; draw(); }, errors.set);
  ctx.scope.watch('/v1/allocations', { namespace: '*', resources: 'true', task_states: 'false' }, (a) => { allocs = a || []; draw(); }, errors.set);

  function draw() {
    if (!nodes || !allocs) return;
    const placed = placedByNode(allocs);
    const caps = new Map(nodes.map((n) => [n.ID, nodeCapacity(n)]));
    const maxCpu = Math.max(1, ...[...caps.values()].map((c) => c.cpu));
    const maxMem = Math.max(1, ...[...caps.values()].map((c) => c.mem));
    const total = { cpu: 0, mem: 0, ucpu: 0, umem: 0, n: 0 };
    const jobs = new Map();
    for (const n of nodes) {
      const c = caps.get(n.ID);
      if (n.Status === 'ready') { total.cpu += c.cpu; total.mem += c.mem; }
      for (const { alloc, res } of placed.get(n.ID) || []) {
        total.ucpu += res.cpu;
        total.umem += res.mem;
        total.n += 1;
        jobs.set(alloc.JobID, alloc.Namespace);
      }
    }
    const byDc = new Map();
    for (const n of [...nodes].sort((a, b) => (a.Name || '').localeCompare(b.Name || ''))) {
      if (!byDc.has(n.Datacenter)) byDc.set(n.Datacenter, []);
      byDc.get(n.Datacenter).push(n);
    }
    replace(body,
      section(null, h('div', { class: 'row-between' },
        kv([
          ['Clients', `${nodes.length} (${nodes.filter((n) => n.Status === 'ready').length} ready)`],
          ['Allocations', String(total.n)],
          ['CPU allocated', `${total.ucpu} of ${total.cpu} MHz (${percent(total.ucpu, total.cpu)}%)`],
          ['Memory allocated', `${formatMB(total.umem)} of ${formatMB(total.mem)} (${percent(total.umem, total.mem)}%)`],
        ]),
        h('ul', { class: 'legend job-legend', 'aria-label': 'Jobs' }, [...jobs.keys()].sort().map((j) =>
          h('li', null, h('span', { class: 'swatch', style: { backgroundColor: jobColor(j) } }), link(jobHref(j, jobs.get(j)), j)))))),
      nodes.length ? null : h('p', { class: 'muted' }, 'No clients have registered.'),
      [...byDc.entries()].map(([dc, list]) => h('section', { class: 'card' },
        h('h2', null, `Datacenter ${dc}`, ' ', h('span', { class: 'muted' }, `${list.length} client${list.length === 1 ? '' : 's'}`)),
        h('div', { class: 'topo' }, list.map((n) => nodeBox(n, caps.get(n.ID), placed.get(n.ID) || [], maxCpu, maxMem))))));
  }
}

function jobColor(job) {
  return `hsl(${hue(job)}, 55%, 55%)`;
}

function nodeBox(n, cap, list, maxCpu, maxMem) {
  // Width follows the client's share of the largest capacity (CPU and memory averaged).
  const size = (cap.cpu / maxCpu + cap.mem / maxMem) / 2;
  const used = list.reduce((acc, { res }) => ({ cpu: acc.cpu + res.cpu, mem: acc.mem + res.mem }), { cpu: 0, mem: 0 });
  const lane = (label, key, capacity) => h('div', { class: 'lane' },
    h('span', { class: 'lane-label' }, label),
    h('div', { class: 'lane-bar', title: `${label}: ${used[key]} of ${capacity}` },
      list.map(({ alloc, res }) => {
        const width = capacity > 0 ? Math.min(100, (res[key] / capacity) * 100) : 0;
        if (width <= 0) return null;
        return h('a', {
          class: 'lane-seg',
          href: `/ui/allocations/${seg(alloc.ID)}`,
          title: `${alloc.Name} (${shortId(alloc.ID)}) — ${res.cpu} MHz, ${formatMB(res.mem)}`,
          style: { width: `${width}%`, backgroundColor: jobColor(alloc.JobID) },
          'aria-label': `Allocation ${alloc.Name}`,
        });
      })),
    h('span', { class: 'lane-num' }, `${percent(used[key], capacity)}%`));
  return h('div', {
    class: ['topo-node', n.Status !== 'ready' && 'down', n.SchedulingEligibility !== 'eligible' && 'ineligible'],
    style: { width: `${Math.round(220 + 340 * size)}px` },
  },
  h('div', { class: 'topo-head' },
    link(`/ui/clients/${seg(n.ID)}`, n.Name || shortId(n.ID)), ' ', badge(n.Status),
    n.Drain ? badge('draining') : null,
    n.SchedulingEligibility !== 'eligible' ? badge('ineligible') : null),
  h('div', { class: 'topo-meta muted' }, `${cap.cpu} MHz · ${formatMB(cap.mem)} · ${list.length} alloc${list.length === 1 ? '' : 's'}`),
  lane('CPU', 'cpu', cap.cpu),
  lane('Mem', 'mem', cap.mem));
}
