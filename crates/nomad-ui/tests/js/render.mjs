// Renders every page of the UI under Node against a running agent, with
// the DOM stand-in of dom_shim.mjs: each page must show its data without
// an error banner, an uncaught exception or a console error; an idle page
// must not poll (a query is re-issued only after its index moved); with
// --write, the actions (stop, start, scale, revert, alloc stop, plan and
// run, deployment fail, dispatch, periodic force, eligibility, drain) must
// change the cluster, and a job registered through the API must appear on
// the open jobs list (blocking query).
//
//   node render.mjs http://127.0.0.1:4646 [--write] [--log-text TEXT]
//
// --write allows the checks that change the cluster (jobs named
// ui-render-*, purged at the end; the first client is made ineligible and
// drained, then restored). --log-text waits for TEXT in the first running
// allocation's log panel, then for lines printed after the page opened.

import { install } from './dom_shim.mjs';

const args = process.argv.slice(2);
const base = args.find((a) => !a.startsWith('--')) || 'http://127.0.0.1:4646';
const write = args.includes('--write');
const logText = args.includes('--log-text') ? args[args.indexOf('--log-text') + 1] : null;

const problems = [];
const log = (...a) => console.log(...a);
process.on('uncaughtException', (e) => problems.push(`uncaught exception: ${e.stack || e}`));
process.on('unhandledRejection', (e) => problems.push(`unhandled rejection: ${e && e.stack ? e.stack : e}`));
const consoleError = console.error;
console.error = (...a) => { problems.push(`console.error: ${a.join(' ')}`); consoleError(...a); };

const dom = install(base, '/ui/jobs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const api = async (path, init) => {
  const r = await fetch(new URL(path, base), init);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  const t = await r.text();
  return t ? JSON.parse(t) : null;
};

