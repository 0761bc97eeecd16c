// Servers: the members with the leader marked, the Raft peers, and this
// agent's own information. These endpoints have no blocking queries, so
// the page re-reads them every 10 seconds while it is visible.

import { h, replace, table, kv, section } from '../lib/dom.js';
import { POLL_MS } from '../lib/api.js';
import { badge, errorSlot, loading } from '../lib/ui.js';

/** Whether a member is the server at the leader's RPC address. */
export function isLeader(member, leader) {
  if (!leader) return false;
  const port = (member.Tags && member.Tags.port) || '';
  return leader === `${member.Addr}:${port}` || leader === `[${member.Addr}]:${port}`;
}

export function mount(ctx) {
  ctx.title('Servers');
  const errors = errorSlot();
  const body = h('div', null, loading());
  ctx.el.append(
    h('header', { class: 'page-header' }, h('h1', null, 'Servers'), h('div', { class: 'page-actions muted' }, 'refreshed every 10s')),
    errors.el, body);

  ctx.scope.poll(async (signal) => {
    const [members, leader, raft, self] = await Promise.all([
      ctx.scope.get('/v1/agent/members'),
      ctx.scope.get('/v1/status/leader').catch(() => ''),
      ctx.scope.get('/v1/operator/raft/configuration').catch((e) => ({ error: e })),
      ctx.scope.get('/v1/agent/self'),
    ]);
    if (signal.aborted) return;
    errors.set(null);
    draw(members || {}, leader || '', raft || {}, self || {});
  }, POLL_MS, errors.set);

  function draw(members, leader, raft, self) {
    const list = [...(members.Members || [])].sort((a, b) => a.Name.localeCompare(b.Name));
    const me = self.member || self.Member || {};
    const cfg = self.config || self.Config || null;
    replace(body,
      section(`Members (${list.length})`, table([
        ['Name', (m) => h('span', null, m.Name, isLeader(m, leader) ? h('span', { class: 'tag tag-leader' }, 'leader') : null)],
        ['Address', (m) => h('code', null, `${m.Addr}:${m.Port}`)],
        ['RPC port', (m) => (m.Tags && m.Tags.port) || '—'],
        ['Status', (m) => badge(m.Status)],
        ['Datacenter', (m) => (m.Tags && m.Tags.dc) || '—'],
        ['Region', (m) => (m.Tags && m.Tags.region) || '—'],
        ['Build', (m) => (m.Tags && m.Tags.build) || '—'],
        ['Raft version', (m) => (m.Tags && m.Tags.raft_vsn) || '—'],
      ], list, { empty: 'This agent knows no servers.' })),
      section('Raft peers', raft.error
        ? h('p', { class: 'muted' }, `Unavailable: ${raft.error.text ?? raft.error.message}`)
        : table([
          ['Node', (p) => h('span', null, p.Node, p.Leader ? h('span', { class: 'tag tag-leader' }, 'leader') : null)],
          ['ID', (p) => h('code', null, p.ID)],
          ['Address', (p) => h('code', null, p.Address)],
          ['Voter', (p) => String(p.Voter)],
          ['Raft protocol', (p) => p.RaftProtocol || '—'],
        ], raft.Servers || [], { empty: 'No peers.' })),
      section('This agent', kv([
        ['Name', me.Name || members.ServerName || null],
        ['Region', members.ServerRegion || (me.Tags && me.Tags.region) || null],
        ['Datacenter', members.ServerDC || (me.Tags && me.Tags.dc) || null],
        ['Address', me.Addr ? `${me.Addr}:${me.Port}` : null],
        ['Status', me.Status || null],
        ['Version', (me.Tags && me.Tags.build) || null],
        ['Leader', leader || 'none known'],
      ]),
      cfg ? h('details', null, h('summary', null, 'Configuration'), h('pre', { class: 'code' }, JSON.stringify(cfg, null, 2))) : null,
      Object.keys(self.stats || self.Stats || {}).length
        ? h('details', null, h('summary', null, 'Statistics'), h('pre', { class: 'code' }, JSON.stringify(self.stats || self.Stats, null, 2))) : null));
  }
}
