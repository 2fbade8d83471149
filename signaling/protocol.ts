/**
 * The signaling protocol: JSON text frames over a WebSocket. The server is a rendezvous:
 * it admits clients into rooms (one per cluster) after they prove their Ed25519 key,
 * lists and announces peers, and forwards opaque `signal` payloads between two peers of a
 * room. It learns nothing it could abuse: a swapped SDP is caught by the link handshake.
 * A client may advertise where it accepts WebSocket links (`addrs`: ws:// and wss:// URLs);
 * the room lists them with its id, so nodes without WebRTC can dial it. They only say where
 * to knock — whoever answers there proves its identity in the link handshake.
 *
 *   server → client  {t:'challenge', v, nonce}
 *   client → server  {t:'join', room, key, sig, token?, addrs?}  sig over Domain.SignalJoin
 *   server → client  {t:'joined', id, peers, addrs?}            addrs: {peerId: [url…]}
 *   server → client  {t:'peer-joined', id, addrs?} | {t:'peer-left', id}
 *   client → server  {t:'signal', to, data}   →   server → to: {t:'signal', from, data}
 *   either way       {t:'ping'} → {t:'pong'}
 *   server → client  {t:'error', code, message, to?}  to: the peer a refused signal was for
 */
import { concatBytes, utf8 } from '../lib/util/bytes.ts';
import { CLUSTER_NAME } from '../lib/wire/fields.ts';

export const SIGNALING_VERSION = 1;

export type SignalingErrorCode =
  | 'bad-message'
  | 'too-large'
  | 'rate-limited'
  | 'not-joined'
  | 'already-joined'
  | 'auth-failed'
  | 'not-admitted'
  | 'room-full'
  | 'too-many-rooms'
  | 'unknown-peer'
  | 'peer-unreachable'
  | 'replaced'
  | 'server-full'
  | 'source-full'
  | 'target-busy'
  | 'idle';

export type ClientMessage =
  | { t: 'join'; room: string; key: string; sig: string; token?: string; addrs?: string[] }
  | { t: 'signal'; to: string; data: unknown }
  | { t: 'ping' }
  | { t: 'pong' };

export type ServerMessage =
  | { t: 'challenge'; v: number; nonce: string }
  | { t: 'joined'; id: string; peers: string[]; addrs?: Record<string, string[]> }
  | { t: 'peer-joined'; id: string; addrs?: string[] }
  | { t: 'peer-left'; id: string }
  | { t: 'signal'; from: string; data: unknown }
  | { t: 'error'; code: SignalingErrorCode; message: string; to?: string }
  | { t: 'ping' }
  | { t: 'pong' };

const NODE_ID = /^[0-9a-f]{32}$/;
/**
 * Deepest nesting of arrays and objects a frame may have. SDP and ICE payloads need 3;
 * without a bound, a payload that parses may still overflow the stack of whoever
 * serialises it again (the server forwarding it, a client's application).
 */
export const MAX_JSON_DEPTH = 32;
const B64 = /^[A-Za-z0-9_-]*$/;

/** WebSocket addresses one client may advertise in its join. */
export const MAX_ADVERTISED_ADDRESSES = 4;
/** Longest advertised address, characters. */
export const MAX_ADDRESS_LENGTH = 256;

/**
 * An address a client may advertise: a ws:// or wss:// URL with a host, of printable ASCII
 * (so it prints safely anywhere; international host names go in punycode), at most
 * MAX_ADDRESS_LENGTH characters.
 */
export function isWebSocketAddress(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_ADDRESS_LENGTH || !/^wss?:\/\/[\x21-\x7e]+$/.test(v))
    return false;
  try {
    return new URL(v).host !== '';
  } catch {
    return false;
  }
}

/** A list of at most MAX_ADVERTISED_ADDRESSES WebSocket addresses. */
export function isAdvertisement(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_ADVERTISED_ADDRESSES && v.every(isWebSocketAddress);
}

