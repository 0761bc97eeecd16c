// Run a job from the browser, as `nomad job plan` then `nomad job run
// -check-index N`: the HCL (or JSON) is parsed by the agent
// (/v1/jobs/parse), planned with a diff (/v1/job/:id/plan), and registered
// only if the job has not changed since the plan.

import { h, replace, section, table } from '../lib/dom.js';
import { write, seg } from '../lib/api.js';
import { errorBox, diffView, button, notify } from '../lib/ui.js';
import { failedTgLine, allocMetricLines, shortId } from '../lib/format.js';
import { jobHref } from './jobs.js';

const DRAFT_KEY = 'nomad.run.draft';
const EXAMPLE = `job "example" {
  datacenters = ["dc1"]

  group "app" {
    count = 1

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo hello; sleep 5; done"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`;

export function mount(ctx) {
  ctx.title('Run a job');
  let draft = '';
  try {
    draft = sessionStorage.getItem(DRAFT_KEY) || '';
    sessionStorage.removeItem(DRAFT_KEY);
  } catch { /* storage disabled */ }

  const editor = h('textarea', { class: 'editor', spellcheck: 'false', rows: 24, 'aria-label': 'Job specification', value: draft || EXAMPLE });
  const planBtn = button('Plan', () => plan(), 'primary');
  const out = h('div');
  let planned = null;

  editor.addEventListener('input', () => { planned = null; replace(out); });

  ctx.el.append(
    h('header', { class: 'page-header' }, h('h1', null, 'Run a job'), h('div', { class: 'page-actions' }, planBtn)),
    section(null,
      h('p', { class: 'muted' }, 'Paste a job file in HCL2 or JSON. ', h('b', null, 'Plan'),
        ' shows what would change; ', h('b', null, 'Run'), ' registers the job if nobody changed it since the plan (as ',
        h('code', null, 'nomad job run -check-index'), ').'),
      editor),
    out,
  );

  async function parse(text) {
    const t = text.trim();
    if (t.startsWith('{')) {
      let v;
      try { v = JSON.parse(t); } catch (e) { throw new Error(`The JSON does not parse: ${e.message}`); }
      return v.Job || v.job || v;
    }
    return write('POST', '/v1/jobs/parse', { JobHCL: text, Canonicalize: true });
  }

  async function plan() {
    planBtn.disabled = true;
    replace(out, h('p', { class: 'muted' }, 'Planning…'));
    try {
      const job = await parse(editor.value);
      if (!job || !job.ID) throw new Error('The job has no ID.');
      const ns = job.Namespace || (ctx.namespace === '*' ? 'default' : ctx.namespace);
      const resp = await write('POST', `/v1/job/${seg(job.ID)}/plan`, { Job: job, Diff: true }, { namespace: ns });
      planned = { job, ns, resp };
      drawPlan();
    } catch (e) {
      planned = null;
      replace(out, errorBox(e));
    } finally {
      planBtn.disabled = false;
    }
  }

  function drawPlan() {
    const { job, resp } = planned;
    const updates = Object.entries((resp.Annotations && resp.Annotations.DesiredTGUpdates) || {});
    const failed = Object.entries(resp.FailedTGAllocs || {});
    const runBtn = button('Run', () => runJob(runBtn), 'primary');
    replace(out,
      section('Plan',
        resp.Diff ? diffView(resp.Diff) : h('p', { class: 'muted' }, 'No diff.'),
        updates.length ? table([
          ['Task group', ([n]) => n],
          ['Place', ([, u]) => String(u.Place), 'num'],
          ['Stop', ([, u]) => String(u.Stop), 'num'],
          ['In place', ([, u]) => String(u.InPlaceUpdate), 'num'],
          ['Destructive', ([, u]) => String(u.DestructiveUpdate), 'num'],
          ['Canary', ([, u]) => String(u.Canary), 'num'],
          ['Ignore', ([, u]) => String(u.Ignore), 'num'],
        ], updates) : null,
        failed.length ? h('div', { class: 'warn-block' }, h('h3', null, 'Scheduler dry-run: placement failures'),
          h('pre', { class: 'cli' }, failed.map(([tg, m]) => [failedTgLine(tg, m), ...allocMetricLines(m, '    ')].join('\n')).join('\n\n')))
          : h('p', null, '✓ All tasks successfully allocated.'),
        resp.Warnings ? h('p', { class: 'warn-text' }, `Warnings: ${resp.Warnings}`) : null,
        h('div', { class: 'actions' }, h('span', { class: 'muted' }, `Job modify index: ${resp.JobModifyIndex}`), runBtn)),
    );
    runBtn.title = `Registers ${job.ID} if its modify index is still ${resp.JobModifyIndex}`;
  }

  async function runJob(btn) {
    if (!planned) return;
    const { job, ns, resp } = planned;
    btn.disabled = true;
    try {
      const r = await write('POST', '/v1/jobs', { Job: job, EnforceIndex: true, JobModifyIndex: resp.JobModifyIndex }, { namespace: ns });
      notify(`Job ${job.ID} registered; evaluation ${shortId(r.EvalID)}`, 'ok');
      ctx.navigate(jobHref(job.ID, job.Namespace || ns));
    } catch (e) {
      out.append(errorBox(e));
      btn.disabled = false;
    }
  }
}
