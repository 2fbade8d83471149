/**
 * Two replicas wired back to back through AntiEntropy: every message goes through the real
 * codec, bytes and messages are counted, and delivery runs in waves so round trips show.
 */
import { AntiEntropy } from '../../lib/state/anti-entropy.ts';
import { interpretEntry } from '../../lib/state/entry.ts';
import { CrdtGossipState } from '../../lib/state/gossip-state.ts';
import { decodeMessage, encodeMessage, type Message } from '../../lib/wire/mod.ts';

export interface PairTraffic {
  bytes: number;
  messages: number;
  treeMessages: number;
  /** Delivery waves: one wave is one trip of messages in one direction. */
  waves: number;
}

export function antiEntropyPair() {
  const a = new CrdtGossipState();
  const b = new CrdtGossipState();
  let queue: Array<[string, Uint8Array]> = [];
  const traffic: PairTraffic = { bytes: 0, messages: 0, treeMessages: 0, waves: 0 };
  const send = (to: string) => (_peer: string, msg: Message) => {
    const frame = encodeMessage(msg);
    traffic.bytes += frame.length;
    traffic.messages++;
    if (msg.type === 'tree') traffic.treeMessages++;
    queue.push([to, frame]);
  };
  const aeA = new AntiEntropy(a, { send: send('b') });
  const aeB = new AntiEntropy(b, { send: send('a') });
  /** Delivers until quiet. */
  const run = () => {
    while (queue.length > 0) {
      const wave = queue;
      queue = [];
      traffic.waves++;
      for (const [to, frame] of wave) {
        const msg = decodeMessage(frame);
        const [state, ae, from] = to === 'a' ? [a, aeA, 'b'] : [b, aeB, 'a'];
        if (msg.type === 'tree') ae.onTree(from, msg);
        else if (msg.type === 'state-delta') state.merge(msg.entries.map(interpretEntry), from);
      }
    }
  };
  return { a, b, aeA, aeB, run, traffic };
}
