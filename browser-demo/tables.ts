/** The tables of the demo: members, the process table, the service registry. */
import type { MemberInfo, MeshNode } from '../lib/mod.ts';
import { ago, el, short } from './dom.ts';

export function memberRows(node: MeshNode, members: MemberInfo[]): HTMLTableRowElement[] {
  const now = node.env.clock.now();
  const order = (m: MemberInfo) => (m.nodeId === node.nodeId ? '' : m.nodeId);
  return [...members]
    .sort((a, b) => (order(a) < order(b) ? -1 : 1))
    .map((m) => {
      const links = node.neighboursOf(m.nodeId);
      return el(
        'tr',
        {
          'data-node-id': m.nodeId,
          'data-state': m.state,
          class: m.nodeId === node.nodeId ? 'self' : undefined,
        },
        el(
          'td',
          { class: 'mono', title: m.nodeId },
          short(m.nodeId),
          m.nodeId === node.nodeId ? el('span', { class: 'you' }, 'you') : null,
        ),
        el('td', {}, m.meta.runtime ?? '—'),
        el('td', {}, el('span', { class: `badge state-${m.state}` }, m.state)),
        el('td', { class: 'num' }, m.incarnation),
        el('td', { class: 'num' }, links ? links.length : '—'),
        el('td', { class: 'dim' }, ago(now - m.changedAt)),
      );
    });
}

export function processRows(node: MeshNode): HTMLTableRowElement[] {
  return node.processes
    .all()
    .map((p) =>
      el(
        'tr',
        { 'data-node-id': p.globalPid.nodeId, 'data-pid': p.globalPid.pid },
        el('td', { class: 'mono', title: p.globalPid.nodeId }, short(p.globalPid.nodeId)),
        el('td', { class: 'mono', title: p.globalPid.pid }, p.globalPid.pid.slice(0, 12)),
        el('td', {}, p.agentType),
        el('td', {}, ...p.capabilities.map((c) => el('span', { class: 'chip' }, c))),
        el('td', {}, el('span', { class: `badge status-${p.status}` }, p.status)),
        el('td', { class: 'num' }, p.resourceSummary.load ?? '—'),
      ),
    );
}

/** The chains service's own advertisements (heads, fork proofs): the Chains card shows them. */
export const isChainService = (name: string): boolean => /^(chain\.|chain-fork\.|demo-chain$)/.test(name);

export function serviceRows(node: MeshNode): HTMLTableRowElement[] {
  const names = node.services.names().filter((name) => !isChainService(name));
  return names.flatMap((name) =>
    node.services.resolveAll(name).map((s) =>
      el(
        'tr',
        { 'data-service': s.serviceName, 'data-node-id': s.nodeId },
        el('td', {}, s.serviceName),
        el('td', { class: 'mono', title: s.nodeId }, short(s.nodeId)),
        el('td', { class: 'mono wrap' }, s.endpoint),
        el('td', {}, el('span', { class: `badge health-${s.health}` }, s.health)),
        el(
          'td',
          { class: 'dim' },
          Object.entries(s.metadata)
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
        ),
      ),
    ),
  );
}

/** Keeps a <select>'s options equal to `values` (label → value) without losing the choice. */
export function syncOptions(
  select: HTMLSelectElement,
  values: Array<[string, string]>,
  placeholder?: string,
): void {
  const want = [...(placeholder === undefined ? [] : [[placeholder, ''] as [string, string]]), ...values];
  const have = [...select.options].map((o) => [o.textContent ?? '', o.value]);
  if (JSON.stringify(have) === JSON.stringify(want)) return;
  const chosen = select.value;
  select.replaceChildren(...want.map(([label, value]) => el('option', { value }, label)));
  if (want.some(([, v]) => v === chosen)) select.value = chosen;
}
