// Page of test/net/chain-idb.test.ts: an author's chain in IndexedDB that appends as fast
// as it can, publishing the length it has had acknowledged, until the browser is killed.
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { IndexedDbChainStorage } from '../../lib/chain/idb-storage.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { toHex } from '../../lib/util/bytes.ts';
import { readStoreMark } from '../../lib/util/idb-store.ts';

let log: ChainLog | undefined;
const api = {
  acked: 0,
  /**
   * Opens the chain as its author would after a restart (no `create`): its length, entry
   * hashes, and whether the log refuses to append until re-synced (storage held no copy).
   * `create` starts a new chain on empty storage.
   */
  async open(
    create = false,
  ): Promise<{ length: number; hashes: string[]; intact: boolean; needsResync: boolean; lost: boolean }> {
    await log?.close();
    const storage = await IndexedDbChainStorage.open();
    log = await ChainLog.open({
      identity: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(4)),
      name: 'idb',
      storage,
      create,
    });
    const hashes = log.entriesAfter(-1).map((e) => toHex(e.hash));
    return {
      length: log.length,
      hashes,
      intact: await log.verifyIntegrity(),
      needsResync: log.needsResync,
      lost: storage.lost,
    };
  },
  /** What an author does who accepts that a lost store's chain is gone (no replica has it). */
  async reset(): Promise<void> {
    await log?.close();
    log = undefined;
    await IndexedDbChainStorage.reset();
  },
  /**
   * A new store whose first append meets a fault (the write of the store's id throws): that
   * append must fail whole, so that the next one is taken at the same sequence and both a
   * reopened log and the store agree on what was stored.
   */
  async faultOnFirstAppend(): Promise<{ error: string; length: number; reopened: number; lost: boolean }> {
    await api.reset();
    await api.open(true);
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (key === 'store') throw new DOMException('injected fault', 'QuotaExceededError');
      return put.call(this, value, key);
    };
    let error = '';
    try {
      await log!.append(new Uint8Array([1]));
    } catch (e) {
      error = (e as Error).message;
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    await log!.append(new Uint8Array([2]));
    const length = log!.length;
    const reopened = await api.open();
    return { error, length, reopened: reopened.length, lost: reopened.lost };
  },
  /**
   * Two chains' first appends at once on a new store (one carries the store's id): the mark
   * as each was acknowledged, the mark at the end, and after reopening whether the store is
   * lost and what it holds.
   */
  async concurrentFirstAppends(): Promise<{
    lost: boolean;
    lengths: number[];
    marksAtAck: unknown[];
    mark: unknown;
  }> {
    await api.reset();
    const identity = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(5));
    const open = (storage: IndexedDbChainStorage, name: string, create: boolean) =>
      ChainLog.open({ identity, name, storage, create });
    const mark = () => readStoreMark('weftmesh-chain-store.weftmesh-chains');
    const first = await IndexedDbChainStorage.open();
    const logs = await Promise.all(['a', 'b'].map((name) => open(first, name, true)));
    const marksAtAck = await Promise.all(logs.map((l, i) => l.append(new Uint8Array([i])).then(mark)));
    await first.close();
    const again = await IndexedDbChainStorage.open();
    const lengths = await Promise.all(
      ['a', 'b'].map(async (name) => (await open(again, name, false)).length),
    );
    const lost = again.lost;
    await again.close();
    return { lost, lengths, marksAtAck, mark: await mark() };
  },
  /** Appends until the page dies. */
  async run(): Promise<void> {
    for (let i = 0; ; i++) {
      await log!.appendBatch(
        Array.from({ length: 1 + (i % 4) }, (_, j) => new Uint8Array(50 + j * 30).fill(i)),
      );
      api.acked = log!.length;
    }
  },
};
(window as unknown as { chainTest: typeof api }).chainTest = api;
