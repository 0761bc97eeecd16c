// The job page's actions, each a dialog over one /v1 write: stop (and
// purge), start, scale a group, force a periodic launch, dispatch a
// parameterized job, revert to a version, and promote, fail, pause or
// resume a deployment. Errors stay in the dialog with the API's text.

import { write, seg } from '../lib/api.js';
import { formDialog, confirmDialog, notify } from '../lib/ui.js';
import { shortId } from '../lib/format.js';
import { jobHref } from './jobs.js';

function jobPath(job, suffix = '') {
  return `/v1/job/${seg(job.ID)}${suffix}`;
}

function nsQuery(job) {
  return { namespace: job.Namespace || 'default' };
}

/** Stops the job (DELETE /v1/job/:id), optionally purging it. */
export async function stopJob(job, navigate) {
  const res = await confirmDialog(
    `Stop job ${job.ID}`,
    'Every allocation of this job will be stopped.',
    'Stop job',
    async (v) => {
      const r = await write('DELETE', jobPath(job), undefined, { ...nsQuery(job), purge: v.purge ? 'true' : '' });
      return { ...r, purged: v.purge };
    },
    [{ name: 'purge', type: 'checkbox', label: 'Purge: also remove the job and its history from the cluster' }],
  );
  if (!res) return;
  notify(`Job ${job.ID} ${res.purged ? 'purged' : 'stopped'}; evaluation ${shortId(res.EvalID)}`, 'ok');
  if (res.purged) navigate('/ui/jobs');
}

/** Starts a stopped job: registers its definition again with Stop = false. */
export async function startJob(job) {
  const res = await confirmDialog(`Start job ${job.ID}`, 'The job is registered again from its current definition.', 'Start job', () =>
    write('POST', '/v1/jobs', { Job: { ...job, Stop: false } }, nsQuery(job)));
  if (res) notify(`Job ${job.ID} started; evaluation ${shortId(res.EvalID)}`, 'ok');
}

/** Sets a task group's count (POST /v1/job/:id/scale). */
export async function scaleGroup(job, group, count) {
  const res = await formDialog({
    title: `Scale ${job.ID} / ${group}`,
    submitText: 'Scale',
    fields: [
      { name: 'count', label: 'Count', type: 'number', min: 0, value: String(count), required: true },
      { name: 'message', label: 'Message (recorded in the scaling events)', value: 'scaled from the web UI' },
    ],
    submit: (v) => {
      const n = Number(v.count);
      if (!Number.isInteger(n) || n < 0) throw new Error('The count must be a whole number, 0 or more.');
      return write('POST', jobPath(job, '/scale'), { Count: n, Target: { Group: group }, Message: v.message }, nsQuery(job));
    },
  });
  if (res) notify(`Scaled ${group}; evaluation ${shortId(res.EvalID)}`, 'ok');
}

/** Launches a periodic job now (POST /v1/job/:id/periodic/force). */
export async function forceLaunch(job) {
  const res = await confirmDialog(`Force a launch of ${job.ID}`, 'A child job is created now, outside the schedule.', 'Launch now', () =>
    write('POST', jobPath(job, '/periodic/force'), {}, nsQuery(job)));
  if (res) notify(`Launched; evaluation ${shortId(res.EvalID)}`, 'ok');
}

/** `key=value` lines into an object; throws on a line without `=`. */
export function parseMeta(text) {
  const meta = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`Meta line ${JSON.stringify(line)}: expected key=value`);
    meta[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return meta;
}

/** UTF-8 text as base64 (the dispatch payload's encoding). */
export function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Dispatches a parameterized job with meta and a payload; opens the child. */
export async function dispatchJob(job, navigate) {
  const p = job.ParameterizedJob || {};
  const required = p.MetaRequired || [];
  const optional = p.MetaOptional || [];
  const payloadMode = p.Payload || 'optional';
  const keys = [
    required.length ? `required: ${required.join(', ')}` : null,
    optional.length ? `optional: ${optional.join(', ')}` : null,
  ].filter(Boolean).join('; ');
  const fields = [{
    name: 'meta',
    label: 'Meta, one key=value per line',
    type: 'textarea',
    rows: 4,
    value: required.map((k) => `${k}=`).join('\n'),
    help: keys ? `Meta keys ${keys}.` : 'This job declares no meta keys.',
  }];
  if (payloadMode !== 'forbidden') {
    fields.push({ name: 'payload', label: `Payload (${payloadMode})`, type: 'textarea', rows: 6 });
  }
  const res = await formDialog({
    title: `Dispatch ${job.ID}`,
    submitText: 'Dispatch',
    fields,
    submit: (v) => {
      const body = { JobID: job.ID, Meta: parseMeta(v.meta || '') };
      if (v.payload) body.Payload = base64(v.payload);
      return write('POST', jobPath(job, '/dispatch'), body, nsQuery(job));
    },
  });
  if (!res) return;
  notify(`Dispatched ${res.DispatchedJobID}`, 'ok');
  navigate(jobHref(res.DispatchedJobID, job.Namespace));
}

/** Reverts the job to an earlier version (POST /v1/job/:id/revert). */
export async function revertJob(job, version) {
  const res = await confirmDialog(`Revert ${job.ID} to version ${version}`, 'The job is registered again with that version\'s definition.', 'Revert', () =>
    write('POST', jobPath(job, '/revert'), { JobID: job.ID, JobVersion: version }, nsQuery(job)));
  if (res) notify(`Reverted to version ${version}; evaluation ${shortId(res.EvalID)}`, 'ok');
}

/** Promotes every canary of a deployment. */
export async function promoteDeployment(d) {
  const res = await confirmDialog('Promote the deployment', `Promote the canaries of deployment ${shortId(d.ID)}.`, 'Promote', () =>
    write('POST', `/v1/deployment/promote/${seg(d.ID)}`, { DeploymentID: d.ID, All: true }));
  if (res) notify(`Deployment ${shortId(d.ID)} promoted`, 'ok');
}

/** Marks a deployment failed (the job rolls back if auto_revert is set). */
export async function failDeployment(d) {
  const res = await confirmDialog('Fail the deployment', `Mark deployment ${shortId(d.ID)} as failed.`, 'Fail deployment', () =>
    write('POST', `/v1/deployment/fail/${seg(d.ID)}`, {}));
  if (res) notify(`Deployment ${shortId(d.ID)} failed`, 'ok');
}

/** Pauses or resumes a deployment. */
export async function pauseDeployment(d, pause) {
  const verb = pause ? 'Pause' : 'Resume';
  const res = await confirmDialog(`${verb} the deployment`, `${verb} deployment ${shortId(d.ID)}.`, verb, () =>
    write('POST', `/v1/deployment/pause/${seg(d.ID)}`, { DeploymentID: d.ID, Pause: pause }));
  if (res) notify(`Deployment ${shortId(d.ID)} ${pause ? 'paused' : 'resumed'}`, 'ok');
}
