/**
 * MeshConsensus on a durable storage: what waits for a flush and what does not. Three
 * voters over a hand-driven messenger (messages are held until the test delivers them) with
 * storages whose flushes end only when the test says so.
 */
import { describe, expect, it } from 'vitest';
import { type ConsensusMessenger, MeshConsensus } from '../../lib/consensus/mesh.ts';
import { MemoryConsensusStorage } from '../../lib/consensus/storage.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { decodeCbor } from '../../lib/wire/cbor.ts';

/** A memory storage whose flushes end when the test calls `end()`. */
class HeldStorage extends MemoryConsensusStorage {
  readonly held: Array<() => void> = [];
  flush(): Promise<void> {
    return new Promise((resolve) => this.held.push(resolve));
  }
  /** Ends every flush under way. */
  end(): void {
    for (const done of this.held.splice(0)) done();
  }
}

interface Sent {
  from: string;
  to: string;
  data: Uint8Array;
  type: string;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function cluster() {
  const ids = ['a', 'b', 'c'];
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(5) };
  const sent: Sent[] = [];
  const inbox = new Map<string, (msg: { from: string; data: Uint8Array }) => void>();
  const storages = new Map(ids.map((id) => [id, new HeldStorage(ids)]));
  const rafts = new Map(
    ids.map((id) => {
      const messenger: ConsensusMessenger = {
        nodeId: id,
        send: (to, _topic, data) => {
          sent.push({
            from: id,
            to,
            data,
            type: (decodeCbor(data, { maxDepth: 8, maxItems: 1 << 16 }) as { type: string }).type,
          });
          return Promise.resolve();
        },
        request: () => Promise.reject(new Error('no requests here')),
        respond: () => () => {},
        subscribe: (_topic, handler) => {
          inbox.set(id, handler);
          return () => inbox.delete(id);
        },
      };
      return [id, new MeshConsensus({ messenger, env, voters: ids, storage: storages.get(id)!, tickMs: 10 })];
    }),
  );
  for (const r of rafts.values()) r.start();
  const deliver = (m: Sent) => inbox.get(m.to)!({ from: m.from, data: m.data });
  /** Ends flushes and delivers messages until nothing moves. */
  const settle = async () => {
    for (let round = 0; round < 100; round++) {
      for (const s of storages.values()) s.end();
      await turn();
      const batch = sent.splice(0);
      for (const m of batch) deliver(m);
      await turn();
      if (batch.length === 0 && [...storages.values()].every((s) => s.held.length === 0)) return;
    }
  };
  const elect = async () => {
    for (let t = 0; t < 100; t++) {
      scheduler.runFor(10);
      await settle();
      const leader = [...rafts.values()].find((r) => r.status().role === 'Leader');
      if (leader) return leader;
    }
    throw new Error('no leader');
  };
  return { rafts, storages, sent, deliver, settle, elect };
}

describe('MeshConsensus and a durable storage’s flush', () => {
  it('a leader’s appends leave while its own flush is under way; the proposal resolves once that flush ended and a follower acknowledged, with no second flush', async () => {
    const c = cluster();
    const leader = await c.elect();
    const id = leader.status().id;
    const mine = c.storages.get(id)!;
    let done = false;
    const put = leader.propose({ op: 'put', key: 'k', value: 'v' }).then((r) => {
      done = true;
      return r;
    });
    await turn();
    expect(mine.held).toHaveLength(1);
    const appends = c.sent.splice(0);
    expect(appends.map((m) => [m.type, m.to]).sort()).toEqual(
      [...c.rafts.keys()].filter((x) => x !== id).map((to) => ['append', to]),
    );
    // A follower persists and acknowledges while the leader's flush is still under way.
    const follower = appends[0]!.to;
    c.deliver(appends[0]!);
    await turn();
    c.storages.get(follower)!.end();
    await turn();
    const ack = c.sent.splice(0);
    expect(ack.map((m) => m.type)).toEqual(['append-reply']);
    c.deliver(ack[0]!);
    await turn();
    expect(done).toBe(false);
    // The leader's own write ends: it and the follower are a quorum; applying needs no other flush.
    mine.end();
    await turn();
    expect(done).toBe(true);
    expect(mine.held).toHaveLength(0);
    expect(await put).toEqual({ ok: true, previous: null });
  });

  it('a follower’s acknowledgement waits for its flush and leaves in the turn that flush ends', async () => {
    const c = cluster();
    const leader = await c.elect();
    void leader.propose({ op: 'put', key: 'k', value: 'v' });
    await turn();
    c.storages.get(leader.status().id)!.end();
    await turn();
    const append = c.sent.splice(0).find((m) => m.type === 'append')!;
    c.deliver(append);
    await turn();
    const held = c.storages.get(append.to)!;
    expect(held.held).toHaveLength(1);
    expect(c.sent).toHaveLength(0);
    // The flush ends: the acknowledgement is handed to the messenger before any timer or I/O runs.
    held.held.shift()!();
    await Promise.resolve();
    await Promise.resolve();
    expect(c.sent.map((m) => [m.type, m.from, m.to])).toEqual([['append-reply', append.to, append.from]]);
  });
});
