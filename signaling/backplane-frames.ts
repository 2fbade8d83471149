/**
 * What signaling instances write to their shared backplane (Redis) and read back, with the
 * strict parsers for it: whatever comes out of Redis is hostile until it parsed (anyone with
 * access to the Redis database can publish or write there), so a frame that does not parse
 * is dropped and counted, never trusted in part.
 *
 *   instance channel  {t:'s', r: room, f: from, o: to, d: data}   a signal for a local peer
 *                     {t:'p', n: nonce}                            the instance's own probe
 *   room channel      {t:'j', r: room, n: id, i: instance, a?: [addr…]}   joined there
 *                     {t:'l', r: room, n: id, i: instance}                left there
 *   room hash entry   "<instance> <addr> <addr>…"   (field: node id; addresses have no spaces)
 */
import { CLUSTER_NAME } from '../lib/wire/fields.ts';
import { isAdvertisement, isWebSocketAddress, jsonDepthWithin, MAX_JSON_DEPTH } from './protocol.ts';

const NODE_ID = /^[0-9a-f]{32}$/;
/** Instance ids: 16 hex digits, random per process start. */
export const INSTANCE_ID = /^[0-9a-f]{16}$/;

export type InstanceFrame = { t: 's'; r: string; f: string; o: string; d: unknown } | { t: 'p'; n: string };

export type RoomEvent =
  | { t: 'j'; r: string; n: string; i: string; a: string[] }
  | { t: 'l'; r: string; n: string; i: string };

/** A parse that failed says why (the reason is what gets counted). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

function parseJson(text: unknown, maxBytes: number): Parsed<Record<string, unknown>> {
  if (typeof text !== 'string') return fail('not-text');
  if (text.length > maxBytes) return fail('too-large');
  if (!jsonDepthWithin(text, MAX_JSON_DEPTH)) return fail('too-deep');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail('bad-json');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not-an-object');
  return { ok: true, value: v as Record<string, unknown> };
}

const isRoom = (v: unknown): v is string => typeof v === 'string' && CLUSTER_NAME.test(v);
const isId = (v: unknown): v is string => typeof v === 'string' && NODE_ID.test(v);
const isInstance = (v: unknown): v is string => typeof v === 'string' && INSTANCE_ID.test(v);

/** A frame from an instance channel; `maxBytes` bounds the text (signal data included). */
export function parseInstanceFrame(text: unknown, maxBytes: number): Parsed<InstanceFrame> {
  const p = parseJson(text, maxBytes);
  if (!p.ok) return p;
  const v = p.value;
  if (v.t === 'p')
    return typeof v.n === 'string' && v.n.length <= 64
      ? { ok: true, value: { t: 'p', n: v.n } }
      : fail('bad-probe');
  if (v.t !== 's') return fail('unknown-type');
  if (!isRoom(v.r) || !isId(v.f) || !isId(v.o) || v.d === undefined) return fail('bad-signal');
  return { ok: true, value: { t: 's', r: v.r, f: v.f, o: v.o, d: v.d } };
}

/** A frame from the channel of room `room` (an event naming another room is refused). */
export function parseRoomEvent(text: unknown, room: string): Parsed<RoomEvent> {
  const p = parseJson(text, 2048);
  if (!p.ok) return p;
  const v = p.value;
  if (v.r !== room) return fail('wrong-room');
  if (!isId(v.n) || !isInstance(v.i)) return fail('bad-event');
  if (v.t === 'l') return { ok: true, value: { t: 'l', r: room, n: v.n, i: v.i } };
  if (v.t !== 'j') return fail('unknown-type');
  const a = v.a ?? [];
  if (!isAdvertisement(a)) return fail('bad-addresses');
  return { ok: true, value: { t: 'j', r: room, n: v.n, i: v.i, a } };
}

/** A room hash entry's value. */
export function encodeEntry(instance: string, addrs: readonly string[]): string {
  return [instance, ...addrs].join(' ');
}

/** A room hash entry (field `id`, value `text`), or why not. */
export function parseEntry(
  id: unknown,
  text: unknown,
): Parsed<{ id: string; instance: string; addrs: string[] }> {
  if (!isId(id)) return fail('bad-entry-id');
  if (typeof text !== 'string' || text.length > 2048) return fail('bad-entry');
  const [instance, ...addrs] = text.split(' ');
  if (!isInstance(instance) || !isAdvertisement(addrs) || !addrs.every(isWebSocketAddress))
    return fail('bad-entry');
  return { ok: true, value: { id, instance, addrs } };
}
