/** One Raft core driven by hand-made messages, as the paper's rules are stated (tests only). */
import type { ConsensusMessage, Entry } from '../../lib/consensus/messages.ts';
import { RaftCore } from '../../lib/consensus/raft.ts';
import type { ReadState } from '../../lib/consensus/read-index.ts';
import { MemoryConsensusStorage } from '../../lib/consensus/storage.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import type { CoreOptions } from './net.ts';

export interface Lone {
  core: RaftCore;
  storage: MemoryConsensusStorage;
  /** Persists the ready records and returns what they said to send, apply and answer. */
  drain(): { messages: ConsensusMessage[]; committed: Entry[]; reads: ReadState[] };
}

/** Entries with the given terms at indexes 1, 2, …; command data names index and term. */
export function entries(terms: number[], from = 1): Entry[] {
  return terms.map((term, i) => ({
    index: from + i,
    term,
    kind: 'command',
    data: new TextEncoder().encode(`${from + i}@${term}`),
  }));
}

/** A vote request (RequestVote RPC, not a pre-vote nor a transfer) from `from` to `to`. */
export function voteRequest(
  from: string,
  to: string,
  term: number,
  lastIndex = 0,
  lastTerm = 0,
): ConsensusMessage {
  return { type: 'vote', from, to, term, lastIndex, lastTerm, pre: false, transfer: false };
}

/**
 * Core `id` among `voters`, its log holding entries of `terms` and its current term
 * `term` (default: the last entry's), with pre-vote off unless asked (the paper's rules).
 */
export function lone(
  opts: { id?: string; voters?: string[]; terms?: number[]; term?: number } & CoreOptions = {},
): Lone {
  const { id = 'a', voters = ['a', 'b', 'c'], terms = [], term, ...rest } = opts;
  const storage = new MemoryConsensusStorage(voters);
  storage.append(entries(terms));
  storage.setHardState({ term: term ?? terms.at(-1) ?? 0, vote: '', commit: 0 });
  const core = new RaftCore({ id, storage, random: new SeededRandom(7), preVote: false, ...rest });
  const drain = () => {
    const out = { messages: [] as ConsensusMessage[], committed: [] as Entry[], reads: [] as ReadState[] };
    while (core.hasReady()) {
      const r = core.ready();
      if (r.snapshot) storage.applySnapshot(r.snapshot);
      storage.append(r.entries);
      if (r.hardState) storage.setHardState(r.hardState);
      out.messages.push(...r.messages);
      out.committed.push(...r.committed);
      out.reads.push(...r.reads);
      core.advance(r);
    }
    return out;
  };
  return { core, storage, drain };
}

/** Ticks until the role changes (at most `max` ticks); returns how many ticks it took. */
export function tickUntilRoleChanges(core: RaftCore, max = 100): number {
  const role = core.role;
  for (let i = 1; i <= max; i++) {
    core.tick();
    if (core.role !== role) return i;
  }
  return -1;
}
