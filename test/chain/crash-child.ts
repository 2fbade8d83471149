// Child process of file-storage.test.ts: appends to an author's chain in a FileChainStorage
// as fast as it can and prints `ack <length>` after each append resolved (is durable), until
// it is killed. Run: node --import tsx crash-child.ts <dir>
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { FileChainStorage } from '../../lib/chain/file-storage.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';

const dir = process.argv[2]!;
const storage = await FileChainStorage.open(dir);
const identity = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(3));
const log = await ChainLog.open({
  identity,
  name: 'crash',
  storage,
  verifier: strictVerifier,
  create: storage.chains().length === 0,
});
process.stdout.write(`open ${log.length}\n`);
for (let i = 0; ; i++) {
  const n = 1 + (i % 5);
  await log.appendBatch(Array.from({ length: n }, (_, j) => new Uint8Array(100 + ((i + j) % 300)).fill(j)));
  process.stdout.write(`ack ${log.length}\n`);
}
