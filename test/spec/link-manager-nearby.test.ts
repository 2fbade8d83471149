// The link manager with a transport that finds nodes on its own (BroadcastChannel, issue 14):
// a node heard there is dialled there, whatever address it advertised or a seed named, and a
// BroadcastChannel link wins a duplicate over any other kind, whoever dialled.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIAL_POLICY } from '../../lib/node/dial-policy.ts';
import { LinkManager } from '../../lib/node/link-manager.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { FakeLink } from '../support/fake-link.ts';

const SELF = '8'.repeat(32);
const LOW = `0${'1'.repeat(31)}`;
const HIGH = `f${'1'.repeat(31)}`;

function setup() {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(3) };
  const dialled: string[] = [];
  const heard = new Set<string>();
  const network = {
    name: 'webrtc',
    canDial: (a: string) => a.startsWith('webrtc:'),
    nodeIdOf: (a: string) => a.slice(7),
    connect: (a: string) => dialled.push(a),
    localAddresses: () => [],
  } as unknown as Transport;
  const nearby = {
    name: 'broadcast-channel',
    canDial: (a: string) => a.startsWith('bc:') && heard.has(a.slice(3)),
    nearbyAddress: (id: string) => (heard.has(id) ? `bc:${id}` : undefined),
    nodeIdOf: (a: string) => (a.startsWith('bc:') ? a.slice(3) : undefined),
    connect: (a: string) => dialled.push(a),
    localAddresses: () => [],
  } as unknown as Transport;
  const closed: string[] = [];
  const frames: string[] = [];
  const links = new LinkManager({
    env,
    selfId: SELF,
    transports: [network, nearby],
    policy: { maxLinks: 8, minLinks: 4, idleTimeoutMs: 30_000 },
    dialing: DEFAULT_DIAL_POLICY,
    onUp: () => {},
    onDown: () => {},
    onFrame: (id, _cls, _f, link) => frames.push(`${link.transport}:${id}`),
    keepalive: () => {},
    bye: () => {},
    unlink: () => {},
    isNewcomer: () => false,
    peerDegree: () => undefined,
  });
  const link = (id: string, transport: string, initiator: boolean): FakeLink => {
    const l = new FakeLink(id, { initiator });
    Object.defineProperty(l, 'transport', { value: transport });
    const close = l.close.bind(l);
    l.close = (reason) => {
      closed.push(`${transport}:${reason}`);
      close(reason);
    };
    return l;
  };
  return { links, dialled, heard, link, closed, frames };
}

describe('LinkManager with a nearby transport', () => {
  it('dials a member heard nearby there, not at the address it advertised', () => {
    const t = setup();
    t.heard.add(HIGH);
    expect(t.links.dialMember({ nodeId: HIGH, addrs: [`webrtc:${HIGH}`] })).toBe(true);
    expect(t.links.dialMember({ nodeId: LOW, addrs: [`webrtc:${LOW}`] })).toBe(true);
    expect(t.dialled).toEqual([`bc:${HIGH}`, `webrtc:${LOW}`]);
  });

  it('dials a member that advertises nothing where it was heard', () => {
    const t = setup();
    expect(t.links.dialMember({ nodeId: HIGH, addrs: [] })).toBe(false);
    t.heard.add(HIGH);
    expect(t.links.dialMember({ nodeId: HIGH, addrs: [] })).toBe(true);
    expect(t.dialled).toEqual([`bc:${HIGH}`]);
  });

  it('a seed that names a node heard nearby is dialled there', () => {
    const t = setup();
    t.heard.add(LOW);
    t.links.dial(`webrtc:${LOW}`, undefined, true);
    expect(t.dialled).toEqual([`bc:${LOW}`]);
  });

  it('tells a node linked or being dialled over the network apart from one on the channel (elsewhere)', () => {
    const t = setup();
    t.heard.add(HIGH);
    t.heard.add(LOW);
    // Dialled over WebRTC before it was heard (the signaling room listed it first).
    t.heard.delete(HIGH);
    t.links.dial(`webrtc:${HIGH}`, HIGH, true);
    t.heard.add(HIGH);
    expect(t.links.elsewhere(HIGH, `bc:${HIGH}`)).toBe(true);
    expect(t.links.elsewhere(LOW, `bc:${LOW}`)).toBe(false);
    t.links.accept(t.link(LOW, 'webrtc', true));
    expect(t.links.elsewhere(LOW, `bc:${LOW}`)).toBe(true);
    const t2 = setup();
    t2.heard.add(LOW);
    t2.links.accept(t2.link(LOW, 'broadcast-channel', true));
    expect(t2.links.elsewhere(LOW, `bc:${LOW}`)).toBe(false);
  });

  it('a node heard again and again while its channel dial is pending is dialled there once (forged presence costs one dial)', () => {
    const t = setup();
    t.links.dial(`webrtc:${HIGH}`, HIGH, true);
    t.heard.add(HIGH);
    for (let k = 0; k < 5; k++)
      if (t.links.elsewhere(HIGH, `bc:${HIGH}`)) t.links.dial(`bc:${HIGH}`, undefined, true);
    expect(t.dialled).toEqual([`webrtc:${HIGH}`, `bc:${HIGH}`]);
  });

  it('names the node of a nearby address even once it is no longer heard, and no node of a network address', () => {
    const t = setup();
    expect(t.links.nearbyNodeOf(`bc:${LOW}`)).toBe(LOW);
    expect(t.links.nearbyNodeOf(`webrtc:${LOW}`)).toBeUndefined();
  });

  it('a BroadcastChannel link wins a duplicate over a network link, whichever came first and whoever dialled', () => {
    for (const [first, second] of [
      ['webrtc', 'broadcast-channel'],
      ['broadcast-channel', 'webrtc'],
    ] as const) {
      const t = setup();
      // The network link was dialled by the lower id, which would keep it under the plain rule.
      const a = t.link(LOW, first, first !== 'webrtc');
      const b = t.link(LOW, second, second !== 'webrtc');
      t.links.accept(a);
      t.links.accept(b);
      expect(t.links.get(LOW)?.transport).toBe('broadcast-channel');
      // The network link is retired: what the peer sent on it before it switched is still
      // taken (the README's greeting was lost here), and it closes once the peer's goodbye
      // arrives on it.
      const network = first === 'webrtc' ? a : b;
      expect(t.closed).toEqual([]);
      network.deliver(new Uint8Array([1]));
      expect(t.frames).toEqual([`webrtc:${LOW}`]);
      t.links.farewell(network);
      expect(t.closed).toEqual(['webrtc:duplicate link']);
      network.deliver(new Uint8Array([2]));
      expect(t.frames).toEqual([`webrtc:${LOW}`]);
    }
  });
});
