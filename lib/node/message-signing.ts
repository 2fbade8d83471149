/**
 * The bytes an origin signs for a relayed message (domain App) and for a broadcast (domain
 * Broadcast): every field but the hop count, which relays lower. Fixed-width fields first,
 * the topic length-prefixed, the data last, so no two messages share their bytes.
 */
import { concatBytes, u32be, utf8 } from '../util/bytes.ts';
import type { MessageOf } from '../wire/messages.ts';

/** A relayed message: the fields it is signed over (`epoch` and `seq` are present when relayed). */
export type SignedApp = Omit<MessageOf<'app'>, 'type' | 'ttl' | 'sig' | 'key'> & {
  epoch: number;
  seq: number;
};

export function appPayload(m: SignedApp): Uint8Array {
  const t = utf8(m.topic);
  return concatBytes(
    m.from,
    m.to,
    u32be(m.epoch),
    u32be(m.seq),
    u32be(m.id),
    Uint8Array.of(m.kind, t.length),
    t,
    m.data,
  );
}

export function broadcastPayload(
  m: Omit<MessageOf<'broadcast'>, 'type' | 'ttl' | 'sig' | 'key'>,
): Uint8Array {
  const t = utf8(m.topic);
  return concatBytes(m.origin, u32be(m.epoch), u32be(m.seq), Uint8Array.of(t.length), t, m.data);
}
