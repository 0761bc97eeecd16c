// Checks of the UI's pure modules under Node (run by tests/assets.rs when
// `node` is installed; skipped otherwise). The fixtures were captured from
// a dev agent: the API's JSON beside what the `nomad` CLI printed for it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  failedPlacementText, allocMetricLines, evalFailureStatus, formatAge, formatNanos, parseDuration,
  summaryTotals, jobType, toDate, allocResources, nodeCapacity, allocPorts, formatMB,
  memoryUsed, allocUsageRows, hostUsage,
} from '../../assets/lib/format.js';
import { formatJobDiff, lineKind } from '../../assets/lib/diff.js';
import { parseMeta, base64 } from '../../assets/views/job_actions.js';
import { isLeader } from '../../assets/views/servers.js';
import { runningByNode } from '../../assets/views/clients.js';

const fixture = (name) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test('failed placements read as `nomad eval status` prints them', () => {
  for (const [json, txt] of [
    ['failed_tg_allocs.json', 'failed_placements.txt'],
    ['failed_tg_allocs_constraint.json', 'failed_placements_constraint.txt'],
  ]) {
    assert.equal(failedPlacementText(JSON.parse(fixture(json))), fixture(txt).replace(/\n$/, ''), json);
  }
});

test('every line of formatAllocMetrics', () => {
  const m = {
    NodesEvaluated: 0,
    NodesAvailable: { dc1: 2, dc2: 0 },
    ClassFiltered: { gpu: 1 },
    ConstraintFiltered: { '${node.class} = big': 2 },
    NodesExhausted: 3,
    ClassExhausted: { small: 3 },
    DimensionExhausted: { cpu: 2, 'network: reserved port collision http=8080': 1 },
    QuotaExhausted: ['cpu exhausted (500 needed > 400 limit)'],
  };
  assert.deepEqual(allocMetricLines(m, '  '), [
    '  * No nodes were eligible for evaluation',
    '  * No nodes are available in datacenter "dc2"',
    '  * Class "gpu": 1 nodes excluded by filter',
    '  * Constraint "${node.class} = big": 2 nodes excluded by filter',
    '  * Resources exhausted on 3 nodes',
    '  * Class "small" exhausted on 3 nodes',
    '  * Dimension "cpu" exhausted on 2 nodes',
    '  * Dimension "network: reserved port collision http=8080" exhausted on 1 nodes',
    '  * Quota limit hit "cpu exhausted (500 needed > 400 limit)"',
  ]);
  assert.equal(evalFailureStatus({ Status: 'blocked', FailedTGAllocs: { g: {} } }), 'N/A - In Progress');
  assert.equal(evalFailureStatus({ Status: 'complete', FailedTGAllocs: { g: {} } }), 'true');
  assert.equal(evalFailureStatus({ Status: 'complete', FailedTGAllocs: null }), 'false');
});

test('job diffs read as `nomad job plan` prints them', () => {
  const text = formatJobDiff(JSON.parse(fixture('plan_diff.json')));
  assert.equal(text.replace(/\n+$/, ''), fixture('plan_diff.txt').replace(/\n+$/, ''));
  const simple = {
    Type: 'Edited', ID: 'web', Fields: null, Objects: null,
    TaskGroups: [{ Type: 'Edited', Name: 'app', Fields: [{ Type: 'Edited', Name: 'Count', Old: '2', New: '3', Annotations: null }], Objects: null, Tasks: [{ Type: 'None', Name: 'server', Fields: null, Objects: null, Annotations: null }], Updates: null }],
  };
  // `nomad job history -p web`
  assert.equal(formatJobDiff(simple).replace(/\n+$/, ''), '+/- Job: "web"\n+/- Task Group: "app"\n  +/- Count: "2" => "3"\n      Task: "server"');
  assert.equal(lineKind('  +/- Count'), 'edit');
  assert.equal(lineKind('    +   Env'), 'add');
  assert.equal(lineKind('- Job'), 'del');
  assert.equal(lineKind('      Task'), '');
});

