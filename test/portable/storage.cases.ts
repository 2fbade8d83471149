import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../../lib/identity/mod.ts';
import { FileStorage } from '../../lib/storage/file.ts';
import { MemoryStorage, type Storage, StorageError } from '../../lib/storage/mod.ts';
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
};
