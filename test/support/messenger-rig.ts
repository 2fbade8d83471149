/**
 * A Messenger driven directly for the messaging specification tests: a fake host with fake
 * links (test/support/fake-link.ts), virtual time, and signed relayed messages made by hand.
 */
import { BroadcastTree, type TreeMessage } from '../../lib/broadcast/tree.ts';
import type { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { Domain, signingInput } from '../../lib/identity/signed.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { appPayload } from '../../lib/node/message-signing.ts';
import {
  type AppMessage,
  type MessagingOptions,
  Messenger,
  TopicHandlers,
} from '../../lib/node/messaging.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { fromHex, utf8 } from '../../lib/util/bytes.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';
import { FakeLink } from './fake-link.ts';
import { identity } from './membership-context.ts';

export const me = identity(1);
export const [a, b, c, origin, target] = [2, 3, 4, 5, 6].map(identity) as [
  NodeIdentity,
  NodeIdentity,
  NodeIdentity,
  NodeIdentity,
  NodeIdentity,
];
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A messenger linked to `linked`; `reachable` members (linked ones included) may relay and broadcast. */
export function setup(
  opts: { linked?: NodeIdentity[]; reachable?: NodeIdentity[]; options?: MessagingOptions } = {},
) {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(3) };
  const links = new Map<string, FakeLink>();
  for (const n of opts.linked ?? [a, b, c]) links.set(n.nodeId, new FakeLink(n.nodeId));
  const reachable = new Set([...links.keys(), ...(opts.reachable ?? [origin, target]).map((n) => n.nodeId)]);
  const neighbours = new Map<string, Set<string>>();
  const handlers = new TopicHandlers();
  // Every link starts eager: broadcasts go out on all of them, as a flood would.
  const treeSent: Array<{ to: string; msg: TreeMessage }> = [];
  const tree = new BroadcastTree({ env, send: (to, msg) => treeSent.push({ to, msg }) });
  for (const id of links.keys()) tree.linkUp(id);
  const m = new Messenger(
    {
      identity: me,
      env,
      verifier: strictVerifier,
      wireLimits: undefined,
      epoch: 100,
      link: (id) => links.get(id),
      peers: () => [...links.keys()],
      neighboursOf: (id) => neighbours.get(id),
      admits: () => true,
      isReachable: (id) => reachable.has(id),
      tree,
    },
    opts.options,
    handlers,
  );
  const delivered: AppMessage[] = [];
  handlers.subscribe('t', (msg) => delivered.push(msg));
  /** What each link carried, decoded (and cleared). */
  const out = () => {
    const got = new Map<string, Array<MessageOf<'app'> | MessageOf<'broadcast'>>>();
    for (const [id, link] of links) {
      const msgs = link.messages() as Array<MessageOf<'app'> | MessageOf<'broadcast'>>;
      link.frames.length = 0;
      if (msgs.length) got.set(id, msgs);
    }
    return got;
  };
  return { m, scheduler, links, reachable, neighbours, handlers, delivered, out, tree, treeSent };
}

/** An app message from `from` to `to`, signed by `signer` (default: from) as a relayed one is. */
export function relayed(
  from: NodeIdentity,
  to: string,
  f: {
    epoch?: number;
    seq?: number;
    ttl?: number;
    data?: string;
    signer?: NodeIdentity;
    kind?: number;
    id?: number;
  } = {},
): MessageOf<'app'> {
  const body = {
    to: fromHex(to),
    from: fromHex(from.nodeId),
    id: f.id ?? 1,
    kind: f.kind ?? 0,
    topic: 't',
    data: utf8(f.data ?? 'hi'),
    epoch: f.epoch ?? 1,
    seq: f.seq ?? 1,
  };
  const sig = (f.signer ?? from).sign(signingInput(Domain.App, appPayload(body)));
  return { type: 'app', ...body, ttl: f.ttl ?? 16, key: from.publicKey, sig };
}