test('times, durations and sizes', () => {
  assert.equal(formatAge(45_000), '45s');
  assert.equal(formatAge(192_000), '3m12s');
  assert.equal(formatAge(2 * 3600_000 + 4 * 60_000), '2h4m');
  assert.equal(formatAge(76 * 3600_000), '3d4h');
  assert.equal(formatNanos(0), '0s');
  assert.equal(formatNanos(90e9), '1m30s');
  assert.equal(formatNanos(600e9), '10m0s');
  assert.equal(formatNanos(250e6), '250ms');
  assert.equal(parseDuration('1h30m'), 5400e9);
  assert.equal(parseDuration('500ms'), 500e6);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('soon'), null);
  assert.equal(parseDuration('10x'), null);
  assert.equal(toDate('0001-01-01T00:00:00Z'), null);
  assert.equal(toDate(0), null);
  assert.equal(toDate(1795678048840392013).toISOString(), '2026-11-26T07:27:28.840Z');
  assert.equal(toDate('2026-11-26T07:27:28.85642415Z').toISOString(), '2026-11-26T07:27:28.856Z');
  assert.equal(formatMB(512), '512 MiB');
  assert.equal(formatMB(1536), '1.5 GiB');
});

test('summaries, resources and ports', () => {
  const t = summaryTotals({ Summary: { a: { Running: 2, Failed: 1 }, b: { Running: 1, Queued: 4 } } });
  assert.equal(t.Running, 3);
  assert.equal(t.Queued, 4);
  assert.equal(t.Failed, 1);
  assert.equal(t.Lost, 0);
  assert.equal(jobType({ Type: 'batch', Periodic: true }), 'batch/periodic');
  assert.equal(jobType({ Type: 'batch', ParameterizedJob: true }), 'batch/parameterized');
  assert.equal(jobType({ Type: 'service' }), 'service');
  const alloc = {
    AllocatedResources: {
      Tasks: { a: { Cpu: { CpuShares: 100 }, Memory: { MemoryMB: 64 } }, b: { Cpu: { CpuShares: 50 }, Memory: { MemoryMB: 32 }, Networks: [{ IP: '10.0.0.1', DynamicPorts: [{ Label: 'db', Value: 25000 }] }] } },
      Shared: { DiskMB: 300, Ports: [{ Label: 'http', Value: 22687, To: 8080, HostIP: '192.0.2.2' }] },
    },
  };
  assert.deepEqual(allocResources(alloc), { cpu: 150, mem: 96, disk: 300 });
  assert.deepEqual(allocPorts(alloc), [
    { label: 'http', value: 22687, to: 8080, ip: '192.0.2.2', task: '' },
    { label: 'db', value: 25000, to: undefined, ip: '10.0.0.1', task: 'b' },
  ]);
  assert.deepEqual(nodeCapacity({
    NodeResources: { Cpu: { CpuShares: 4600 }, Memory: { MemoryMB: 24105 }, Disk: { DiskMB: 100 } },
    ReservedResources: { Cpu: { CpuShares: 100 }, Memory: { MemoryMB: 105 }, Disk: { DiskMB: 0 } },
  }), { cpu: 4500, mem: 24000, disk: 100 });
  const running = runningByNode([
    { NodeID: 'n1', ClientStatus: 'running', DesiredStatus: 'run' },
    { NodeID: 'n1', ClientStatus: 'complete', DesiredStatus: 'run' },
    { NodeID: 'n1', ClientStatus: 'running', DesiredStatus: 'stop' },
    { NodeID: 'n2', ClientStatus: 'running', DesiredStatus: 'run' },
  ]);
  assert.equal(running.get('n1'), 1);
  assert.equal(running.get('n2'), 1);
});

