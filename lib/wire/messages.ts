/**
 * Every message weftmesh sends, by type. A frame on the wire is the CBOR array
 * [WIRE_VERSION, typeCode, body]; the body is validated by the type's schema.
 * Codes are stable: never reuse one.
 */
import { clusterField, nodeIdField, nonceField, publicKeyField, signatureField } from './fields.ts';
import { type Infer, type Schema, struct, text } from './schema.ts';

export const WIRE_VERSION = 1;

export const registry = {
  /** Handshake 1/4, dialer → acceptor: who I am, a fresh nonce. */
  hello: {
    code: 1,
    body: struct({ cluster: clusterField, node: nodeIdField, key: publicKeyField, nonce: nonceField }),
  },
  /** Handshake 2/4, acceptor → dialer: who I am, my nonce, my signature over the transcript. */
  'hello-auth': {
    code: 2,
    body: struct({ node: nodeIdField, key: publicKeyField, nonce: nonceField, sig: signatureField }),
  },
  /** Handshake 3/4, dialer → acceptor: the dialer's signature over the transcript. */
  auth: { code: 3, body: struct({ sig: signatureField }) },
  /** Handshake 4/4, acceptor → dialer: accepted; the link is up on both sides. */
  ready: { code: 4, body: struct({}) },
  /** Either side, any time: the link is being closed, and why. */
  refuse: { code: 5, body: struct({ reason: text(0, 200) }) },
} as const satisfies Record<string, { code: number; body: Schema<object> }>;

export type MessageType = keyof typeof registry;
export type MessageOf<T extends MessageType> = { type: T } & Infer<(typeof registry)[T]['body']>;
export type Message = { [T in MessageType]: MessageOf<T> }[MessageType];

export const typeByCode: ReadonlyMap<number, MessageType> = new Map(
  (Object.keys(registry) as MessageType[]).map((t) => [registry[t].code, t]),
);
