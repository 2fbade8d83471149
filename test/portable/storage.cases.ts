import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../../lib/identity/mod.ts';
import { FileStorage } from '../../lib/storage/file.ts';
import { MemoryStorage, type Storage, StorageError, WebStorage } from '../../lib/storage/mod.ts';
import type { Suite } from './case.ts';

async function exercise(s: Storage): Promise<void> {
  assert.equal(await s.get('missing'), undefined);
  await s.set('incarnation', Uint8Array.of(1, 2, 3));
  assert.deepEqual(await s.get('incarnation'), Uint8Array.of(1, 2, 3));
  await s.set('incarnation', Uint8Array.of(9));
  assert.deepEqual(await s.get('incarnation'), Uint8Array.of(9));
  await s.delete('incarnation');
  assert.equal(await s.get('incarnation'), undefined);
  await assert.rejects(() => s.set('../escape', new Uint8Array(1)), StorageError);
  await assert.rejects(() => s.get('UPPER'), StorageError);
}

export const storageCases: Suite = {
  async 'memory storage: get/set/delete, copies, key validation'() {
    const s = new MemoryStorage();
    await exercise(s);
    const value = Uint8Array.of(1);
    await s.set('k', value);
    value[0] = 2;
    assert.deepEqual(await s.get('k'), Uint8Array.of(1));
  },

  async 'web storage: namespaced, hex values, quota errors become StorageError'() {
    const items = new Map<string, string>();
    let full = false;
    const area = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => {
        if (full) throw new Error('QuotaExceededError');
        items.set(k, v);
      },
      removeItem: (k: string) => void items.delete(k),
    };
    await exercise(new WebStorage(area, 'tab1.'));
    const a = new WebStorage(area, 'tab1.');
    const b = new WebStorage(area, 'tab2.');
    await a.set('incarnation', Uint8Array.of(0xab));
    assert.equal(items.get('tab1.incarnation'), 'ab');
    assert.equal(await b.get('incarnation'), undefined);
    const id = await loadOrCreateIdentity(a);
    assert.equal((await loadOrCreateIdentity(new WebStorage(area, 'tab1.'))).nodeId, id.nodeId);
    items.set('tab1.bad', 'not hex!');
    await assert.rejects(() => a.get('bad'), StorageError);
    full = true;
    await assert.rejects(() => a.set('more', Uint8Array.of(1)), StorageError);
  },

  async 'file storage: survives a new instance; identity persists through it'() {
    const dir = await mkdtemp(join(tmpdir(), 'weftmesh-storage-'));
    try {
      const s = new FileStorage(join(dir, 'node'));
      await exercise(s);
      const id = await loadOrCreateIdentity(s);
      const again = await loadOrCreateIdentity(new FileStorage(join(dir, 'node')));
      assert.equal(again.nodeId, id.nodeId);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },

  async 'file storage: writes to one key take effect in the order they were made, however long each takes'() {
    const dir = await mkdtemp(join(tmpdir(), 'weftmesh-storage-'));
    try {
      const s = new FileStorage(dir);
      // A large value then a small one, neither awaited first: the small one must win.
      const writes = [s.set('hlc', new Uint8Array(4 << 20).fill(7)), s.set('hlc', Uint8Array.of(1, 2, 3))];
      await Promise.all(writes);
      assert.deepEqual(await s.get('hlc'), Uint8Array.of(1, 2, 3));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
