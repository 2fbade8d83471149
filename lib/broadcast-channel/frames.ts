/**
 * Frames on a cluster's BroadcastChannel. Every context of the origin on the channel gets
 * every frame, and any script of the origin may post one: each is decoded strictly, and one
 * that fails is dropped and counted by the transport, never thrown. Binary layout:
 *
 *   0       kind
 *   1..17   sender node id
 *   17..25  sender instance (random per transport: a reloaded tab is a new instance)
 *   HELLO, HERE, BYE (presence) end here; the link kinds go on:
 *   25..41  recipient node id
 *   41..57  link id (the dialler's 16-byte nonce)
 *   OPEN         —
 *   ACCEPT       57..73 the acceptor's 16-byte nonce
 *   STREAM, DATAGRAM  57..61 sequence number (u32, per link and direction), then the payload
 *   CLOSE        57..   reason (UTF-8, at most 120 bytes)
 *   ACK          57..65 stream payload bytes received so far (float64)
 *   ACK_REQUEST  —
 */
import { fromHex, fromUtf8, toHex, utf8 } from '../util/bytes.ts';

export const Kind = {
  Hello: 1,
  Here: 2,
  Bye: 3,
  Open: 4,
  Accept: 5,
  Stream: 6,
  Datagram: 7,
  Close: 8,
  Ack: 9,
  AckRequest: 10,
} as const;
export type KindCode = (typeof Kind)[keyof typeof Kind];

const ID = 16;
const INSTANCE = 8;
export const NONCE_BYTES = 16;
export const PRESENCE_BYTES = 1 + ID + INSTANCE;
export const LINK_HEADER_BYTES = PRESENCE_BYTES + ID + NONCE_BYTES;
const SEQ_BYTES = 4;
const MAX_REASON_BYTES = 120;

/** Sender of a frame: node id and instance, both hex. */
export interface Sender {
  readonly from: string;
  readonly instance: string;
}

export type LinkFrame =
  | { kind: typeof Kind.Open }
  | { kind: typeof Kind.Accept; nonce: Uint8Array }
  | { kind: typeof Kind.Stream | typeof Kind.Datagram; seq: number; payload: Uint8Array }
  | { kind: typeof Kind.Close; reason: string }
  | { kind: typeof Kind.Ack; received: number }
  | { kind: typeof Kind.AckRequest };

export type Decoded =
  | (Sender & { kind: typeof Kind.Hello | typeof Kind.Here | typeof Kind.Bye })
  | (Sender & { to: string; link: string; frame: LinkFrame });

export function isPresence(kind: number): boolean {
  return kind === Kind.Hello || kind === Kind.Here || kind === Kind.Bye;
}

/** A presence frame of `me` (id and instance bytes). */
export function presenceFrame(kind: KindCode, me: Uint8Array, instance: Uint8Array): Uint8Array {
  const f = new Uint8Array(PRESENCE_BYTES);
  f[0] = kind;
  f.set(me, 1);
  f.set(instance, 1 + ID);
  return f;
}

/** The fixed part of every frame of one link, as this end sends it (kind byte left 0). */
export function linkHeader(me: Uint8Array, instance: Uint8Array, to: string, link: Uint8Array): Uint8Array {
  const h = new Uint8Array(LINK_HEADER_BYTES);
  h.set(me, 1);
  h.set(instance, 1 + ID);
  h.set(fromHex(to), PRESENCE_BYTES);
  h.set(link, PRESENCE_BYTES + ID);
  return h;
}

/** A link frame: `header` with `kind`, then `body`. */
export function linkFrame(header: Uint8Array, kind: KindCode, body?: Uint8Array): Uint8Array {
  const f = new Uint8Array(LINK_HEADER_BYTES + (body?.length ?? 0));
  f.set(header);
  f[0] = kind;
  if (body) f.set(body, LINK_HEADER_BYTES);
  return f;
}

export function seqBody(seq: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(SEQ_BYTES + payload.length);
  new DataView(b.buffer).setUint32(0, seq >>> 0);
  b.set(payload, SEQ_BYTES);
  return b;
}

export function ackBody(received: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, received);
  return b;
}

export function reasonBody(reason: string): Uint8Array {
  // Cut by characters until the UTF-8 fits: never half a code point.
  let r = reason.slice(0, MAX_REASON_BYTES);
  while (utf8(r).length > MAX_REASON_BYTES) r = r.slice(0, -1);
  return utf8(r);
}

/** Whether a link frame is addressed to `me`, read before decoding anything else (most are not). */
export function addressedTo(f: Uint8Array, me: Uint8Array): boolean {
  if (f.length < LINK_HEADER_BYTES) return false;
  for (let i = 0; i < ID; i++) if (f[PRESENCE_BYTES + i] !== me[i]) return false;
  return true;
}

/** Why a frame was refused (the transport counts drops by it). */
export class FrameError extends Error {
  override name = 'FrameError';
}

/** Decodes one frame strictly; throws FrameError on anything no weftmesh transport posts. */
export function decodeFrame(f: Uint8Array): Decoded {
  if (f.length < PRESENCE_BYTES) throw new FrameError('short frame');
  const kind = f[0]!;
  const from = toHex(f.subarray(1, 1 + ID));
  const instance = toHex(f.subarray(1 + ID, PRESENCE_BYTES));
  if (isPresence(kind)) {
    if (f.length !== PRESENCE_BYTES) throw new FrameError('presence frame of the wrong size');
    return { kind: kind as typeof Kind.Hello, from, instance };
  }
  if (f.length < LINK_HEADER_BYTES) throw new FrameError('short link frame');
  const to = toHex(f.subarray(PRESENCE_BYTES, PRESENCE_BYTES + ID));
  const link = toHex(f.subarray(PRESENCE_BYTES + ID, LINK_HEADER_BYTES));
  const body = f.subarray(LINK_HEADER_BYTES);
  const exact = (n: number) => {
    if (body.length !== n) throw new FrameError(`kind ${kind} with a ${body.length}-byte body`);
  };
  let frame: LinkFrame;
  switch (kind) {
    case Kind.Open:
    case Kind.AckRequest:
      exact(0);
      frame = { kind };
      break;
    case Kind.Accept:
      exact(NONCE_BYTES);
      frame = { kind, nonce: body.slice() };
      break;
    case Kind.Stream:
    case Kind.Datagram:
      if (body.length < SEQ_BYTES) throw new FrameError('data frame without a sequence number');
      frame = {
        kind,
        seq: new DataView(body.buffer, body.byteOffset, SEQ_BYTES).getUint32(0),
        payload: body.slice(SEQ_BYTES),
      };
      break;
    case Kind.Close:
      if (body.length > MAX_REASON_BYTES) throw new FrameError('close reason too long');
      frame = { kind, reason: fromUtf8(body) };
      break;
    case Kind.Ack: {
      exact(8);
      const received = new DataView(body.buffer, body.byteOffset, 8).getFloat64(0);
      if (!Number.isSafeInteger(received) || received < 0) throw new FrameError('bad acknowledgement');
      frame = { kind, received };
      break;
    }
    default:
      throw new FrameError(`unknown kind ${kind}`);
  }
  return { from, instance, to, link, frame };
}
