// Membership.checkUnlinked: a dial to a member that failed where it was last heard (a tab that
// closed before this node linked to it) gets the member checked through witnesses at once, as
// a lost link is, instead of after the ghost check's minute.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;

/** An Active core knowing `closed` (never linked) and `witness` (linked). */
function setup() {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; msg: Message }> = [];
  const m = new Membership({
    signer: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1)),
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(4) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: () => {},
    incarnation: INC,
  });
  const [closed, witness] = [2, 3].map((k) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)));
  m.start();
  m.bootstrap();
  m.applyClaims([closed!, witness!].map((id) => signClaim(id, 'alive', { incarnation: INC })));
  m.linkUp(witness!.nodeId);
  return { m, scheduler, sent, closed: closed!.nodeId, witness: witness!.nodeId };
}

describe('Membership.checkUnlinked', () => {
  it('asks the linked witnesses to ping the member, and suspects it when none answers within a probe period', () => {
    const t = setup();
    t.sent.length = 0;
    t.m.checkUnlinked(t.closed);
    const asks = t.sent.filter((s) => s.to === t.witness && s.msg.type === 'ping-req');
    expect(asks).toHaveLength(1);
    expect(t.m.stateOf(t.closed)).toBe(NodeState.Active);
    t.scheduler.runFor(t.m.config.probeIntervalMs * 2);
    expect(t.m.stateOf(t.closed)).toBe(NodeState.Suspect);
  });

  it('does nothing for a member linked here', () => {
    const t = setup();
    t.sent.length = 0;
    t.m.checkUnlinked(t.witness);
    // (Its own probes follow the probe loop; the check asks no witnesses.)
    expect(t.sent.filter((s) => s.msg.type === 'ping-req')).toHaveLength(0);
  });

  it('checks a member once at a time, however many dials fail', () => {
    const t = setup();
    t.sent.length = 0;
    for (let k = 0; k < 5; k++) t.m.checkUnlinked(t.closed);
    expect(t.sent.filter((s) => s.msg.type === 'ping-req')).toHaveLength(1);
  });
});
