/**
 * A tiny deterministic network of Raft cores for the tests: messages wait in one queue
 * until delivered; links can be cut or filtered; each ready record is persisted to the
 * node's MemoryConsensusStorage (in the contract's order) and checked by RaftInvariants.
 */
import { RaftInvariants } from '../../lib/consensus/check/properties.ts';
import type { ConsensusMessage, Entry } from '../../lib/consensus/messages.ts';
import { RaftCore, type RaftOptions } from '../../lib/consensus/raft.ts';
import type { ReadState } from '../../lib/consensus/read-index.ts';
import { MemoryConsensusStorage } from '../../lib/consensus/storage.ts';
import { SeededRandom } from '../../lib/time/random.ts';

export type CoreOptions = Partial<Omit<RaftOptions, 'id' | 'storage' | 'random'>>;

export class TestNet {
  readonly cores = new Map<string, RaftCore>();
  readonly storages = new Map<string, MemoryConsensusStorage>();
  /** The commands each node's state machine holds, in order (a snapshot carries them as JSON). */
  readonly texts = new Map<string, string[]>();
  /** Every entry each node applied since its last start or snapshot. */
  readonly applied = new Map<string, Entry[]>();
  readonly reads = new Map<string, ReadState[]>();
  readonly invariants = new RaftInvariants();
  /** Messages sent and not yet delivered. */
  queue: ConsensusMessage[] = [];
  /** Every message sent (for assertions). */
  readonly sent: ConsensusMessage[] = [];
  /** Messages for which this returns false are dropped. */
  filter: (m: ConsensusMessage) => boolean = () => true;
  readonly #down = new Set<string>();
  readonly #random: SeededRandom;
  readonly #opts: CoreOptions;

  constructor(ids: string[], opts: CoreOptions = {}, voters: string[] = ids, seed = 1) {
    this.#opts = opts;
    this.#random = new SeededRandom(seed);
    for (const id of ids) this.add(id, voters);
  }

  /** A node with a fresh log whose first configuration is `voters`. */
  add(id: string, voters: string[]): RaftCore {
    const storage = new MemoryConsensusStorage(voters);
    this.storages.set(id, storage);
    this.applied.set(id, []);
    this.texts.set(id, []);
    this.reads.set(id, []);
    return this.#start(id);
  }

  #start(id: string): RaftCore {
    const core = new RaftCore({
      id,
      storage: this.storages.get(id)!,
      random: this.#random.fork(),
      ...this.#opts,
    });
    this.cores.set(id, core);
    return core;
  }

  core(id: string): RaftCore {
    return this.cores.get(id)!;
  }

  /** Crash: volatile state lost; restart() brings it back from storage. */
  crash(id: string): void {
    this.#down.add(id);
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  restart(id: string): RaftCore {
    this.#down.delete(id);
    this.applied.set(id, []);
    const storage = this.storages.get(id)!;
    this.texts.set(id, decodeTexts(storage.snapshot().data));
    this.invariants.restarted(id, storage.lastIndex(), storage.snapshot().index);
    return this.#start(id);
  }

  /** Cuts every link of `id` (both ways) until heal(). */
  isolate(...ids: string[]): void {
    const cut = new Set(ids);
    this.filter = (m) => !cut.has(m.from) && !cut.has(m.to);
  }

  heal(): void {
    this.filter = () => true;
  }

  /** Persists, sends and applies each node's ready record, as an owner would. */
  flush(): void {
    for (const [id, core] of this.cores) {
      if (this.#down.has(id)) continue;
      while (core.hasReady()) {
        const r = core.ready();
        const storage = this.storages.get(id)!;
        if (r.snapshot) storage.applySnapshot(r.snapshot);
        storage.append(r.entries);
        if (r.hardState) storage.setHardState(r.hardState);
        this.invariants.observe(id, r, (i) => core.termAt(i), storage.snapshot().index);
        for (const m of r.messages) {
          this.sent.push(m);
          if (!this.#down.has(m.to) && this.cores.has(m.to) && this.filter(m)) this.queue.push(m);
        }
        const applied = this.applied.get(id)!;
        const texts = this.texts.get(id)!;
        if (r.snapshot) {
          applied.length = 0;
          texts.splice(0, texts.length, ...decodeTexts(r.snapshot.data));
        }
        applied.push(...r.committed);
        for (const e of r.committed) if (e.kind === 'command') texts.push(new TextDecoder().decode(e.data));
        this.reads.get(id)!.push(...r.reads);
        core.advance(r);
      }
    }
  }

  /** Delivers what is queued now (not what that provokes); returns how many. */
  deliver(): number {
    this.flush();
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (this.#down.has(m.to) || !this.filter(m)) continue;
      this.core(m.to).step(m);
      this.flush();
    }
    return batch.length;
  }

  /**
   * Delivers what is queued now through a hostile network: each message is lost with
   * probability `loss`, duplicated with `duplicate`, held for a later round with `delay`,
   * and the batch is shuffled (reordering).
   */
  deliverChaos(random: SeededRandom, faults: { loss: number; duplicate: number; delay: number }): void {
    this.flush();
    const batch = this.queue;
    this.queue = [];
    const later: ConsensusMessage[] = [];
    for (let i = batch.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [batch[i], batch[j]] = [batch[j]!, batch[i]!];
    }
    for (const m of batch) {
      if (random.next() < faults.loss) continue;
      if (random.next() < faults.delay) {
        later.push(m);
        continue;
      }
      const copies = random.next() < faults.duplicate ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        if (this.#down.has(m.to) || !this.filter(m)) continue;
        this.core(m.to).step(m);
        this.flush();
      }
    }
    this.queue.push(...later);
  }

  isDown(id: string): boolean {
    return this.#down.has(id);
  }

  /** Delivers until nothing is in flight (bounded). */
  settle(maxRounds = 100): void {
    for (let i = 0; i < maxRounds && this.deliver() > 0; i++) {}
  }

  /** Ticks every live node once, then settles. */
  tickAll(times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const [id, core] of this.cores) if (!this.#down.has(id)) core.tick();
      this.settle();
    }
  }

  /** Makes `id` campaign and settles: it is leader afterwards if it could win. */
  elect(id: string): RaftCore {
    this.core(id).campaign();
    this.settle();
    return this.core(id);
  }

  /** Proposes a command at the leader and settles; returns its index. */
  propose(leader: string, text: string): number {
    const { index } = this.core(leader).propose(new TextEncoder().encode(text));
    this.settle();
    return index;
  }

  /** The commands `id`'s state machine holds, as text. */
  appliedText(id: string): string[] {
    return this.texts.get(id)!;
  }

  /** Snapshots `id`'s state machine at its applied index and compacts its log there. */
  compact(id: string): number {
    const core = this.core(id);
    const index = core.status().appliedIndex;
    const data = new TextEncoder().encode(JSON.stringify(this.texts.get(id)));
    this.storages.get(id)!.compact(index, core.votersAt(index), data);
    return index;
  }

  leaders(): string[] {
    return [...this.cores].filter(([id, c]) => !this.#down.has(id) && c.role === 'Leader').map(([id]) => id);
  }
}

function decodeTexts(data: Uint8Array): string[] {
  return data.length === 0 ? [] : JSON.parse(new TextDecoder().decode(data));
}
