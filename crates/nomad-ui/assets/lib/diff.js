// A JobDiff (from /v1/job/:id/versions?diffs=true or a plan) as the text
// `nomad job plan` and `nomad job history -p` print, without colors: the
// same markers (`+`, `-`, `+/-`), alignment and nesting as the CLI's
// formatJobDiff in crates/nomad-cli/src/commands/plan.rs.

function marker(t) {
  switch (t) {
    case 'Added': return ['+ ', 2];
    case 'Deleted': return ['- ', 2];
    case 'Edited': return ['+/- ', 4];
    default: return ['', 0];
  }
}

const sp = (n) => ' '.repeat(Math.max(0, n));
const q = (s) => JSON.stringify(String(s ?? ''));

/** The whole diff as text (lines separated by `\n`). */
export function formatJobDiff(job, verbose = false) {
  const [m] = marker(job.Type);
  let out = `${m}Job: ${q(job.ID)}\n`;
  const fields = job.Fields || [];
  const objects = job.Objects || [];
  const groups = job.TaskGroups || [];
  let [longestField, longestMarker] = longestPrefixes(fields, objects);
  for (const tg of groups) longestMarker = Math.max(longestMarker, marker(tg.Type)[1]);
  if (job.Type === 'Edited' || verbose) {
    const fo = aligned(fields, objects, 0, longestField, longestMarker);
    out += fo;
    if (fo) out += '\n';
  }
  for (const tg of groups) {
    out += `${formatTgDiff(tg, longestMarker - marker(tg.Type)[1], verbose)}\n`;
  }
  return out;
}

function formatTgDiff(tg, tgPrefix, verbose) {
  const [m] = marker(tg.Type);
  let out = `${m}${sp(tgPrefix)}Task Group: ${q(tg.Name)}`;
  const updates = Object.entries(tg.Updates || {});
  out += updates.length ? ` (${updates.map(([k, n]) => `${n} ${k}`).join(', ')})\n` : '\n';
  const fields = tg.Fields || [];
  const objects = tg.Objects || [];
  const tasks = tg.Tasks || [];
  let [longestField, longestMarker] = longestPrefixes(fields, objects);
  for (const t of tasks) longestMarker = Math.max(longestMarker, marker(t.Type)[1]);
  const sub = tgPrefix + 2;
  if (tg.Type === 'Edited' || verbose) {
    const fo = aligned(fields, objects, sub, longestField, longestMarker);
    out += fo;
    if (fo) out += '\n';
  }
  for (const t of tasks) {
    out += `${formatTaskDiff(t, sub, longestMarker - marker(t.Type)[1], verbose)}\n`;
  }
  return out;
}

function formatTaskDiff(task, start, taskPrefix, verbose) {
  const [m] = marker(task.Type);
  let out = `${sp(start)}${m}${sp(taskPrefix)}Task: ${q(task.Name)}`;
  if ((task.Annotations || []).length) out += ` (${task.Annotations.join(', ')})`;
  const t = task.Type;
  if (t === 'None' || ((t === 'Deleted' || t === 'Added') && !verbose)) return out;
  out += '\n';
  const fields = task.Fields || [];
  const objects = task.Objects || [];
  const [lf, lm] = longestPrefixes(fields, objects);
  out += aligned(fields, objects, start + 2, lf, lm);
  return out;
}

function formatObjectDiff(d, start, keyPrefix) {
  const [m, mlen] = marker(d.Type);
  let out = `${sp(start)}${m}${sp(keyPrefix)}${d.Name} {\n`;
  const fields = d.Fields || [];
  const objects = d.Objects || [];
  const [lf, lm] = longestPrefixes(fields, objects);
  out += aligned(fields, objects, start + keyPrefix + 2, lf, lm);
  return `${out}\n${sp(start + mlen + keyPrefix)}}`;
}

function formatFieldDiff(d, start, keyPrefix, valuePrefix) {
  const [m] = marker(d.Type);
  let out = `${sp(start)}${m}${sp(keyPrefix)}${d.Name}: ${sp(valuePrefix)}`;
  if (d.Type === 'Added') out += q(d.New);
  else if (d.Type === 'Deleted') out += q(d.Old);
  else if (d.Type === 'Edited') out += `${q(d.Old)} => ${q(d.New)}`;
  else out += q(d.New);
  if ((d.Annotations || []).length) out += ` (${d.Annotations.join(', ')})`;
  return out;
}

function aligned(fields, objects, start, longestField, longestMarker) {
  let out = '';
  fields.forEach((f, i) => {
    const kp = longestMarker - marker(f.Type)[1];
    const vp = Math.max(0, longestField - f.Name.length);
    out += formatFieldDiff(f, start, kp, vp);
    if (i + 1 !== fields.length || objects.length) out += '\n';
  });
  objects.forEach((o, i) => {
    out += formatObjectDiff(o, start, longestMarker - marker(o.Type)[1]);
    if (i + 1 !== objects.length) out += '\n';
  });
  return out;
}

function longestPrefixes(fields, objects) {
  let lf = 0;
  let lm = 0;
  for (const f of fields) {
    lf = Math.max(lf, f.Name.length);
    lm = Math.max(lm, marker(f.Type)[1]);
  }
  for (const o of objects) lm = Math.max(lm, marker(o.Type)[1]);
  return [lf, lm];
}

/** The kind of a diff line, for coloring: 'add', 'del', 'edit' or ''. */
export function lineKind(line) {
  const t = line.trimStart();
  if (t.startsWith('+/- ')) return 'edit';
  if (t.startsWith('+ ')) return 'add';
  if (t.startsWith('- ')) return 'del';
  return '';
}
