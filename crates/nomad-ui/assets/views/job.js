// A job's page: overview (details, task-group summary, placement
// failures, latest deployment, allocations, children), versions with
// diffs, evaluations, and the definition. Live through blocking queries:
// the jobs list filtered by this ID (the job, its summary and children),
// plus, per tab, the allocations, evaluations and latest deployment.

import { h, replace, table, link, kv, section } from '../lib/dom.js';
import { seg } from '../lib/api.js';
import { badge, statusBar, errorSlot, errorBox, age, tabs, button, diffView, loading } from '../lib/ui.js';
import {
  ALLOC_STATES, shortId, quote, allocMetricLines, failedPlacementText, evalFailureStatus,
  jobType, isParent, formatTime, formatNanos,
} from '../lib/format.js';
import { jobHref, jobBar } from './jobs.js';
import * as actions from './job_actions.js';

export function mount(ctx) {
  const [id, tabArg] = ctx.args;
  const tab = tabArg || 'overview';
  const ns = ctx.params.get('namespace') || (ctx.namespace === '*' ? 'default' : ctx.namespace);
  const q = { namespace: ns };
  const base = `/v1/job/${seg(id)}`;
  const st = { stub: null, children: [], job: null, versions: null, allocs: null, evals: null, deployment: undefined };
  ctx.title(id);

  const header = h('div');
  const body = h('div');
  const errors = errorSlot();
  const TABS = [['Overview', ''], ['Versions', 'versions'], ['Evaluations', 'evaluations'], ['Definition', 'definition']];
  const active = TABS.find(([, t]) => (t || 'overview') === tab)[0];
  ctx.el.append(header, tabs(TABS.map(([l, t]) => [l, jobHref(id, ns, t)]), active), errors.el, body);

  // Sections, each redrawn on its own data.
  const sec = {
    details: h('div'), summary: h('div'), failures: h('div'), deployment: h('div'),
    allocs: h('div'), children: h('div'), versions: h('div'), evals: h('div'), definition: h('div'),
  };
  if (tab === 'overview') body.append(sec.details, sec.failures, sec.summary, sec.children, sec.deployment, sec.allocs);
  if (tab === 'versions') body.append(sec.versions);
  if (tab === 'evaluations') body.append(sec.evals);
  if (tab === 'definition') body.append(sec.definition);
  replace({ overview: sec.summary, versions: sec.versions, evaluations: sec.evals, definition: sec.definition }[tab], loading());

  let lastModify = -1;
  ctx.scope.watch('/v1/jobs', { ...q, prefix: id }, async (stubs) => {
    st.stub = (stubs || []).find((j) => j.ID === id) || null;
    st.children = (stubs || []).filter((j) => j.ParentID === id);
    if (!st.stub) {
      st.job = null;
      replace(header, h('header', { class: 'page-header' }, h('h1', null, id)));
      replace(body, errorBox({ status: 404, text: `job ${quote(id)} not found in namespace ${quote(ns)}` }));
      return;
    }
    drawChildren();
    if (st.stub.ModifyIndex !== lastModify) {
      lastModify = st.stub.ModifyIndex;
      await refreshJob();
    } else {
      drawSummary();
    }
  }, errors.set);

  async function refreshJob() {
    try {
      const [job, versions] = await Promise.all([
        ctx.scope.get(base, q),
        tab === 'versions' ? ctx.scope.get(`${base}/versions`, { ...q, diffs: 'true' }) : null,
      ]);
      st.job = job;
      if (versions) st.versions = versions;
      drawHeader();
      drawDetails();
      drawSummary();
      drawVersions();
      drawDefinition();
    } catch (e) {
      if (e.name !== 'AbortError') errors.set(e);
    }
  }

  if (tab === 'overview') {
    ctx.scope.watch(`${base}/allocations`, q, (a) => { st.allocs = a || []; drawAllocs(); drawSummary(); }, errors.set);
    ctx.scope.watch(`${base}/deployment`, q, (d) => { st.deployment = d; drawDeployment(); }, errors.set);
  }
  if (tab === 'overview' || tab === 'evaluations') {
    ctx.scope.watch(`${base}/evaluations`, q, (e) => { st.evals = e || []; drawFailures(); drawEvals(); }, errors.set);
  }

  // ---- header and actions ----

  function drawHeader() {
    const job = st.job;
    if (!job) return;
    const acts = [];
    if (job.Stop) acts.push(button('Start', () => actions.startJob(job), 'primary'));
    else acts.push(button('Stop', () => actions.stopJob(job, ctx.navigate), 'danger'));
    if (job.Periodic && job.Periodic.Enabled !== false && !job.ParentID) {
      acts.push(button('Force launch', () => actions.forceLaunch(job)));
    }
    if (job.ParameterizedJob && !job.Dispatched) acts.push(button('Dispatch', () => actions.dispatchJob(job, ctx.navigate), 'primary'));
    const crumbs = [link(`/ui/jobs`, 'Jobs')];
    if (job.ParentID) crumbs.push(link(jobHref(job.ParentID, ns), job.ParentID));
    replace(header,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, crumbs.map((c) => [c, ' / ']), job.ID),
      h('header', { class: 'page-header' },
        h('h1', null, job.ID, ' ', badge(job.Status), job.Stop ? h('span', { class: 'tag' }, 'stopped') : null),
        h('div', { class: 'page-actions' }, acts)));
  }

  function drawDetails() {
    const job = st.job;
    if (!job || tab !== 'overview') return;
    const p = job.Periodic;
    const pj = job.ParameterizedJob;
    replace(sec.details, section(null, kv([
      ['Type', jobType({ ...job, Periodic: Boolean(p), ParameterizedJob: Boolean(pj) })],
      ['Priority', String(job.Priority)],
      ['Namespace', job.Namespace],
      ['Datacenters', (job.Datacenters || []).join(', ')],
      ['Node pool', job.NodePool || 'default'],
      ['Version', h('span', null, String(job.Version), job.Stable ? h('span', { class: 'tag' }, 'stable') : null)],
      ['Submitted', age(job.SubmitTime)],
      ['Status description', job.StatusDescription || null],
      ['Periodic', p ? `${(p.Specs && p.Specs.length ? p.Specs : [p.Spec]).join(', ')}${p.TimeZone ? ` (${p.TimeZone})` : ''}${p.ProhibitOverlap ? ', no overlap' : ''}` : null],
      ['Parameterized', pj ? `payload ${pj.Payload || 'optional'}; meta required: ${(pj.MetaRequired || []).join(', ') || 'none'}; optional: ${(pj.MetaOptional || []).join(', ') || 'none'}` : null],
      ['Meta', job.Meta && Object.keys(job.Meta).length ? Object.entries(job.Meta).map(([k, v]) => `${k}=${v}`).join(', ') : null],
    ])));
  }

  // ---- summary per task group ----

  function drawSummary() {
    if (tab !== 'overview' || !st.stub) return;
    const summary = (st.stub.JobSummary && st.stub.JobSummary.Summary) || {};
    const groups = (st.job && st.job.TaskGroups) || [];
    const names = [...new Set([...groups.map((g) => g.Name), ...Object.keys(summary)])];
    const cols = [
      ['Task group', (n) => n],
      ['Count', (n) => { const g = groups.find((x) => x.Name === n); return g ? String(g.Count) : '—'; }, 'num'],
      ...ALLOC_STATES.map((s) => [s, (n) => String((summary[n] || {})[s] || 0), 'num']),
      ['', (n) => statusBar(ALLOC_STATES.map((s) => [s, (summary[n] || {})[s] || 0, `a-${s.toLowerCase()}`]), { compact: true }), 'bar-cell'],
      ['', (n) => {
        const g = groups.find((x) => x.Name === n);
        const job = st.job;
        if (!g || !job || job.Stop || job.Type === 'system' || job.Type === 'sysbatch' || isParent({ ...job, Periodic: Boolean(job.Periodic), ParameterizedJob: Boolean(job.ParameterizedJob) })) return '';
        return button('Scale', () => actions.scaleGroup(job, n, g.Count), 'small');
      }],
    ];
    replace(sec.summary, section('Summary', isParent(st.stub)
      ? h('div', null, h('p', { class: 'muted' }, 'Children of this job:'), jobBar(st.stub, { legend: true }))
      : jobBar(st.stub, { legend: true }), isParent(st.stub) ? null : table(cols, names, { empty: 'No task groups.' })));
  }

  function drawChildren() {
    if (tab !== 'overview' || !st.stub || !isParent(st.stub)) return replace(sec.children);
    const kids = [...st.children].sort((a, b) => (b.SubmitTime || 0) - (a.SubmitTime || 0));
    replace(sec.children, section(`Children (${kids.length})`, table([
      ['ID', (j) => link(jobHref(j.ID, j.Namespace), j.ID)],
      ['Status', (j) => badge(j.Status)],
      ['Submitted', (j) => age(j.SubmitTime)],
      ['Allocations', (j) => jobBar(j, { compact: true }), 'bar-cell'],
    ], kids, { empty: st.stub.Periodic ? 'No launches yet.' : 'Not dispatched yet.' })));
    return undefined;
  }

  // ---- placement failures (as `nomad status` prints them) ----

  function drawFailures() {
    if (tab !== 'overview' || !st.evals) return;
    const blocked = st.evals.some((e) => e.Status === 'blocked');
    const failed = st.evals.filter((e) => e.FailedTGAllocs && Object.keys(e.FailedTGAllocs).length)
      .sort((a, b) => b.CreateIndex - a.CreateIndex)[0];
    if (!blocked || !failed) return replace(sec.failures);
    const lines = [];
    const why = [];
    for (const [tg, m] of Object.entries(failed.FailedTGAllocs)) {
      lines.push(`Task Group ${quote(tg)}:`, ...allocMetricLines(m, '  '));
      if (m.Explanation) why.push(`${tg}: ${m.Explanation}`);
    }
    replace(sec.failures, h('section', { class: 'card warn' }, h('h2', null, 'Placement failure'),
      h('pre', { class: 'cli' }, lines.join('\n')),
      why.length ? h('p', { class: 'muted' }, 'Why: ', why.join('; ')) : null));
    return undefined;
  }

  // ---- latest deployment ----

  function drawDeployment() {
    if (tab !== 'overview') return;
    const d = st.deployment;
    if (!d) return replace(sec.deployment);
    const groups = Object.entries(d.TaskGroups || {});
    const canaries = groups.some(([, g]) => g.DesiredCanaries > 0);
    const live = d.Status === 'running' || d.Status === 'paused' || d.Status === 'pending';
    const acts = [];
    if (live && canaries && groups.some(([, g]) => g.DesiredCanaries > 0 && !g.Promoted)) {
      acts.push(button('Promote', () => actions.promoteDeployment(d), 'primary'));
    }
    if (d.Status === 'running') acts.push(button('Pause', () => actions.pauseDeployment(d, true)));
    if (d.Status === 'paused') acts.push(button('Resume', () => actions.pauseDeployment(d, false)));
    if (live) acts.push(button('Fail', () => actions.failDeployment(d), 'danger'));
    const cols = [
      ['Task group', ([n]) => n],
      canaries ? ['Promoted', ([, g]) => (g.DesiredCanaries > 0 ? String(g.Promoted) : 'N/A')] : null,
      ['Desired', ([, g]) => String(g.DesiredTotal), 'num'],
      canaries ? ['Canaries', ([, g]) => String(g.DesiredCanaries), 'num'] : null,
      ['Placed', ([, g]) => String(g.PlacedAllocs), 'num'],
      ['Healthy', ([, g]) => String(g.HealthyAllocs), 'num'],
      ['Unhealthy', ([, g]) => String(g.UnhealthyAllocs), 'num'],
      ['Progress', ([, g]) => statusBar([
        ['Healthy', g.HealthyAllocs, 'a-running'],
        ['Unhealthy', g.UnhealthyAllocs, 'a-failed'],
        ['Placed, health pending', Math.max(0, g.PlacedAllocs - g.HealthyAllocs - g.UnhealthyAllocs), 'a-starting'],
        ['Not placed', Math.max(0, g.DesiredTotal - g.PlacedAllocs), 'a-queued'],
      ], { compact: true }), 'bar-cell'],
      ['Progress deadline', ([, g]) => (live && g.RequireProgressBy && !String(g.RequireProgressBy).startsWith('0001') ? formatTime(g.RequireProgressBy) : 'N/A')],
    ].filter(Boolean);
    replace(sec.deployment, section('Latest deployment',
      h('div', { class: 'row-between' },
        kv([
          ['ID', shortId(d.ID)],
          ['Version', String(d.JobVersion)],
          ['Status', badge(d.Status)],
          ['Description', d.StatusDescription],
          ['Created', age(d.CreateTime)],
        ]),
        h('div', { class: 'page-actions' }, acts)),
      table(cols, groups)));
    return undefined;
  }

  // ---- allocations ----

  let showAll = true;
  function drawAllocs() {
    if (tab !== 'overview' || !st.allocs) return;
    const toggle = h('input', { type: 'checkbox', checked: !showAll });
    toggle.addEventListener('change', () => { showAll = !toggle.checked; drawAllocs(); });
    const rows = st.allocs
      .filter((a) => showAll || (a.DesiredStatus === 'run' && !['complete', 'failed', 'lost'].includes(a.ClientStatus)))
      .sort((a, b) => b.CreateIndex - a.CreateIndex);
    replace(sec.allocs, section(`Allocations (${st.allocs.length})`,
      h('label', { class: 'check right' }, toggle, ' Hide finished'),
      allocTable(rows)));
  }

  // ---- versions ----

  function drawVersions() {
    if (tab !== 'versions' || !st.versions) return;
    const versions = st.versions.Versions || [];
    const diffs = st.versions.Diffs || [];
    const current = st.job ? st.job.Version : -1;
    replace(sec.versions, ...versions.map((v, i) => {
      const diff = diffs[i];
      const changed = diff && diff.Type !== 'None';
      return h('section', { class: 'card' },
        h('div', { class: 'row-between' },
          h('h2', null, `Version ${v.Version}`, ' ', v.Stable ? h('span', { class: 'tag' }, 'stable') : null, v.Version === current ? h('span', { class: 'tag' }, 'current') : null),
          h('div', { class: 'page-actions' }, h('span', { class: 'muted' }, 'submitted ', age(v.SubmitTime)), ' ',
            v.Version !== current && st.job ? button('Revert to this version', () => actions.revertJob(st.job, v.Version), 'small') : null)),
        diff ? (changed ? diffView(diff) : h('p', { class: 'muted' }, 'No changes from the previous version.'))
          : h('p', { class: 'muted' }, i === versions.length - 1 ? 'The first version kept.' : 'No diff available.'));
    }));
  }

  // ---- evaluations ----

  function drawEvals() {
    if (tab !== 'evaluations' || !st.evals) return;
    const rows = [...st.evals].sort((a, b) => b.CreateIndex - a.CreateIndex);
    replace(sec.evals, section(`Evaluations (${rows.length})`, evalTable(rows)));
  }

  // ---- definition ----

  function drawDefinition() {
    if (tab !== 'definition' || !st.job) return;
    const text = JSON.stringify(st.job, null, 2);
    replace(sec.definition, section('Definition',
      h('p', { class: 'muted' }, 'The job as the API stores it (JSON). The submitted HCL source is not kept by this agent. ',
        button('Edit and plan', () => {
          try { sessionStorage.setItem('nomad.run.draft', JSON.stringify({ Job: st.job }, null, 2)); } catch { /* ignore */ }
          ctx.navigate('/ui/jobs/run');
        }, 'small')),
      h('pre', { class: 'code' }, text)));
  }
}

