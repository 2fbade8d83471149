import { describe, expect, it } from 'vitest';
import { idKey, messageId } from '../../lib/broadcast/ids.ts';
import { utf8 } from '../../lib/util/bytes.ts';

describe('broadcast id keys', () => {
  it('one key per (kind, id bytes): equal bytes give equal keys, anything else another', () => {
    const a = messageId(utf8('a'));
    const keys = new Set<string>();
    for (const kind of [0, 1, 2, 255]) {
      keys.add(idKey(kind, a));
      keys.add(idKey(kind, messageId(utf8('b'))));
      // Ids of other lengths (never sent, but a key must not collide with an 8-byte one).
      keys.add(idKey(kind, a.subarray(0, 7)));
      keys.add(idKey(kind, new Uint8Array([...a, 0])));
    }
    expect(keys.size).toBe(16);
    expect(idKey(1, a)).toBe(idKey(1, a.slice()));
    expect(idKey(1, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1]))).not.toBe(
      idKey(1, new Uint8Array([0, 0, 0, 0, 0, 0, 1, 0])),
    );
  });
});
