// A client's page: details, drain strategy, allocated and used resources
// (the host's usage, from /v1/client/stats), drivers and their health,
// events, attributes and meta, allocations; drain and eligibility actions.
// Live through blocking queries on /v1/node/:id and its allocations.

import { h, replace, table, kv, section } from '../lib/dom.js';
import { seg, write, get } from '../lib/api.js';
import { badge, errorSlot, errorBox, age, button, formDialog, notify, statusBar, loading, sparkline } from '../lib/ui.js';
import {
  shortId, formatMB, formatTime, formatNanos, formatAge, parseDuration, allocResources, allocTerminal, nodeCapacity, percent, formatBytes, hostUsage,
} from '../lib/format.js';
import { allocTable } from './job.js';

/** How often the host usage is re-read while the page is open. */
const USAGE_MS = 5000;
/** Samples kept for the usage charts. */
const HISTORY = 40;

export function mount(ctx) {
  const [id] = ctx.args;
  ctx.title(`Client ${shortId(id)}`);
  const errors = errorSlot();
  const header = h('div');
  const info = h('div', null, loading());
  const resources = h('div');
  const usage = h('div');
  const allocsEl = h('div');
  const rest = h('div');
  ctx.el.append(header, errors.el, info, resources, allocsEl, rest);
  let node = null;
  let allocs = null;
  let attrFilter = '';

  ctx.scope.watch(`/v1/node/${seg(id)}`, {}, (n) => {
    node = n;
    ctx.title(`Client ${n.Name}`);
    drawHeader();
    drawInfo();
    drawResources();
    drawRest();
  }, (e) => {
    if (e && e.status === 404 && !node) replace(info, errorBox(e));
    else errors.set(e);
  });
  ctx.scope.watch(`/v1/node/${seg(id)}/allocations`, {}, (a) => {
    allocs = a || [];
    drawResources();
    replace(allocsEl, section(`Allocations (${allocs.length})`,
      allocTable([...allocs].sort((x, y) => y.CreateIndex - x.CreateIndex), { node: false, job: true })));
  }, errors.set);

  function drawHeader() {
    const eligible = node.SchedulingEligibility === 'eligible';
    // The full node has no Drain flag (its list stub does): a drain strategy means draining.
    const draining = Boolean(node.DrainStrategy);
    replace(header, h('header', { class: 'page-header' },
      h('h1', null, node.Name, ' ', badge(node.Status), ' ', badge(node.SchedulingEligibility), draining ? [' ', badge('draining')] : null),
      h('div', { class: 'page-actions' },
        button(eligible ? 'Make ineligible' : 'Make eligible', () => setEligibility(!eligible)),
        draining ? button('Stop drain', stopDrain) : button('Drain', drain, 'danger'))));
  }

  async function setEligibility(eligible) {
    try {
      await write('POST', `/v1/node/${seg(node.ID)}/eligibility`, { NodeID: node.ID, Eligibility: eligible ? 'eligible' : 'ineligible' });
      notify(`${node.Name} is now ${eligible ? 'eligible' : 'ineligible'}`, 'ok');
    } catch (e) {
      notify(`Changing eligibility failed: ${e.text ?? e.message}`, 'error');
    }
  }

  async function drain() {
    const r = await formDialog({
      title: `Drain ${node.Name}`,
      intro: 'Allocations are migrated off this client, paced by each job\'s migrate block; the client becomes ineligible.',
      submitText: 'Start drain',
      danger: true,
      fields: [
        { name: 'deadline', label: 'Deadline (remaining allocations are stopped then)', value: '1h', help: 'A duration such as 30m or 1h30m.' },
        { name: 'none', type: 'checkbox', label: 'No deadline: wait for migrations however long they take' },
        { name: 'force', type: 'checkbox', label: 'Force: stop every allocation now' },
        { name: 'ignoreSystem', type: 'checkbox', label: 'Leave system jobs running' },
      ],
      submit: (v) => {
        let deadline;
        if (v.force) deadline = -1;
        else if (v.none) deadline = 0;
        else {
          deadline = parseDuration(v.deadline);
          if (deadline === null || deadline <= 0) throw new Error(`Invalid deadline ${JSON.stringify(v.deadline)}: use a duration such as 30m or 1h.`);
        }
        return write('POST', `/v1/node/${seg(node.ID)}/drain`, {
          NodeID: node.ID, DrainSpec: { Deadline: deadline, IgnoreSystemJobs: v.ignoreSystem }, MarkEligible: false,
        });
      },
    });
    if (r) notify(`Drain of ${node.Name} started`, 'ok');
  }

  async function stopDrain() {
    const r = await formDialog({
      title: `Stop draining ${node.Name}`,
      submitText: 'Stop drain',
      fields: [{ name: 'keep', type: 'checkbox', label: 'Keep the client ineligible for new placements' }],
      submit: (v) => write('POST', `/v1/node/${seg(node.ID)}/drain`, { NodeID: node.ID, DrainSpec: null, MarkEligible: !v.keep }),
    });
    if (r) notify(`Drain of ${node.Name} stopped`, 'ok');
  }

  function drawInfo() {
    const d = node.DrainStrategy;
    replace(info, section(null, kv([
      ['ID', h('code', null, node.ID)],
      ['Address', node.HTTPAddr || (node.Attributes && node.Attributes['unique.network.ip-address']) || null],
      ['Datacenter', node.Datacenter],
      ['Node pool', node.NodePool || 'default'],
      ['Class', node.NodeClass || '—'],
      ['Status', node.StatusDescription ? `${node.Status} — ${node.StatusDescription}` : node.Status],
      ['Status updated', node.StatusUpdatedAt ? age(node.StatusUpdatedAt * 1e9) : null],
      ['Eligibility', node.SchedulingEligibility],
      ['Drain', d ? [
        d.Deadline < 0 ? 'forced' : d.Deadline === 0 ? 'no deadline' : `deadline ${formatNanos(d.Deadline)}`,
        d.ForceDeadline && !String(d.ForceDeadline).startsWith('0001') ? `, stops remaining allocations at ${formatTime(d.ForceDeadline)}` : '',
        d.IgnoreSystemJobs ? ', system jobs stay' : '',
        d.StartedAt ? `, started ${formatTime(d.StartedAt)}` : '',
      ].join('') : 'false'],
      ['Last drain', node.LastDrain ? `${node.LastDrain.Status || ''} ${formatTime(node.LastDrain.UpdatedAt)}` : null],
      ['OS', node.Attributes ? `${node.Attributes['os.name'] || ''} ${node.Attributes['os.version'] || ''}`.trim() || null : null],
      ['Agent version', node.Attributes ? node.Attributes['nomad.version'] || null : null],
    ])));
  }

  function drawResources() {
    if (!node) return;
    const cap = nodeCapacity(node);
    const used = { cpu: 0, mem: 0, disk: 0 };
    for (const a of allocs || []) {
      if (allocTerminal(a)) continue;
      const r = allocResources(a);
      used.cpu += r.cpu;
      used.mem += r.mem;
      used.disk += r.disk;
    }
    const row = (label, u, c, fmt) => h('div', { class: 'res-row' },
      h('span', { class: 'res-label' }, label),
      statusBar([['Allocated', u, 'a-running'], ['Free', Math.max(0, c - u), 'a-free']], { compact: true }),
      h('span', { class: 'res-num' }, `${fmt(u)} / ${fmt(c)} (${percent(u, c)}%)`));
    const reserved = node.ReservedResources || {};
    replace(resources, section('Resources',
      h('h3', null, 'Allocated ', h('span', { class: 'muted' }, '(by the scheduler)')),
      row('CPU', used.cpu, cap.cpu, (x) => `${x} MHz`),
      row('Memory', used.mem, cap.mem, formatMB),
      row('Disk', used.disk, cap.disk, formatMB),
      h('p', { class: 'muted' }, `Capacity excludes what the client reserves (CPU ${(reserved.Cpu && reserved.Cpu.CpuShares) || 0} MHz, memory ${formatMB((reserved.Memory && reserved.Memory.MemoryMB) || 0)}); allocated counts every allocation that is not finished.`),
      usage));
  }

  // Used resources: GET /v1/client/stats (the host's usage) every few
  // seconds while this page is open, as Nomad's UI does (the endpoint has
  // no blocking queries). Any error reads as "usage unavailable"; a 404
  // from an agent without the route stops asking.
  const history = { cpu: [], mem: [] };
  let routeMissing = false;
  replace(usage, h('p', { class: 'muted' }, 'Reading host usage…'));
  ctx.scope.poll(async (signal) => {
    if (routeMissing) return;
    let s;
    try {
      s = await get('/v1/client/stats', { node_id: id }, signal);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      routeMissing = e.status === 404 && /page not found/i.test(e.text || '');
      replace(usage, h('p', { class: 'muted notice' }, 'Host usage is unavailable',
        routeMissing ? [': this agent does not serve ', h('code', null, '/v1/client/stats')] : ` (${e.text ?? e.message})`, '.'));
      return;
    }
    drawUsage(hostUsage(s || {}), s || {});
  }, USAGE_MS);

  function drawUsage(u, raw) {
    history.cpu = [...history.cpu, u.cpu].slice(-HISTORY);
    history.mem = [...history.mem, u.memUsed].slice(-HISTORY);
    const cpuTotal = (node && node.NodeResources && node.NodeResources.Cpu && node.NodeResources.Cpu.CpuShares) || 0;
    const row = (label, used, total, text, spark) => h('div', { class: 'res-row with-spark' },
      h('span', { class: 'res-label' }, label),
      statusBar([['Used', used, 'a-running'], ['Free', Math.max(0, total - used), 'a-free']], { compact: true }),
      h('span', { class: 'res-num' }, text),
      spark || h('span'));
    replace(usage,
      h('h3', null, 'Used ', h('span', { class: 'muted' }, `(live, host-wide, updated ${formatTime(raw.Timestamp)})`)),
      row('CPU', u.cpu, cpuTotal, `${u.cpu} / ${cpuTotal} MHz (${percent(u.cpu, cpuTotal)}%)`,
        sparkline(history.cpu, `Host CPU over the last samples${u.cpuPercent === null ? '' : `; cores ${u.cpuPercent}% busy now`}`, HISTORY)),
      row('Memory', u.memUsed, u.memTotal, `${formatBytes(u.memUsed)} / ${formatBytes(u.memTotal)} (${percent(u.memUsed, u.memTotal)}%)`,
        sparkline(history.mem, 'Host memory over the last samples', HISTORY)),
      u.disks.filter((d) => d.size > 0).map((d) => row('Disk', d.used, d.size, `${d.mount}: ${formatBytes(d.used)} / ${formatBytes(d.size)} (${percent(d.used, d.size)}%)`)),
      u.uptime ? h('p', { class: 'muted' }, `Host up for ${formatAge(u.uptime * 1000)}.`) : null);
  }

  function drawRest() {
    const drivers = Object.entries(node.Drivers || {}).sort(([a], [b]) => a.localeCompare(b));
    const events = [...(node.Events || [])].reverse();
    const attrs = h('div');
    const filter = h('input', { type: 'search', placeholder: 'Filter attributes', value: attrFilter, 'aria-label': 'Filter attributes' });
    const drawAttrs = () => {
      const f = attrFilter.toLowerCase();
      const rows = Object.entries(node.Attributes || {}).filter(([k, v]) => !f || k.toLowerCase().includes(f) || String(v).toLowerCase().includes(f))
        .sort(([a], [b]) => a.localeCompare(b));
      replace(attrs, table([['Attribute', ([k]) => h('code', null, k)], ['Value', ([, v]) => v]], rows, { empty: 'No attributes match.', class: 'attrs' }));
    };
    filter.addEventListener('input', () => { attrFilter = filter.value; drawAttrs(); });
    drawAttrs();
    const meta = Object.entries(node.Meta || {}).sort(([a], [b]) => a.localeCompare(b));
    replace(rest,
      section('Drivers', table([
        ['Driver', ([n]) => n],
        ['Detected', ([, d]) => String(Boolean(d.Detected))],
        ['Health', ([, d]) => (d.Detected ? badge(d.Healthy ? 'healthy' : 'unhealthy') : badge('undetected'))],
        ['Description', ([, d]) => d.HealthDescription || ''],
        ['Updated', ([, d]) => age(d.UpdateTime)],
      ], drivers, { empty: 'No drivers fingerprinted.' })),
      section('Events', table([
        ['Time', (e) => formatTime(e.Timestamp)],
        ['Subsystem', (e) => e.Subsystem],
        ['Message', (e) => e.Message],
        ['Details', (e) => Object.entries(e.Details || {}).map(([k, v]) => `${k}: ${v}`).join(', ')],
      ], events, { empty: 'No events.' })),
      meta.length ? section('Meta', table([['Key', ([k]) => h('code', null, k)], ['Value', ([, v]) => v]], meta)) : null,
      section('Attributes', filter, attrs));
  }
}
