// Pure formatting helpers (no DOM): the texts the CLI prints, times and
// sizes, and the arithmetic behind the status bars and the topology.
// tests/js/format.test.mjs runs them under Node when it is installed.

/** The 8-character short ID the CLI prints. */
export function shortId(id) {
  return (id || '').slice(0, 8);
}

/** Go's %q for ordinary strings (what Rust's {:?} prints too). */
export function quote(s) {
  return JSON.stringify(String(s));
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * A Date from Nomad's times: Unix nanoseconds (numbers) or RFC 3339
 * strings; null for Go's zero time, 0 and missing values.
 */
export function toDate(v) {
  if (v === null || v === undefined || v === 0 || v === '' || v === ZERO_TIME) return null;
  if (typeof v === 'number') return new Date(v / 1e6);
  if (typeof v === 'string' && v.startsWith('0001-01-01')) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t);
}

/** `2026-11-26 07:27:18` in the browser's time zone. */
export function formatTime(v) {
  const d = toDate(v);
  if (!d) return '—';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A duration in milliseconds as the CLI prints ages: `45s`, `3m12s`, `2h4m`, `3d4h`. */
export function formatAge(ms) {
  if (ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return `${hr}h${m % 60}m`;
  return `${Math.floor(hr / 24)}d${hr % 24}h`;
}

/** `3m12s ago` for a Nomad time, `—` when unset. */
export function ago(v, now = Date.now()) {
  const d = toDate(v);
  return d ? `${formatAge(now - d.getTime())} ago` : '—';
}

/** Nanoseconds as Go prints a time.Duration (`1m30s`, `250ms`, `0s`). */
export function formatNanos(ns) {
  if (!ns) return '0s';
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out;
  if (n < 1e3) out = `${n}ns`;
  else if (n < 1e6) out = `${trimNum(n / 1e3)}µs`;
  else if (n < 1e9) out = `${trimNum(n / 1e6)}ms`;
  else {
    const totalS = n / 1e9;
    const h = Math.floor(totalS / 3600);
    const m = Math.floor((totalS % 3600) / 60);
    const s = totalS - h * 3600 - m * 60;
    out = (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${trimNum(s)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimNum(x) {
  return String(Math.round(x * 1000) / 1000);
}

/** Parses `90s`, `10m`, `1h30m`, `500ms` into nanoseconds; null when invalid. */
export function parseDuration(text) {
  const s = String(text).trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let pos = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    total += parseFloat(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  return s && pos === s.length ? Math.round(total) : null;
}

/** Megabytes as `512 MiB` / `1.5 GiB`. */
export function formatMB(mb) {
  if (mb === null || mb === undefined) return '—';
  if (mb >= 1024) return `${Math.round((mb / 1024) * 10) / 10} GiB`;
  return `${mb} MiB`;
}

/** Bytes as `12 KiB`, `3.4 MiB`. */
export function formatBytes(b) {
  if (!b) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i += 1; }
  return `${Math.round(b * 10) / 10} ${units[i]}`;
}

/** A percentage of `part` in `whole`, 0 when whole is 0. */
export function percent(part, whole) {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

// ---- placement failures, worded as the CLI prints them ----

function entries(m) {
  return m ? Object.entries(m) : [];
}

/**
 * `formatAllocMetrics` of the CLI (crates/nomad-cli/src/commands/common.rs):
 * the lines explaining why a task group could not be placed.
 */
export function allocMetricLines(m, prefix = '  ') {
  const out = [];
  if (!m.NodesEvaluated) out.push(`${prefix}* No nodes were eligible for evaluation`);
  for (const [dc, n] of entries(m.NodesAvailable)) {
    if (n === 0) out.push(`${prefix}* No nodes are available in datacenter ${quote(dc)}`);
  }
  for (const [cls, n] of entries(m.ClassFiltered)) {
    out.push(`${prefix}* Class ${quote(cls)}: ${n} nodes excluded by filter`);
  }
  for (const [c, n] of entries(m.ConstraintFiltered)) {
    out.push(`${prefix}* Constraint ${quote(c)}: ${n} nodes excluded by filter`);
  }
  if (m.NodesExhausted > 0) out.push(`${prefix}* Resources exhausted on ${m.NodesExhausted} nodes`);
  for (const [cls, n] of entries(m.ClassExhausted)) {
    out.push(`${prefix}* Class ${quote(cls)} exhausted on ${n} nodes`);
  }
  for (const [dim, n] of entries(m.DimensionExhausted)) {
    out.push(`${prefix}* Dimension ${quote(dim)} exhausted on ${n} nodes`);
  }
  for (const q of m.QuotaExhausted || []) out.push(`${prefix}* Quota limit hit ${quote(q)}`);
  return out;
}

/** `Task Group "web" (failed to place 2 allocations):` */
export function failedTgLine(tg, m) {
  const n = (m.CoalescedFailures || 0) + 1;
  return `Task Group ${quote(tg)} (failed to place ${n} ${m.CoalescedFailures > 0 ? 'allocations' : 'allocation'}):`;
}

/**
 * The "Failed Placements" block of `nomad eval status` for an evaluation's
 * FailedTGAllocs: one header line per group, then its explanation lines.
 */
export function failedPlacementText(failedTGAllocs) {
  const blocks = [];
  for (const [tg, m] of entries(failedTGAllocs)) {
    blocks.push([failedTgLine(tg, m), ...allocMetricLines(m, '  ')].join('\n'));
  }
  return blocks.join('\n');
}

/** The CLI's "Placement Failures" column: `true`, `false`, or `N/A - In Progress` for blocked evaluations. */
export function evalFailureStatus(e) {
  if (e.Status === 'blocked') return 'N/A - In Progress';
  return String(entries(e.FailedTGAllocs).length > 0);
}

// ---- job summaries, allocations, nodes ----

/** The allocation states of the status bar, in order. */
export const ALLOC_STATES = ['Queued', 'Starting', 'Running', 'Failed', 'Complete', 'Lost', 'Unknown'];
/** The children states of periodic and parameterized jobs. */
export const CHILD_STATES = ['Pending', 'Running', 'Dead'];

/** Totals of a JobSummary over its task groups: {Queued, Starting, …}. */
export function summaryTotals(summary) {
  const t = Object.fromEntries(ALLOC_STATES.map((s) => [s, 0]));
  for (const g of Object.values((summary && summary.Summary) || {})) {
    for (const s of ALLOC_STATES) t[s] += g[s] || 0;
  }
  return t;
}

/** Whether a job stub is a periodic or parameterized parent (its bar counts children). */
export function isParent(stub) {
  return Boolean(stub.Periodic || stub.ParameterizedJob) && !stub.ParentID;
}

/** The job type column: `batch/periodic`, `batch/parameterized` as the CLI prints it. */
export function jobType(stub) {
  if (stub.Periodic) return `${stub.Type}/periodic`;
  if (stub.ParameterizedJob) return `${stub.Type}/parameterized`;
  return stub.Type;
}

/** Whether an allocation has finished (server or client side). */
export function allocTerminal(a) {
  return ['stop', 'evict'].includes(a.DesiredStatus) || ['complete', 'failed', 'lost'].includes(a.ClientStatus);
}

/** CPU (MHz) and memory (MB) an allocation reserves, over its tasks. */
export function allocResources(a) {
  const r = a.AllocatedResources;
  let cpu = 0;
  let mem = 0;
  if (r && r.Tasks) {
    for (const t of Object.values(r.Tasks)) {
      cpu += (t.Cpu && t.Cpu.CpuShares) || 0;
      mem += (t.Memory && t.Memory.MemoryMB) || 0;
    }
  } else if (a.Resources) {
    cpu = a.Resources.CPU || 0;
    mem = a.Resources.MemoryMB || 0;
  }
  const disk = (r && r.Shared && r.Shared.DiskMB) || 0;
  return { cpu, mem, disk };
}

// ---- resource usage (the client's stats endpoints) ----

/**
 * Bytes of memory in use from Nomad's MemoryStats: RSS where it is
 * measured, else the cgroup's Usage (cgroups v2 measure no RSS).
 */
export function memoryUsed(ms) {
  if (!ms) return 0;
  const measured = ms.Measured || [];
  if (ms.RSS && (!measured.length || measured.includes('RSS'))) return ms.RSS;
  return ms.Usage || ms.RSS || 0;
}

/**
 * An allocation's usage (GET /v1/client/allocation/:id/stats, Nomad's
 * AllocResourceUsage) beside what was allocated: one row per task, sorted
 * by name, {name, cpu, cpuMax, mem, memMax}; CPU in MHz (TotalTicks, as
 * Nomad counts it), memory in bytes. A task missing from either side still
 * gets a row, with zeros for what is unknown.
 */
export function allocUsageRows(stats, allocated) {
  const used = (stats && stats.Tasks) || {};
  const alloced = (allocated && allocated.Tasks) || {};
  const names = [...new Set([...Object.keys(used), ...Object.keys(alloced)])].sort();
  return names.map((name) => {
    const ru = (used[name] && used[name].ResourceUsage) || {};
    const a = alloced[name] || {};
    return {
      name,
      reported: Boolean(used[name]),
      cpu: Math.round((ru.CpuStats && ru.CpuStats.TotalTicks) || 0),
      cpuMax: (a.Cpu && a.Cpu.CpuShares) || 0,
      mem: memoryUsed(ru.MemoryStats),
      memMax: ((a.Memory && a.Memory.MemoryMB) || 0) * 1024 * 1024,
    };
  });
}

// Each device once (bind mounts report one disk under several mount points).
function disksOnce(stats) {
  const seen = new Set();
  const out = [];
  for (const d of stats) {
    const key = d.Device || d.Mountpoint;
    if (key && seen.has(key)) continue;
    seen.add(key);
    out.push({ mount: d.Mountpoint || d.Device || '?', used: d.Used || 0, size: d.Size || 0 });
  }
  return out;
}

/**
 * A host's usage (GET /v1/client/stats, Nomad's HostStats): CPU in MHz
 * (CPUTicksConsumed) and its busy share averaged over the cores, memory
 * used and total in bytes, each disk's use (a device once), uptime in
 * seconds.
 */
export function hostUsage(s) {
  const cores = (s && s.CPU) || [];
  const mem = (s && s.Memory) || {};
  return {
    cpu: Math.round((s && (s.CPUTicksConsumed ?? s.CpuTicksConsumed)) || 0),
    cpuPercent: cores.length ? Math.round((cores.reduce((n, c) => n + (c.Total || 0), 0) / cores.length) * 10) / 10 : null,
    memUsed: mem.Used || 0,
    memTotal: mem.Total || 0,
    disks: disksOnce((s && s.DiskStats) || []),
    uptime: (s && s.Uptime) || 0,
  };
}

/** A node's schedulable capacity: total minus reserved. */
export function nodeCapacity(n) {
  const nr = n.NodeResources || {};
  const rr = n.ReservedResources || {};
  const cpu = ((nr.Cpu && nr.Cpu.CpuShares) || 0) - ((rr.Cpu && rr.Cpu.CpuShares) || 0);
  const mem = ((nr.Memory && nr.Memory.MemoryMB) || 0) - ((rr.Memory && rr.Memory.MemoryMB) || 0);
  const disk = ((nr.Disk && nr.Disk.DiskMB) || 0) - ((rr.Disk && rr.Disk.DiskMB) || 0);
  return { cpu: Math.max(cpu, 0), mem: Math.max(mem, 0), disk: Math.max(disk, 0) };
}

/** Every port of an allocation: [{label, value, to, ip, task}]. */
export function allocPorts(a) {
  const out = [];
  const r = a.AllocatedResources || {};
  const shared = r.Shared || {};
  for (const p of shared.Ports || []) {
    out.push({ label: p.Label, value: p.Value, to: p.To, ip: p.HostIP, task: '' });
  }
  if (!out.length) {
    for (const n of shared.Networks || []) {
      for (const p of [...(n.ReservedPorts || []), ...(n.DynamicPorts || [])]) {
        out.push({ label: p.Label, value: p.Value, to: p.To, ip: n.IP, task: '' });
      }
    }
  }
  for (const [task, t] of Object.entries(r.Tasks || {})) {
    for (const n of t.Networks || []) {
      for (const p of [...(n.ReservedPorts || []), ...(n.DynamicPorts || [])]) {
        out.push({ label: p.Label, value: p.Value, to: p.To, ip: n.IP, task });
      }
    }
  }
  return out;
}

/** A stable hue (0–359) for a string, to color allocations by job. */
export function hue(s) {
  let h = 0;
  for (let i = 0; i < s.length; i += 1) h = (h * 31 + s.charCodeAt(i)) % 360;
  return h;
}