async function waitFor(what, fn, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const viewText = () => dom.view().textContent;

let app;
async function visit(path, expect, { allowErrors = false } = {}) {
  const before = problems.length;
  app.navigate(path);
  try {
    await waitFor(`${expect.map((e) => JSON.stringify(e)).join(', ')} on ${path}`,
      () => expect.every((e) => viewText().includes(e)));
    await sleep(150);
    const banners = dom.view().querySelectorAll('.error');
    if (banners.length && !allowErrors) throw new Error(`error banner: ${banners.map((b) => b.textContent).join(' | ')}`);
    if (problems.length > before) throw new Error(problems.slice(before).join('\n'));
    log(`ok   ${path}`);
  } catch (e) {
    problems.push(`${path}: ${e.message}`);
    log(`FAIL ${path}: ${e.message}\n     page text: ${viewText().slice(0, 600)}`);
  }
}

async function main() {
  app = await import('../../assets/app.js');
  const jobs = await api('/v1/jobs?namespace=*');
  const job = jobs.find((j) => !j.ParentID && j.Type === 'service') || jobs.find((j) => !j.ParentID) || null;
  const nodes = await api('/v1/nodes');
  const evals = await api('/v1/evaluations?namespace=*');
  const allocs = await api('/v1/allocations?namespace=*');
  const running = allocs.find((a) => a.ClientStatus === 'running') || allocs[0] || null;
  const nsq = (j) => (j.Namespace && j.Namespace !== 'default' ? `?namespace=${j.Namespace}` : '');

  await visit('/ui/jobs', job ? [job.ID] : ['No jobs yet']);
  if (job) {
    const p = `/ui/jobs/${encodeURIComponent(job.ID)}`;
    await visit(p + nsq(job), ['Summary', 'Allocations', job.ID]);
    await visit(`${p}/versions${nsq(job)}`, ['Version 0']);
    await visit(`${p}/evaluations${nsq(job)}`, ['Evaluations (']);
    await visit(`${p}/definition${nsq(job)}`, ['"TaskGroups"']);
  }
  for (const parent of jobs.filter((j) => (j.Periodic || j.ParameterizedJob) && !j.ParentID).slice(0, 2)) {
    await visit(`/ui/jobs/${encodeURIComponent(parent.ID)}${nsq(parent)}`, ['Children (']);
  }
  const child = jobs.find((j) => j.ParentID);
  if (child) await visit(`/ui/jobs/${encodeURIComponent(child.ID)}${nsq(child)}`, [child.ID, child.ParentID]);
  if (running) {
    await visit(`/ui/allocations/${running.ID}`, ['Tasks', 'Logs', 'Resources', running.ID]);
    if (logText) {
      try {
        await waitFor(`log text ${logText}`, () => {
          const pre = dom.view().querySelector('pre.logs');
          return pre && pre.textContent.includes(logText);
        }, 15000);
        log(`ok   log panel shows ${JSON.stringify(logText)}`);
        // Lines the task prints after the page opened arrive while it stays open.
        const pre = dom.view().querySelector('pre.logs');
        const lines = pre.textContent.split('\n').length;
        await waitFor('new log lines while the page is open', () => pre.textContent.split('\n').length > lines, 15000);
        log('ok   log panel follows: new lines arrived after the page opened');
      } catch (e) {
        problems.push(e.message);
        log(`FAIL ${e.message}`);
      }
    }
  }
  await visit('/ui/clients', nodes.length ? [nodes[0].Name] : ['No clients']);
  if (nodes.length) await visit(`/ui/clients/${nodes[0].ID}`, ['Drivers', 'Attributes', 'Resources']);
  await visit('/ui/servers', ['Members (', 'Raft peers', 'This agent']);
  await visit('/ui/topology', nodes.length ? ['Datacenter ', nodes[0].Name] : ['No clients']);
  await visit('/ui/evaluations', evals.length ? [evals[0].ID.slice(0, 8)] : ['No evaluations']);
  const failed = evals.find((e) => e.FailedTGAllocs && Object.keys(e.FailedTGAllocs).length);
  if (failed) await visit(`/ui/evaluations?id=${failed.ID}`, ['Failed placements', 'failed to place']);
  await visit('/ui/settings/tokens', ['ACL token']);
  await visit('/ui/jobs/run', ['Run a job', 'Plan']);
  await visit('/ui/no/such/page', ['Page not found']);

  // An idle page keeps one blocking query per watch open and polls nothing.
  app.navigate('/ui/jobs');
  await sleep(1500);
  const start = dom.requests.length;
  await sleep(3000);
  const idle = dom.requests.slice(start).filter((r) => r.url.startsWith('/v1/'));
  // Each request is re-issued only after a change: never twice with the same index.
  const urls = idle.map((r) => r.url);
  if (new Set(urls).size !== urls.length || urls.length > 10) problems.push(`idle jobs page polled: ${urls.join(', ')}`);
  else log(`ok   idle jobs page: ${urls.length} request(s) in 3s, each after a change`);

  if (write) await writes();
  app.navigate('/ui/settings/tokens'); // disposes of every watch and stream
  await sleep(100);
}

async function writes() {
  const id = 'ui-render-check';
  const body = {
    Job: {
      ID: id, Name: id, Type: 'batch', Datacenters: ['dc1'],
      TaskGroups: [{ Name: 'g', Count: 1, Tasks: [{ Name: 't', Driver: 'raw_exec', Config: { command: '/bin/sleep', args: ['600'] }, Resources: { CPU: 20, MemoryMB: 16 } }] }],
    },
  };
  // The open jobs list picks up a new job without a reload.
  app.navigate('/ui/jobs');
  await sleep(800);
  await api('/v1/jobs', { method: 'PUT', body: JSON.stringify(body) });
  try {
    await waitFor('the new job on the open jobs list', () => viewText().includes(id));
    log('ok   a job registered through the API appears on the open jobs list');
  } catch (e) {
    problems.push(e.message);
  }
  // Stop it from its page: the Stop button, then the dialog's confirmation.
  app.navigate(`/ui/jobs/${id}`);
  try {
    const stop = await waitFor('the Stop button', () => dom.view().querySelectorAll('button').find((b) => b.textContent === 'Stop'));
    stop.click();
    const form = await waitFor('the stop dialog', () => { const d = dom.document.querySelector('dialog'); return d && d.querySelector('form'); });
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    await waitFor('the job to be stopped', () => viewText().includes('stopped'));
    const j = await api(`/v1/job/${id}`);
    if (!j.Stop) throw new Error('the job is not stopped in the API');
    log('ok   stopping a job from its page stops it');
  } catch (e) {
    problems.push(`stop from the UI: ${e.message}`);
  }
  // Start it again: the Start button re-registers it.
  try {
    await clickButton('Start');
    await submitDialog();
    await waitFor('the job to run again', async () => !(await api(`/v1/job/${id}`)).Stop);
    log('ok   starting a stopped job from its page');
  } catch (e) {
    problems.push(`start from the UI: ${e.message}`);
  }
  // Scale its group to 2.
  try {
    await clickButton('Scale');
    await submitDialog({ count: '2' });
    await waitFor('the count to be 2', async () => (await api(`/v1/job/${id}`)).TaskGroups[0].Count === 2);
    log('ok   scaling a group from the job page');
  } catch (e) {
    problems.push(`scale from the UI: ${e.message}`);
  }
  // Revert to version 0 from the versions tab.
  app.navigate(`/ui/jobs/${id}/versions`);
  try {
    await waitFor('version 1 listed', () => viewText().includes('Version 1'));
    await clickButton('Revert to this version');
    await submitDialog();
    await waitFor('count 1 again', async () => (await api(`/v1/job/${id}`)).TaskGroups[0].Count === 1);
    log('ok   reverting to an earlier version');
  } catch (e) {
    problems.push(`revert from the UI: ${e.message}`);
  }
  // Stop one allocation from its page.
  try {
    const alloc = await waitFor('an allocation', async () => (await api(`/v1/job/${id}/allocations`)).find((a) => a.DesiredStatus === 'run'));
    app.navigate(`/ui/allocations/${alloc.ID}`);
    await clickButton('Stop');
    await submitDialog();
    await waitFor('the allocation to stop', async () => (await api(`/v1/allocation/${alloc.ID}`)).DesiredStatus === 'stop');
    log('ok   stopping an allocation from its page');
  } catch (e) {
    problems.push(`alloc stop from the UI: ${e.message}`);
  }
  await fetch(new URL(`/v1/job/${id}?purge=true`, base), { method: 'DELETE' });

  // Plan and run a job from HCL on the run page.
  app.navigate('/ui/jobs/run');
  try {
    const editor = await waitFor('the editor', () => dom.view().querySelector('textarea'));
    editor.value = editor.value.replace('job "example"', 'job "ui-render-run"');
    await clickButton('Plan');
    await waitFor('the plan', () => viewText().includes('Job modify index'));
    if (!viewText().includes('+ Job: "ui-render-run"')) throw new Error(`no diff in: ${viewText().slice(0, 400)}`);
    await clickButton('Run');
    await waitFor('the new job page', () => location.pathname === '/ui/jobs/ui-render-run');
    await api('/v1/job/ui-render-run');
    log('ok   planning and running a job from HCL');
  } catch (e) {
    problems.push(`run page: ${e.message}`);
  }

  // Fail a deployment (when the agent opens deployments for service jobs).
  const did = 'ui-render-deploy';
  const svc = (env) => ({ Job: { ...body.Job, ID: did, Name: did, Type: 'service', TaskGroups: [{ ...body.Job.TaskGroups[0], Update: { Canary: 1, MaxParallel: 1 }, Tasks: [{ ...body.Job.TaskGroups[0].Tasks[0], Env: { V: env } }] }] } });
  await api('/v1/jobs', { method: 'PUT', body: JSON.stringify(svc('1')) });
  await sleep(1000);
  await api('/v1/jobs', { method: 'PUT', body: JSON.stringify(svc('2')) });
  let dep = null;
  try {
    dep = await waitFor('a running deployment', async () => {
      const d = await api(`/v1/job/${did}/deployment`);
      return d && d.JobVersion === 1 && d.Status === 'running' ? d : null;
    }, 5000);
  } catch {
    log('skip deployment actions: the agent opened no deployment');
  }
  if (dep) {
    app.navigate(`/ui/jobs/${did}`);
    try {
      await waitFor('the Promote button', () => dom.view().querySelectorAll('button').find((b) => b.textContent === 'Promote'));
      await clickButton('Fail');
      await submitDialog();
      await waitFor('the deployment to fail', async () => (await api(`/v1/deployment/${dep.ID}`)).Status === 'failed');
      log('ok   failing a deployment (Promote was offered for its canary)');
    } catch (e) {
      problems.push(`deployment from the UI: ${e.message}`);
    }
  }

  // Dispatch a parameterized job with meta and a payload; the page opens the child.
  const pid = 'ui-render-params';
  await api('/v1/jobs', { method: 'PUT', body: JSON.stringify({ Job: { ...body.Job, ID: pid, Name: pid, Type: 'batch', ParameterizedJob: { Payload: 'optional', MetaRequired: ['who'] } } }) });
  app.navigate(`/ui/jobs/${pid}`);
  try {
    await clickButton('Dispatch');
    await submitDialog({ meta: 'who=ui', payload: 'hello ✓' });
    const child = await waitFor('the dispatched child page', () => (location.pathname.startsWith(`/ui/jobs/${pid}%2F`) ? decodeURIComponent(location.pathname.slice(9)) : null));
    const j = await api(`/v1/job/${encodeURIComponent(child)}`);
    if (j.Meta.who !== 'ui') throw new Error(`meta ${JSON.stringify(j.Meta)}`);
    if (Buffer.from(j.Payload, 'base64').toString() !== 'hello ✓') throw new Error(`payload ${j.Payload}`);
    log('ok   dispatching a parameterized job with meta and payload');
  } catch (e) {
    problems.push(`dispatch from the UI: ${e.message}`);
  }
  // Force a periodic launch.
  const cid = 'ui-render-cron';
  await api('/v1/jobs', { method: 'PUT', body: JSON.stringify({ Job: { ...body.Job, ID: cid, Name: cid, Type: 'batch', Periodic: { Enabled: true, SpecType: 'cron', Specs: ['0 3 * * *'] } } }) });
  app.navigate(`/ui/jobs/${cid}`);
  try {
    await clickButton('Force launch');
    await submitDialog();
    await waitFor('a periodic child', async () => (await api(`/v1/jobs?prefix=${cid}/`)).length > 0);
    log('ok   forcing a periodic launch');
  } catch (e) {
    problems.push(`periodic force from the UI: ${e.message}`);
  }
  for (const j of await api(`/v1/jobs?prefix=ui-render-`)) {
    await fetch(new URL(`/v1/job/${encodeURIComponent(j.ID)}?purge=true`, base), { method: 'DELETE' });
  }

  // A client's eligibility, from its page.
  const [node] = await api('/v1/nodes');
  if (node) {
    app.navigate(`/ui/clients/${node.ID}`);
    try {
      await clickButton('Make ineligible');
      await waitFor('ineligible', async () => (await api(`/v1/node/${node.ID}`)).SchedulingEligibility === 'ineligible');
      await clickButton('Make eligible');
      await waitFor('eligible', async () => (await api(`/v1/node/${node.ID}`)).SchedulingEligibility === 'eligible');
      log('ok   toggling a client\'s eligibility');
      await clickButton('Drain');
      await submitDialog({ deadline: '1h' });
      const drained = await waitFor('the drain', async () => (await api(`/v1/node/${node.ID}`)).DrainStrategy);
      if (drained.Deadline !== 3600e9) throw new Error(`drain deadline ${drained.Deadline}`);
      await clickButton('Stop drain');
      await submitDialog();
      await waitFor('the drain to stop', async () => {
        const n = await api(`/v1/node/${node.ID}`);
        return !n.DrainStrategy && n.SchedulingEligibility === 'eligible';
      });
      log('ok   draining a client and stopping the drain');
    } catch (e) {
      problems.push(`eligibility and drain from the UI: ${e.message}`);
    }
  }
}

async function clickButton(text) {
  const b = await waitFor(`the ${text} button`, () => dom.view().querySelectorAll('button').find((x) => x.textContent === text && !x.disabled));
  b.click();
}

/** Fills the open dialog's named inputs and submits it. */
async function submitDialog(values = {}) {
  const form = await waitFor('a dialog', () => { const d = dom.document.querySelector('dialog'); return d && d.open && d.querySelector('form'); });
  for (const [k, v] of Object.entries(values)) {
    const input = form.querySelectorAll('input,textarea,select').find((i) => i.getAttribute('name') === k);
    if (!input) throw new Error(`no field ${k} in the dialog`);
    input.value = v;
  }
  form.dispatchEvent(new Event('submit', { cancelable: true }));
  try {
    await waitFor('the dialog to close', () => !dom.document.querySelector('dialog'));
  } catch (e) {
    const d = dom.document.querySelector('dialog');
    if (d) d.close();
    throw new Error(`${e.message}; the dialog says: ${d ? d.textContent : ''}`);
  }
}

main().then(() => {
  if (problems.length) {
    log(`\n${problems.length} problem(s):\n${problems.join('\n')}`);
    process.exit(1);
  }
  log('all pages rendered');
  process.exit(0);
}, (e) => {
  log(`harness failed: ${e.stack}`);
  process.exit(2);
});