/** The allocations table shared by job, client and evaluation pages. */
export function allocTable(rows, { node = true, job = false } = {}) {
  return table([
    ['ID', (a) => link(`/ui/allocations/${seg(a.ID)}`, h('code', null, shortId(a.ID)))],
    job ? ['Job', (a) => link(jobHref(a.JobID, a.Namespace), a.JobID)] : null,
    node ? ['Node', (a) => (a.NodeID ? link(`/ui/clients/${seg(a.NodeID)}`, a.NodeName || shortId(a.NodeID)) : '—')] : null,
    ['Group', (a) => a.TaskGroup],
    ['Version', (a) => String(a.JobVersion ?? (a.Job ? a.Job.Version : '')), 'num'],
    ['Desired', (a) => a.DesiredStatus],
    ['Status', (a) => badge(a.ClientStatus)],
    ['Created', (a) => age(a.CreateTime)],
    ['Modified', (a) => age(a.ModifyTime)],
  ].filter(Boolean), rows, { empty: 'No allocations.' });
}

/** The evaluations table (job page and evaluations list). */
export function evalTable(rows, { jobCol = false, open = '' } = {}) {
  return table([
    ['ID', (e) => link(`/ui/evaluations?id=${encodeURIComponent(e.ID)}`, h('code', null, shortId(e.ID)))],
    jobCol ? ['Job', (e) => link(jobHref(e.JobID, e.Namespace), e.JobID)] : null,
    ['Priority', (e) => String(e.Priority), 'num'],
    ['Triggered by', (e) => e.TriggeredBy],
    ['Status', (e) => badge(e.Status)],
    ['Placement failures', (e) => evalFailureStatus(e)],
    ['Created', (e) => age(e.CreateTime)],
  ].filter(Boolean), rows, {
    empty: 'No evaluations.',
    rowClass: (e) => (e.ID === open ? 'highlight' : null),
    after: (e) => evalDetail(e, e.ID === open),
  });
}