/** What the client signs to join: length-prefixed room name, then the server's nonce. */
export function joinTranscript(room: string, nonce: Uint8Array): Uint8Array {
  const r = utf8(room);
  return concatBytes(Uint8Array.of(r.length), r, nonce);
}

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Strict base64url decoding; undefined when malformed or not `length` bytes (if given). */
export function fromBase64Url(s: unknown, length?: number): Uint8Array | undefined {
  if (typeof s !== 'string' || s.length > 8192 || !B64.test(s)) return undefined;
  try {
    const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4));
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return length === undefined || out.length === length ? out : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether the JSON text nests arrays and objects at most `max` deep (checked before parsing). */
export function jsonDepthWithin(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/** A JSON object nested at most MAX_JSON_DEPTH deep, or undefined for anything else (bad JSON included). */
function parseObject(text: string): Record<string, unknown> | undefined {
  if (!jsonDepthWithin(text, MAX_JSON_DEPTH)) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Parses and validates one client frame; undefined if it is not a message we accept. */
export function parseClientMessage(text: string): ClientMessage | undefined {
  const v = parseObject(text);
  if (!v) return undefined;
  switch (v.t) {
    case 'join':
      if (typeof v.room !== 'string' || !CLUSTER_NAME.test(v.room)) return undefined;
      if (typeof v.key !== 'string' || typeof v.sig !== 'string') return undefined;
      if (v.token !== undefined && typeof v.token !== 'string') return undefined;
      if (v.addrs !== undefined && !isAdvertisement(v.addrs)) return undefined;
      return {
        t: 'join',
        room: v.room,
        key: v.key,
        sig: v.sig,
        ...(v.token === undefined ? {} : { token: v.token }),
        ...(v.addrs === undefined ? {} : { addrs: v.addrs }),
      };
    case 'signal':
      if (typeof v.to !== 'string' || !NODE_ID.test(v.to) || v.data === undefined) return undefined;
      return { t: 'signal', to: v.to, data: v.data };
    case 'ping':
      return { t: 'ping' };
    case 'pong':
      return { t: 'pong' };
    default:
      return undefined;
  }
}

/** Parses one server frame (a client must not trust the server either). */
export function parseServerMessage(text: string): ServerMessage | undefined {
  const v = parseObject(text);
  if (!v) return undefined;
  const id = (x: unknown): x is string => typeof x === 'string' && NODE_ID.test(x);
  switch (v.t) {
    case 'challenge':
      return typeof v.nonce === 'string' && typeof v.v === 'number'
        ? { t: 'challenge', v: v.v, nonce: v.nonce }
        : undefined;
    case 'joined': {
      if (!id(v.id) || !Array.isArray(v.peers) || v.peers.length > 100_000 || !v.peers.every(id))
        return undefined;
      if (v.addrs === undefined) return { t: 'joined', id: v.id, peers: v.peers };
      if (!isObject(v.addrs)) return undefined;
      const listed = new Set(v.peers);
      const addrs = Object.entries(v.addrs);
      return addrs.every(([peer, a]) => listed.has(peer) && isAdvertisement(a))
        ? {
            t: 'joined',
            id: v.id,
            peers: v.peers,
            addrs: Object.fromEntries(addrs) as Record<string, string[]>,
          }
        : undefined;
    }
    case 'peer-joined':
      if (!id(v.id) || (v.addrs !== undefined && !isAdvertisement(v.addrs))) return undefined;
      return v.addrs === undefined
        ? { t: 'peer-joined', id: v.id }
        : { t: 'peer-joined', id: v.id, addrs: v.addrs };
    case 'peer-left':
      return id(v.id) ? { t: 'peer-left', id: v.id } : undefined;
    case 'signal':
      return id(v.from) && v.data !== undefined ? { t: 'signal', from: v.from, data: v.data } : undefined;
    case 'error':
      if (typeof v.code !== 'string' || typeof v.message !== 'string') return undefined;
      return {
        t: 'error',
        code: v.code as SignalingErrorCode,
        message: v.message.slice(0, 500),
        ...(id(v.to) ? { to: v.to } : {}),
      };
    case 'ping':
      return { t: 'ping' };
    case 'pong':
      return { t: 'pong' };
    default:
      return undefined;
  }
}
