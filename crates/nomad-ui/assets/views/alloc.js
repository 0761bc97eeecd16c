// An allocation's page: status, task states and events, allocated
// resources and their live usage, ports, reschedule history, live logs,
// and the stop action. Live through one blocking query on
// /v1/allocation/:id; the log stream and the usage reads are separate.

import { h, replace, table, link, kv, section } from '../lib/dom.js';
import { seg, write, get } from '../lib/api.js';
import { badge, errorSlot, errorBox, age, button, confirmDialog, notify, loading, sparkline } from '../lib/ui.js';
import { shortId, allocTerminal, allocPorts, formatMB, formatBytes, formatNanos, formatTime, percent, allocMetricLines, allocUsageRows } from '../lib/format.js';
import { logViewer } from '../lib/logs.js';
import { jobHref } from './jobs.js';

/** How often the usage is re-read while the page is open. */
const USAGE_MS = 3000;
/** Samples kept for the usage charts. */
const HISTORY = 40;

export function mount(ctx) {
  const [id] = ctx.args;
  ctx.title(`Allocation ${shortId(id)}`);
  const errors = errorSlot();
  const header = h('div');
  const info = h('div', null, loading());
  const tasksEl = h('div');
  const resEl = h('div');
  const usageEl = h('div');
  const logsEl = h('div');
  ctx.el.append(header, errors.el, info, tasksEl, resEl, logsEl);
  let alloc = null;
  let logsMounted = false;

  ctx.scope.watch(`/v1/allocation/${seg(id)}`, {}, (a) => {
    alloc = a;
    drawHeader();
    drawInfo();
    drawTasks();
    drawResources();
    if (!logsMounted) {
      logsMounted = true;
      const group = ((a.Job && a.Job.TaskGroups) || []).find((g) => g.Name === a.TaskGroup);
      const names = group ? group.Tasks.map((t) => t.Name) : Object.keys(a.TaskStates || {});
      replace(logsEl, section('Logs', names.length ? logViewer(a.ID, names, ctx.scope) : h('p', { class: 'muted' }, 'This allocation has no tasks.')));
      startUsage();
    }
  }, (e) => {
    if (e && e.status === 404 && !alloc) replace(info, errorBox(e));
    else errors.set(e);
  });

  function drawHeader() {
    const acts = [];
    if (!allocTerminal(alloc)) {
      acts.push(button('Stop', async () => {
        const r = await confirmDialog('Stop the allocation', `Stop allocation ${shortId(alloc.ID)}? The scheduler replaces it if the job still wants it.`, 'Stop', () =>
          write('POST', `/v1/allocation/${seg(alloc.ID)}/stop`, {}, { namespace: alloc.Namespace }));
        if (r) notify(`Allocation ${shortId(alloc.ID)} stopping; evaluation ${shortId(r.EvalID)}`, 'ok');
      }, 'danger'));
    }
    replace(header,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        link('/ui/jobs', 'Jobs'), ' / ', link(jobHref(alloc.JobID, alloc.Namespace), alloc.JobID), ' / ', alloc.TaskGroup),
      h('header', { class: 'page-header' },
        h('h1', null, 'Allocation ', h('code', null, shortId(alloc.ID)), ' ', badge(alloc.ClientStatus)),
        h('div', { class: 'page-actions' }, acts)));
  }

  function drawInfo() {
    const a = alloc;
    const tracker = (a.RescheduleTracker && a.RescheduleTracker.Events) || [];
    const ports = allocPorts(a);
    const dep = a.DeploymentStatus;
    replace(info,
      section(null, kv([
        ['ID', h('code', null, a.ID)],
        ['Name', a.Name],
        ['Job', h('span', null, link(jobHref(a.JobID, a.Namespace), a.JobID), ` (version ${a.Job ? a.Job.Version : '?'})`)],
        ['Namespace', a.Namespace],
        ['Client', a.NodeID ? link(`/ui/clients/${seg(a.NodeID)}`, `${a.NodeName || ''} (${shortId(a.NodeID)})`) : '—'],
        ['Desired', `${a.DesiredStatus}${a.DesiredDescription ? ` — ${a.DesiredDescription}` : ''}`],
        ['Client status', `${a.ClientStatus}${a.ClientDescription ? ` — ${a.ClientDescription}` : ''}`],
        ['Evaluation', link(`/ui/evaluations?id=${encodeURIComponent(a.EvalID)}`, h('code', null, shortId(a.EvalID)))],
        ['Deployment', a.DeploymentID ? h('span', null, h('code', null, shortId(a.DeploymentID)),
          dep && dep.Healthy !== null && dep.Healthy !== undefined ? ` — ${dep.Healthy ? 'healthy' : 'unhealthy'}${dep.Canary ? ', canary' : ''}` : '') : null],
        ['Created', age(a.CreateTime)],
        ['Modified', age(a.ModifyTime)],
      ])),
      ports.length ? section('Addresses and ports', table([
        ['Label', (p) => p.label],
        ['Address', (p) => h('code', null, `${p.ip || ''}:${p.value}`)],
        ['Maps to', (p) => (p.to ? String(p.to) : '—')],
        ['Task', (p) => p.task || 'group'],
      ], ports)) : null,
      (a.PreviousAllocation || a.NextAllocation || tracker.length || a.FollowupEvalID) ? section('Rescheduling', kv([
        ['Previous allocation', a.PreviousAllocation ? link(`/ui/allocations/${seg(a.PreviousAllocation)}`, h('code', null, shortId(a.PreviousAllocation))) : null],
        ['Next allocation', a.NextAllocation ? link(`/ui/allocations/${seg(a.NextAllocation)}`, h('code', null, shortId(a.NextAllocation))) : null],
        ['Follow-up evaluation', a.FollowupEvalID ? link(`/ui/evaluations?id=${encodeURIComponent(a.FollowupEvalID)}`, h('code', null, shortId(a.FollowupEvalID))) : null],
      ]), tracker.length ? table([
        ['Rescheduled', (e) => formatTime(e.RescheduleTime)],
        ['From allocation', (e) => link(`/ui/allocations/${seg(e.PrevAllocID)}`, h('code', null, shortId(e.PrevAllocID)))],
        ['From node', (e) => (e.PrevNodeID ? link(`/ui/clients/${seg(e.PrevNodeID)}`, h('code', null, shortId(e.PrevNodeID))) : '—')],
        ['Delay', (e) => formatNanos(e.Delay)],
      ], [...tracker].reverse()) : null) : null,
      a.Metrics && a.ClientStatus === 'pending' && Object.keys(a.Metrics.DimensionExhausted || {}).length
        ? section('Placement', h('pre', { class: 'cli' }, allocMetricLines(a.Metrics, '').join('\n'))) : null,
    );
  }

  function drawTasks() {
    const states = Object.entries(alloc.TaskStates || {});
    if (!states.length) return replace(tasksEl, section('Tasks', h('p', { class: 'muted' }, 'No task has reported a state yet.')));
    replace(tasksEl, section('Tasks', ...states.map(([name, t]) => {
      const events = [...(t.Events || [])].reverse();
      return h('div', { class: 'task' },
        h('h3', null, name, ' ', badge(t.State), t.Failed ? h('span', { class: 'tag tag-bad' }, 'failed') : null),
        kv([
          ['Started', t.StartedAt && !String(t.StartedAt).startsWith('0001') ? age(t.StartedAt) : '—'],
          ['Finished', t.FinishedAt && !String(t.FinishedAt).startsWith('0001') ? age(t.FinishedAt) : null],
          ['Restarts', String(t.Restarts || 0)],
          ['Last restart', t.LastRestart && !String(t.LastRestart).startsWith('0001') ? age(t.LastRestart) : null],
        ]),
        h('details', { open: events.length <= 8 },
          h('summary', null, `Events (${events.length})`),
          table([
            ['Time', (e) => formatTime(e.Time)],
            ['Type', (e) => e.Type],
            ['Description', (e) => e.DisplayMessage || e.Message || ''],
          ], events, { empty: 'No events.' })));
    })));
    return undefined;
  }

  function drawResources() {
    const r = alloc.AllocatedResources;
    const tasks = Object.entries((r && r.Tasks) || {});
    replace(resEl, section('Resources',
      tasks.length ? table([
        ['Task', ([n]) => n],
        ['CPU', ([, t]) => `${(t.Cpu && t.Cpu.CpuShares) || 0} MHz${t.Cpu && t.Cpu.ReservedCores && t.Cpu.ReservedCores.length ? ` (cores ${t.Cpu.ReservedCores.join(',')})` : ''}`],
        ['Memory', ([, t]) => `${formatMB((t.Memory && t.Memory.MemoryMB) || 0)}${t.Memory && t.Memory.MemoryMaxMB ? ` (max ${formatMB(t.Memory.MemoryMaxMB)})` : ''}`],
      ], tasks) : h('p', { class: 'muted' }, 'No allocated resources recorded.'),
      r && r.Shared ? h('p', { class: 'muted' }, `Shared disk: ${formatMB(r.Shared.DiskMB || 0)}`) : null,
      usageEl));
  }

  // ---- usage: GET /v1/client/allocation/:id/stats every few seconds ----
  // (as Nomad's UI does: the endpoint has no blocking queries), only while
  // this page is open and the allocation runs. Any error reads as "usage
  // unavailable"; a 404 from an agent without the route stops asking.

  function startUsage() {
    const path = `/v1/client/allocation/${seg(id)}/stats`;
    const history = new Map();
    let routeMissing = false;
    replace(usageEl, h('p', { class: 'muted' }, 'Reading resource usage…'));
    ctx.scope.poll(async (signal) => {
      if (routeMissing) return;
      if (alloc && allocTerminal(alloc)) {
        replace(usageEl, h('p', { class: 'muted notice' }, 'Resource usage is shown while the allocation runs.'));
        return;
      }
      let stats;
      try {
        stats = await get(path, {}, signal);
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        routeMissing = e.status === 404 && /page not found/i.test(e.text || '');
        replace(usageEl, h('p', { class: 'muted notice' },
          'Resource usage is unavailable',
          routeMissing ? [': this agent does not serve ', h('code', null, '/v1/client/allocation/:id/stats')] : ` (${e.text ?? e.message})`,
          '. The figures above are what the scheduler allocated.'));
        return;
      }
      drawUsage(stats || {}, history);
    }, USAGE_MS);
  }

  function drawUsage(stats, history) {
    const rows = allocUsageRows(stats, alloc.AllocatedResources);
    for (const r of rows) {
      if (!r.reported) continue;
      const past = history.get(r.name) || { cpu: [], mem: [] };
      past.cpu = [...past.cpu, r.cpu].slice(-HISTORY);
      past.mem = [...past.mem, r.mem].slice(-HISTORY);
      history.set(r.name, past);
    }
    const pastOf = (r) => history.get(r.name) || { cpu: [], mem: [] };
    replace(usageEl,
      h('h3', null, 'Usage ', h('span', { class: 'muted' }, `(live, updated ${formatTime(stats.Timestamp)})`)),
      table([
        ['Task', (r) => r.name],
        ['CPU', (r) => (r.reported ? `${r.cpu} / ${r.cpuMax} MHz (${percent(r.cpu, r.cpuMax)}%)` : 'not reported')],
        ['', (r) => (r.reported ? sparkline(pastOf(r).cpu, `CPU of ${r.name} over the last samples`) : null)],
        ['Memory', (r) => (r.reported ? `${formatBytes(r.mem)} / ${formatBytes(r.memMax)} (${percent(r.mem, r.memMax)}%)` : 'not reported')],
        ['', (r) => (r.reported ? sparkline(pastOf(r).mem, `Memory of ${r.name} over the last samples`) : null)],
      ], rows, { empty: 'No task reported usage.', class: 'usage-table' }));
  }
}