function evalLink(id) {
  return id ? link(`/ui/evaluations?id=${encodeURIComponent(id)}`, h('code', null, shortId(id))) : null;
}

/** The explanation of an evaluation: links and failed placements (CLI wording). */
export function evalDetail(e, always = false) {
  const failed = e.FailedTGAllocs && Object.keys(e.FailedTGAllocs).length;
  if (!failed && !always) return null;
  const why = Object.entries(e.FailedTGAllocs || {}).filter(([, m]) => m.Explanation).map(([tg, m]) => `${tg}: ${m.Explanation}`);
  const links = [
    ['Status description', e.StatusDescription || null],
    ['Previous eval', evalLink(e.PreviousEval)],
    ['Next eval', evalLink(e.NextEval)],
    ['Blocked eval', evalLink(e.BlockedEval)],
    ['Deployment', e.DeploymentID ? shortId(e.DeploymentID) : null],
    ['Node', e.NodeID ? link(`/ui/clients/${seg(e.NodeID)}`, shortId(e.NodeID)) : null],
    ['Wait until', e.WaitUntil && !String(e.WaitUntil).startsWith('0001') ? formatTime(e.WaitUntil) : null],
    ['Wait', e.Wait ? formatNanos(e.Wait) : null],
  ];
  return h('div', { class: 'eval-detail' },
    always ? kv(links) : null,
    failed ? h('div', null, h('h3', null, 'Failed placements'), h('pre', { class: 'cli' }, failedPlacementText(e.FailedTGAllocs)),
      why.length ? h('p', { class: 'muted' }, 'Why: ', why.join('; ')) : null,
      e.BlockedEval ? h('p', { class: 'muted' }, `Evaluation ${quote(shortId(e.BlockedEval))} waiting for additional capacity to place remainder`) : null) : null);
}