test('resource usage in the shapes of Nomad\'s stats endpoints', () => {
  // MemoryStats: RSS where measured; cgroups v2 measure only Usage.
  assert.equal(memoryUsed({ RSS: 2048, Usage: 4096, Measured: ['RSS', 'Cache', 'Swap'] }), 2048);
  assert.equal(memoryUsed({ RSS: 0, Usage: 4096, Measured: ['Usage', 'Cache'] }), 4096);
  assert.equal(memoryUsed(undefined), 0);
  // AllocResourceUsage beside AllocatedResources: CPU in MHz (TotalTicks).
  const stats = {
    ResourceUsage: { MemoryStats: { RSS: 3 * 1048576 }, CpuStats: { TotalTicks: 12.6, Percent: 0.5 } },
    Tasks: {
      web: { ResourceUsage: { MemoryStats: { RSS: 3 * 1048576, Measured: ['RSS'] }, CpuStats: { Percent: 0.5, TotalTicks: 12.6, SystemMode: 1, UserMode: 2 } }, Timestamp: 1, Pids: null },
    },
    Timestamp: 1700000000000000000,
  };
  const allocated = { Tasks: { web: { Cpu: { CpuShares: 100 }, Memory: { MemoryMB: 64 } }, sidecar: { Cpu: { CpuShares: 50 }, Memory: { MemoryMB: 32 } } } };
  assert.deepEqual(allocUsageRows(stats, allocated), [
    { name: 'sidecar', reported: false, cpu: 0, cpuMax: 50, mem: 0, memMax: 32 * 1048576 },
    { name: 'web', reported: true, cpu: 13, cpuMax: 100, mem: 3 * 1048576, memMax: 64 * 1048576 },
  ]);
  assert.deepEqual(allocUsageRows({}, undefined), []);
  // HostStats: CPUTicksConsumed in MHz, cores' Total averaged.
  const host = hostUsage({
    CPU: [{ CPU: 'cpu0', Idle: 80, System: 5, Total: 20, User: 15 }, { CPU: 'cpu1', Idle: 90, System: 5, Total: 10, User: 5 }],
    CPUTicksConsumed: 1581.53,
    Memory: { Available: 6, Free: 4, Total: 16, Used: 10 },
    DiskStats: [
      { Available: 1, Device: '/dev/sda1', InodesUsedPercent: 1, Mountpoint: '/', Size: 100, Used: 40, UsedPercent: 40 },
      { Available: 1, Device: '/dev/sda1', InodesUsedPercent: 1, Mountpoint: '/var/lib/docker', Size: 100, Used: 40, UsedPercent: 40 },
    ],
    Timestamp: 1700000000000000000,
    Uptime: 3600,
  });
  assert.deepEqual(host, {
    cpu: 1582, cpuPercent: 15, memUsed: 10, memTotal: 16, disks: [{ mount: '/', used: 40, size: 100 }], uptime: 3600,
  });
  assert.equal(hostUsage({}).cpuPercent, null);
});

test('dispatch meta and payload encoding', () => {
  assert.deepEqual(parseMeta('who=alice\n\n  n = 3 \nempty='), { who: 'alice', n: ' 3', empty: '' });
  assert.throws(() => parseMeta('novalue'), /expected key=value/);
  assert.equal(base64('héllo ✓'), Buffer.from('héllo ✓', 'utf8').toString('base64'));
  assert.equal(base64(''), '');
});

test('the leader is the member at the leader address', () => {
  const m = { Addr: '127.0.0.1', Tags: { port: '4647' } };
  assert.equal(isLeader(m, '127.0.0.1:4647'), true);
  assert.equal(isLeader(m, '127.0.0.2:4647'), false);
  assert.equal(isLeader(m, ''), false);
});

let failed = 0;
for (const [name, fn] of tests) {
  try {
    fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n${e.stack}`);
  }
}
if (failed) {
  console.log(`${failed} of ${tests.length} failed`);
  process.exit(1);
}
console.log(`all ${tests.length} passed`);
