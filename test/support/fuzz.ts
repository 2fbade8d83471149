/** Random messages and byte-level mutations for fuzzing the decoder (shared by bench and tests). */
import type { SeededRandom } from '../../lib/time/random.ts';
import { type Message, type MessageType, registry } from '../../lib/wire/mod.ts';
import { sampleOf } from './schema-gen.ts';

export function sampleMessage(type: MessageType, r: SeededRandom): Message {
  return { type, ...(sampleOf(registry[type].body, r) as object) } as Message;
}

/** CBOR heads that make interesting trouble: huge lengths, tags, indefinite items, floats. */
const HEADS = [0x1b, 0x5b, 0x7b, 0x9b, 0xbb, 0xc1, 0xd8, 0x9f, 0xbf, 0xf7, 0xfb, 0xff];

export function mutate(bytes: Uint8Array, r: SeededRandom): Uint8Array {
  const out = Array.from(bytes);
  const edits = 1 + r.int(4);
  for (let i = 0; i < edits; i++) {
    const at = r.int(out.length + 1);
    switch (r.int(6)) {
      case 0:
        if (out.length) out[at % out.length]! ^= 1 << r.int(8);
        break;
      case 1:
        if (out.length) out[at % out.length] = r.int(256);
        break;
      case 2:
        out.splice(at, 0, r.int(256));
        break;
      case 3:
        out.splice(at, 1 + r.int(4));
        break;
      case 4:
        out.length = Math.min(out.length, at);
        break;
      default:
        out.splice(at, 0, HEADS[r.int(HEADS.length)]!);
    }
  }
  return Uint8Array.from(out);
}
