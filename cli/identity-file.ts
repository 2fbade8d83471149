import { chmod, readFile, writeFile } from 'node:fs/promises';
import { NodeIdentity } from '../lib/identity/node-identity.ts';
import { fromHex, toHex } from '../lib/util/bytes.ts';

/** Loads the identity saved in `path` (hex seed), or creates one there (mode 0600). */
export async function identityFromFile(path: string): Promise<NodeIdentity> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${path} does not hold a 32-byte hex seed`);
    return NodeIdentity.fromSecretKey(fromHex(text));
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  const identity = NodeIdentity.generate();
  await writeFile(path, `${toHex(identity.exportSecretKey())}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
  return identity;
}
