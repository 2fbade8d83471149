import { decodeCbor, encodeCbor } from './cbor.ts';
import { WireError } from './errors.ts';
import { type Message, type MessageType, registry, typeByCode, WIRE_VERSION } from './messages.ts';
import type { Schema } from './schema.ts';

export interface WireLimits {
  /** Largest frame accepted or produced, in bytes. Default 64 KiB. */
  maxFrameBytes: number;
  /** Deepest nesting of arrays/maps. Default 16. */
  maxDepth: number;
  /** Most entries in one array or map. Default 4096. */
  maxItems: number;
}

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxDepth: 16,
  maxItems: 4096,
});

function limitsOf(opts?: Partial<WireLimits>): WireLimits {
  return opts ? { ...DEFAULT_WIRE_LIMITS, ...opts } : DEFAULT_WIRE_LIMITS;
}

/** Validates `msg` against its schema and encodes it. Throws WireError if it is invalid or too large. */
export function encodeMessage(msg: Message, opts?: Partial<WireLimits>): Uint8Array {
  const entry = registry[msg.type as MessageType] as (typeof registry)[MessageType] | undefined;
  if (!entry) throw new WireError('unknown-type', `no message type ${JSON.stringify(msg.type)}`);
  const { type: _type, ...body } = msg;
  // Lower to the wire form, then check it exactly as a peer will.
  const wire = (entry.body as Schema<object>).lower(body);
  entry.body.parse(wire, msg.type);
  const frame = encodeCbor([WIRE_VERSION, entry.code, wire]);
  const { maxFrameBytes } = limitsOf(opts);
  if (frame.length > maxFrameBytes) {
    throw new WireError('too-large', `${msg.type} frame is ${frame.length} bytes > ${maxFrameBytes}`);
  }
  return frame;
}

/** Decodes one frame from an untrusted peer. Throws only WireError. */
export function decodeMessage(bytes: Uint8Array, opts?: Partial<WireLimits>): Message {
  const limits = limitsOf(opts);
  if (!(bytes instanceof Uint8Array)) throw new WireError('malformed', 'frame is not a byte array');
  if (bytes.length > limits.maxFrameBytes) {
    throw new WireError('too-large', `frame is ${bytes.length} bytes > ${limits.maxFrameBytes}`);
  }
  const frame = decodeCbor(bytes, limits);
  if (!Array.isArray(frame) || frame.length !== 3) {
    throw new WireError('malformed', 'a frame is [version, type, body]');
  }
  const [version, code, body] = frame as unknown[];
  if (version !== WIRE_VERSION)
    throw new WireError('bad-version', `unsupported wire version ${String(version)}`);
  const type = typeof code === 'number' ? typeByCode.get(code) : undefined;
  if (!type) throw new WireError('unknown-type', `unknown message type code ${String(code)}`);
  const parsed = registry[type].body.parse(body, type);
  return { type, ...parsed } as Message;
}
