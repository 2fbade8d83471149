/**
 * The event log: what this node saw happen, newest first. State updates arrive in bursts
 * (a newcomer's anti-entropy, drifting load figures), so they are summed per second.
 */
import type { MeshNode } from '../lib/mod.ts';
import { el, short } from './dom.ts';

const MAX_ENTRIES = 300;

export type LogKind =
  | 'join'
  | 'state'
  | 'suspect'
  | 'refute'
  | 'leave'
  | 'link'
  | 'repair'
  | 'data'
  | 'error'
  | 'info';

export class EventLog {
  readonly #list: HTMLOListElement;
  #updates = { count: 0, origins: new Set<string>() };
  #flush: ReturnType<typeof setTimeout> | undefined;

  constructor(list: HTMLOListElement) {
    this.#list = list;
  }

  add(kind: LogKind, text: string): void {
    const time = new Date().toISOString().slice(11, 19);
    this.#list.prepend(
      el('li', { class: `log-${kind}` }, el('time', {}, time), el('span', { class: 'tag' }, kind), text),
    );
    while (this.#list.childElementCount > MAX_ENTRIES) this.#list.lastElementChild?.remove();
  }

  /** Subscribes to everything worth telling about `node`. */
  watch(node: MeshNode): void {
    const who = (id: string) => (id === node.nodeId ? 'this node' : short(id));
    node.on('member-joined', (e) =>
      this.add('join', `${who(e.nodeId)} joined (incarnation ${e.incarnation})`),
    );
    node.on('member-state', (e) => {
      if (e.previous === null) return;
      const kind =
        e.state === 'Suspect' || e.state === 'Unreachable'
          ? 'suspect'
          : e.state === 'Left'
            ? 'leave'
            : 'state';
      this.add(kind, `${who(e.nodeId)}: ${e.previous} → ${e.state}`);
    });
    node.on('member-reaped', (e) => this.add('leave', `${who(e.nodeId)} reaped (forgotten)`));
    node.on('suspected', (e) =>
      this.add('suspect', `this node suspects ${who(e.nodeId)} (no answer to probes)`),
    );
    node.on('refuted', (e) =>
      this.add('refute', `refuted a suspicion by ${who(e.by)}: now incarnation ${e.incarnation}`),
    );
    node.on('identity-conflict', () => this.add('error', 'another tab or process uses this identity'));
    node.on('link-up', (e) => this.add('link', `link up: ${who(e.nodeId)} over ${e.transport}`));
    node.on('link-down', (e) => this.add('link', `link down: ${who(e.nodeId)} (${e.reason})`));
    node.on('repairing', (e) =>
      this.add(
        'repair',
        `anti-entropy with ${who(e.peer)}: ${e.subtrees} subtree(s) differ, sent ${e.entries} entries`,
      ),
    );
    node.on('state-changed', (e) => {
      if (e.from === undefined) return;
      this.#updates.count++;
      this.#updates.origins.add(short(e.origin));
      this.#flush ??= setTimeout(() => {
        const { count, origins } = this.#updates;
        this.add(
          'data',
          `${count} state update(s) from ${[...origins].slice(0, 4).join(', ')}${origins.size > 4 ? '…' : ''}`,
        );
        this.#updates = { count: 0, origins: new Set() };
        this.#flush = undefined;
      }, 1_000);
    });
    node.on('error', (e) => this.add('error', `${e.context}: ${String(e.error)}`));
  }
}
