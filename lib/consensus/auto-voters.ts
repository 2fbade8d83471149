/**
 * Drives the automatic voter rules of voters.ts for a MeshConsensus built without a
 * `voters` list: founding at a pristine node, growth and replacement at the leader. Probes
 * are asynchronous requests (one round at a time); every change goes through the Raft log.
 */
import type { RaftCore } from './raft.ts';
import { isPristine, type WritableConsensusStorage } from './storage.ts';
import { foundingAllowed, type MemberView, mayFound, type ProbeResult, planVoters } from './voters.ts';

/** At most this many members are probed before founding (the lowest ids first). */
const MAX_FOUNDING_PROBES = 256;

export interface AutoVotersHost {
  readonly self: string;
  /** Monotonic ms. */
  now(): number;
  members(): readonly MemberView[];
  probe(id: string): Promise<ProbeResult>;
  core(): RaftCore;
  readonly storage: WritableConsensusStorage;
  /** Found a one-voter group of this node (the storage is pristine). */
  found(): void;
  /** A config change was proposed: take the ready record. */
  changed(): void;
  /** Closed or frozen: drop what a probe round learned. */
  idle(): boolean;
}

export interface AutoVotersOptions {
  /** Voters wanted (3 or 5). */
  voterCount: number;
  /** A member is stable after this long Active; a voter is dead after this long silent and not Active. */
  stableMs: number;
}

export class AutoVoters {
  readonly #h: AutoVotersHost;
  readonly #o: AutoVotersOptions;
  /** Last Raft message from each voter (monotonic ms); bounded by the voter set. */
  readonly #heard = new Map<string, number>();
  /** Whether a member runs consensus, and when that was learned. */
  readonly #capable = new Map<string, { ok: boolean; at: number }>();
  /** Members with a lower id than this node that probed it: they run consensus. */
  readonly #lowerProbers = new Set<string>();
  #probing = false;
  /** A probe answer showed a group: this node waits to be added and never founds one. */
  #groupSeen = false;
  #leaderSince = 0;
  #wasLeader = false;

  constructor(host: AutoVotersHost, options: AutoVotersOptions) {
    this.#h = host;
    this.#o = options;
  }

  /** A Raft message arrived from `from`. */
  heard(from: string): void {
    if (this.#h.core().voters.includes(from)) this.#heard.set(from, this.#h.now());
  }

  /** `from` probed this node: it runs consensus. */
  probedBy(from: string): void {
    if (from < this.#h.self && this.#lowerProbers.size < MAX_FOUNDING_PROBES) this.#lowerProbers.add(from);
  }

  /** One round of the rules (called every few ticks). */
  run(): void {
    const core = this.#h.core();
    const leader = core.role === 'Leader';
    if (leader && !this.#wasLeader) this.#leaderSince = this.#h.now();
    this.#wasLeader = leader;
    if (this.#probing) return;
    this.#forget();
    if (isPristine(this.#h.storage)) {
      if (!this.#groupSeen && core.leader === '') void this.#tryFounding();
    } else if (leader && core.canChangeConfig()) void this.#tryChange(core);
  }

  #forget(): void {
    const now = this.#h.now();
    for (const [id, c] of this.#capable) if (now - c.at >= this.#o.stableMs) this.#capable.delete(id);
    const voters = this.#h.core().voters;
    for (const id of this.#heard.keys()) if (!voters.includes(id)) this.#heard.delete(id);
  }

  async #tryChange(core: RaftCore): Promise<void> {
    const voters = core.voters;
    const plan = planVoters({
      self: this.#h.self,
      voters,
      members: this.#h.members(),
      now: this.#h.now(),
      stableMs: this.#o.stableMs,
      voterCount: this.#o.voterCount,
      heardAt: (id) => Math.max(this.#heard.get(id) ?? 0, this.#leaderSince),
      capable: (id) => this.#capable.get(id)?.ok,
    });
    if (plan.kind === 'none') return;
    if (plan.kind === 'probe') {
      await this.#probeRound([plan.id]);
      return;
    }
    const next = plan.kind === 'add' ? [...voters, plan.id] : voters.filter((v) => v !== plan.id);
    try {
      core.proposeConfig(next);
    } catch {
      return; // leadership or the previous change moved since the check: next round
    }
    this.#h.changed();
  }

  async #tryFounding(): Promise<void> {
    const self = this.#h.self;
    const now = this.#h.now();
    const members = this.#h.members();
    const lower = (id: string) => this.#lowerProbers.has(id) || this.#capable.get(id)?.ok === true;
    if (!mayFound(self, members, now, this.#o.stableMs, lower)) return;
    const others = members
      .filter((m) => m.state === 'Active' && m.nodeId !== self)
      .map((m) => m.nodeId)
      .sort()
      .slice(0, MAX_FOUNDING_PROBES);
    const probed = await this.#probeRound(others);
    if (!probed) return;
    for (const r of probed.values()) if (typeof r === 'object' && r.voters.length > 0) this.#groupSeen = true;
    if (!foundingAllowed(self, probed)) return;
    const after = this.#h.members();
    if (!mayFound(self, after, this.#h.now(), this.#o.stableMs, lower)) return;
    if (!isPristine(this.#h.storage) || this.#h.core().leader !== '') return;
    this.#h.found();
  }

  /** Probes `ids` at once; undefined when the node went idle meanwhile. */
  async #probeRound(ids: readonly string[]): Promise<Map<string, ProbeResult> | undefined> {
    this.#probing = true;
    try {
      const results = await Promise.all(ids.map((id) => this.#h.probe(id)));
      if (this.#h.idle()) return undefined;
      const out = new Map<string, ProbeResult>();
      const at = this.#h.now();
      ids.forEach((id, i) => {
        const r = results[i]!;
        out.set(id, r);
        if (r !== 'unknown') this.#capable.set(id, { ok: r !== 'incapable', at });
      });
      return out;
    } finally {
      this.#probing = false;
    }
  }
}
