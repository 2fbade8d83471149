// The file-backed chain store under Deno (node:fs through Deno's Node compatibility): a chain
// written, its file's tail torn, and reopened valid at its last whole append.
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { FileChainStorage } from '../../lib/chain/file-storage.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`assertion failed: ${what}`);
}

Deno.test('chain file store: appends survive a reopen; a torn tail is truncated to the last whole append', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'weftmesh-chain-' });
  try {
    const identity = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(5));
    const opts = { identity, name: 'deno', verifier: strictVerifier };
    const store = await FileChainStorage.open(dir);
    const log = await ChainLog.open({ ...opts, storage: store, create: true });
    for (let i = 0; i < 10; i++) await log.appendBatch([i, `entry ${i}`]);
    await store.close();
    const file = `${dir}/chains.log`;
    const size = (await Deno.stat(file)).size;
    await Deno.truncate(file, size - 7);
    const again = await FileChainStorage.open(dir);
    assert(again.recovery.truncatedBytes > 0, 'the torn record was dropped');
    const reopened = await ChainLog.open({ ...opts, storage: again });
    assert(reopened.length === 18, `18 entries kept (got ${reopened.length})`);
    assert(await reopened.verifyIntegrity(), 'the chain is valid');
    const next = await reopened.append('after');
    assert(next.sequence === 18, 'the author continues after the last whole append');
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
