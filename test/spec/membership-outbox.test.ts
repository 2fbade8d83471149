// The membership core speaks through an outbox: its events and messages reach the owner
// after the input that produced them was handled in full, and an event handler that calls
// back into the core (setMeta, leave) is a new input, handled after, never in the middle.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership, type MembershipEvent } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;
const ids = (n: number) =>
  Array.from({ length: n }, (_, k) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(10 + k)));

function core(onEvent: (m: Membership, e: MembershipEvent) => void) {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; msg: Message }> = [];
  const events: MembershipEvent[] = [];
  const m: Membership = new Membership({
    signer: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1)),
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: (e) => {
      events.push(e);
      onEvent(m, e);
    },
    incarnation: INC,
  });
  m.start();
  m.bootstrap();
  return { m, scheduler, sent, events };
}

describe('membership outbox', () => {
  it('an event handler sees the whole input applied: every member of one gossip batch is known at the first event', () => {
    const [a, b, c] = ids(3);
    const knownAtFirstJoin: Array<string | undefined> = [];
    const t = core((m, e) => {
      if (e.type === 'state' && e.nodeId === a!.nodeId && e.state === NodeState.Active)
        knownAtFirstJoin.push(...[b!, c!].map((id) => m.stateOf(id.nodeId)));
    });
    t.m.applyClaims([a!, b!, c!].map((id) => signClaim(id, 'alive', { incarnation: INC })));
    expect(knownAtFirstJoin).toEqual([NodeState.Active, NodeState.Active]);
  });

  it('a handler that calls setMeta from inside an event: the new incarnation is taken after the batch, each event once, in order', () => {
    const [a, b] = ids(2);
    let calls = 0;
    const t = core((m, e) => {
      if (e.type === 'state' && e.nodeId === a!.nodeId && calls++ === 0)
        m.setMeta({ saw: a!.nodeId.slice(0, 8) });
    });
    const before = t.m.incarnation;
    t.m.applyClaims([a!, b!].map((id) => signClaim(id, 'alive', { incarnation: INC })));
    expect(t.m.incarnation).toBe(before + 1);
    const kinds = t.events.map((e) => (e.type === 'state' ? `state ${e.nodeId.slice(0, 4)}` : e.type));
    // Both members' events of the batch first, then what the handler's input produced.
    const lastBatchEvent = kinds.lastIndexOf(`state ${b!.nodeId.slice(0, 4)}`);
    expect(kinds.indexOf('incarnation')).toBeGreaterThan(lastBatchEvent);
    expect(kinds.filter((k) => k === 'incarnation')).toHaveLength(1);
    expect(t.m.member(t.m.selfId)?.meta).toEqual({ saw: a!.nodeId.slice(0, 8) });
  });

  it('a handler that leaves from inside an event: the goodbye goes to every link after the event, and the core stays consistent', () => {
    const [a, b] = ids(2);
    const t = core((m, e) => {
      if (e.type === 'state' && e.nodeId === b!.nodeId && e.state === NodeState.Active) m.leave();
    });
    t.m.applyClaims([signClaim(a!, 'alive', { incarnation: INC })]);
    t.m.linkUp(a!.nodeId);
    t.sent.length = 0;
    t.m.applyClaims([signClaim(b!, 'alive', { incarnation: INC })]);
    expect(t.m.selfState).toBe(NodeState.Left);
    const goodbye = t.sent.find((s) => s.to === a!.nodeId && s.msg.type === 'gossip');
    expect(goodbye).toBeDefined();
    const selfEvents = t.events.filter((e) => e.type === 'state' && e.nodeId === t.m.selfId);
    expect(selfEvents.at(-1)).toMatchObject({ previous: NodeState.Active, state: NodeState.Left });
  });

  it('messages of a timer input (a probe round) leave after the round: the core exposes no way to send', () => {
    const [a] = ids(1);
    const t = core(() => {});
    t.m.applyClaims([signClaim(a!, 'alive', { incarnation: INC })]);
    t.m.linkUp(a!.nodeId);
    t.scheduler.runFor(3_000);
    expect(t.sent.some((s) => s.to === a!.nodeId && s.msg.type === 'ping')).toBe(true);
    expect('send' in t.m).toBe(false);
    expect('table' in t.m).toBe(false);
  });
});
