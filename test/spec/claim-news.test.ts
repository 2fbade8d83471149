// Membership news on the broadcast tree (lib/node/claim-news.ts): claims pushed along the
// eager links, and claims only kept (a node's own declarations), which a link that comes up
// while they are recent is told of, and which answer its graft.
import { describe, expect, it } from 'vitest';
import { unpackIds } from '../../lib/broadcast/ids.ts';
import { BroadcastTree, type TreeMessage } from '../../lib/broadcast/tree.ts';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { ClaimNews } from '../../lib/node/claim-news.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Message } from '../../lib/wire/messages.ts';

function setup() {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) };
  const sent: Array<{ to: string; msg: TreeMessage | Message }> = [];
  const tree = new BroadcastTree({ env, send: (to, msg) => sent.push({ to, msg }) });
  const news = new ClaimNews(tree, env, (to, msg) => sent.push({ to, msg }));
  return { tree, news, sent, scheduler };
}

const me = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(5));
const dead = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(6));
const declaration = () => signClaim(me, 'unreachable', { incarnation: 9, subject: dead.nodeId });

describe('claims kept, not pushed', () => {
  it('go to no link, are announced to a link that comes up while recent, and answer its graft', () => {
    const t = setup();
    t.tree.linkUp('a');
    t.news.keep([declaration()]);
    t.scheduler.runFor(1_000);
    expect(t.sent).toEqual([]);
    t.tree.linkUp('b');
    const ihave = t.sent.filter((s) => s.to === 'b' && s.msg.type === 'ihave');
    expect(ihave).toHaveLength(1);
    const ids = ihave[0]!.msg.type === 'ihave' ? (unpackIds(ihave[0]!.msg.ids) ?? []) : [];
    expect(ids).toHaveLength(1);
    t.sent.splice(0);
    t.tree.onMessage('b', {
      type: 'graft',
      k: 0,
      ids: ihave[0]!.msg.type === 'ihave' ? ihave[0]!.msg.ids : new Uint8Array(),
    });
    const answer = t.sent.filter((s) => s.to === 'b' && s.msg.type === 'news');
    expect(answer).toHaveLength(1);
    expect(answer[0]!.msg.type === 'news' && answer[0]!.msg.g).toEqual([declaration().wire]);
  });

  it('grafts for the same held claims over and over re-send at most 64 KiB a second (burst ×4) to the asking link', () => {
    const t = setup();
    // A large claim (~1 KB: addresses and metadata), as a member can make its own.
    const big = signClaim(me, 'alive', {
      incarnation: 3,
      addrs: ['a', 'b', 'c'].map((x) => `ws://${x.repeat(200)}.example:1`),
      meta: { note: 'n'.repeat(200) },
    });
    t.news.keep([big]);
    t.tree.linkUp('b');
    const ihave = t.sent.find((s) => s.to === 'b' && s.msg.type === 'ihave');
    const ids = ihave?.msg.type === 'ihave' ? ihave.msg.ids : new Uint8Array();
    const size = big.wire.b.length + big.wire.s.length;
    expect(size).toBeGreaterThan(800);
    t.sent.splice(0);
    // 4,000 grafts for the one claim in one second (within the tree's graft quota of ids).
    for (let i = 0; i < 4_000; i++) {
      t.tree.onMessage('b', { type: 'graft', k: 0, ids });
      if (i % 4 === 3) t.scheduler.runFor(1);
    }
    const resent = t.sent.filter((s) => s.to === 'b' && s.msg.type === 'news').length;
    expect(resent * size).toBeLessThanOrEqual(5 * 64 * 1024 + size);
    expect(resent).toBeGreaterThan(100);
    expect(t.news.graftsThrottled).toBe(4_000 - resent - t.tree.metrics.graftsRefused);
  });

  it('past the recent window, a new link hears nothing of them', () => {
    const t = setup();
    t.news.keep([declaration()]);
    t.scheduler.runFor(10_001);
    t.tree.linkUp('b');
    expect(t.sent.filter((s) => s.msg.type === 'ihave')).toEqual([]);
  });
});

describe('news pushed along eager links', () => {
  const alive = (n: number) =>
    signClaim(NodeIdentity.fromSecretKey(new Uint8Array(32).fill(20 + n)), 'alive', { incarnation: 1 });
  const newsTo = (t: ReturnType<typeof setup>, peer: string) =>
    t.sent.splice(0).flatMap((s) => (s.to === peer && s.msg.type === 'news' ? [s.msg.g] : []));

  it('a lone claim leaves at once; a burst is gathered into one frame per link, 20 ms after the last', () => {
    const t = setup();
    t.tree.linkUp('a');
    t.news.spread([alive(1)], undefined);
    expect(newsTo(t, 'a')).toEqual([[alive(1).wire]]);
    t.scheduler.runFor(5);
    t.news.spread([alive(2)], undefined);
    t.scheduler.runFor(5);
    t.news.spread([alive(3)], undefined);
    expect(newsTo(t, 'a')).toEqual([]);
    t.scheduler.runFor(9);
    expect(newsTo(t, 'a')).toEqual([]);
    t.scheduler.runFor(1);
    expect(newsTo(t, 'a')).toEqual([[alive(2).wire, alive(3).wire]]);
    // Quiet for 20 ms since that frame: the next leaves at once again.
    t.scheduler.runFor(20);
    t.news.spread([alive(4)], undefined);
    expect(newsTo(t, 'a')).toEqual([[alive(4).wire]]);
  });
});
