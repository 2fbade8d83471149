// Page of test/net/consensus-idb.test.ts: a Raft log in IndexedDB written as a voter's owner
// would (entries, hard state, a compaction now and then, one flush per record), publishing
// what it has had acknowledged, until the browser is killed.
import { IndexedDbConsensusStorage } from '../../lib/consensus/idb-storage.ts';

let store: IndexedDbConsensusStorage | undefined;
const text = (i: number) => new TextEncoder().encode(`entry ${i}`);

const api = {
  /** Index and term of the last acknowledged flush. */
  acked: { index: 0, term: 0 },
  /** Opens the store: what it holds (every entry's index, term and text after the snapshot), or the code it was refused with. */
  async open(voters: string[] = ['a', 'b', 'c']) {
    try {
      store = await IndexedDbConsensusStorage.open('raft-test', voters);
    } catch (e) {
      return { refused: (e as { code?: string }).code ?? String(e) };
    }
    const s = store;
    const entries = s.lastIndex() >= s.firstIndex() ? s.entries(s.firstIndex(), s.lastIndex() + 1) : [];
    const snap = s.snapshot();
    return {
      hard: s.hardState(),
      snapshot: {
        index: snap.index,
        term: snap.term,
        voters: snap.voters,
        data: new TextDecoder().decode(snap.data),
      },
      entries: entries.map((e) => ({
        index: e.index,
        term: e.term,
        text: e.kind === 'command' ? new TextDecoder().decode(e.data) : e.kind,
      })),
    };
  },
  /** Closes the store and deletes its database the way Chromium does with one it finds corrupt (the mark stays). */
  async dropDatabase(): Promise<void> {
    await store?.close();
    await new Promise((ok, fail) => {
      const r = indexedDB.deleteDatabase('raft-test');
      r.onsuccess = ok;
      r.onerror = () => fail(r.error);
    });
  },
  /** Records a term (as a node the leader adds does when it first hears of one), then closes. */
  async termAndClose(term: number): Promise<void> {
    store!.setHardState({ term, vote: '', commit: 0 });
    await store!.flush();
    await store!.close();
  },
  /** What a node told `storage-lost` does before it rejoins. */
  reset: () => IndexedDbConsensusStorage.reset('raft-test'),
  /** Appends, sets the hard state and flushes as fast as it can; compacts every 50 entries. */
  async run(): Promise<void> {
    const s = store!;
    for (;;) {
      const index = s.lastIndex() + 1;
      const term = Math.floor(index / 40) + 1;
      s.append([
        { index, term, kind: 'command', data: text(index) },
        { index: index + 1, term, kind: 'command', data: text(index + 1) },
      ]);
      s.setHardState({ term, vote: 'a', commit: index + 1 });
      if ((index + 1) % 50 < 2)
        s.compact(index - 10, ['a', 'b', 'c'], new TextEncoder().encode(`image at ${index - 10}`));
      await s.flush();
      api.acked = { index: index + 1, term };
    }
  },
};
(window as unknown as { raftTest: typeof api }).raftTest = api;
