/**
 * Domain-separated signatures: every signature weftmesh makes covers a domain tag, so a
 * signature made for one purpose (say, a handshake transcript) is never valid for another
 * (say, an alive claim) even when the payload bytes happen to coincide.
 */
import { concatBytes, utf8 } from '../util/bytes.ts';
import type { NodeIdentity } from './node-identity.ts';

/** The domains weftmesh signs in. Applications may use their own tags (same format). */
export const Domain = {
  Handshake: 'weftmesh/handshake/v1',
  Alive: 'weftmesh/alive/v1',
  Leave: 'weftmesh/leave/v1',
  Suspect: 'weftmesh/suspect/v1',
  Unreachable: 'weftmesh/unreachable/v1',
  SignalJoin: 'weftmesh/signal-join/v1',
  Entry: 'weftmesh/entry/v1',
  App: 'weftmesh/app/v1',
  Broadcast: 'weftmesh/broadcast/v1',
  /** A probe target's answer to a ping relayed by a witness: nonce, target id, requester id. */
  ProbeAck: 'weftmesh/probe-ack/v1',
} as const;

const DOMAIN_PATTERN = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9._-]+)*\/v[0-9]+$/;
const PREFIX = utf8('weftmesh-signed\0');

/** The bytes actually signed: fixed prefix, length-prefixed domain tag, payload. */
export function signingInput(domain: string, payload: Uint8Array): Uint8Array {
  if (domain.length > 64 || !DOMAIN_PATTERN.test(domain)) {
    throw new TypeError(`invalid signature domain tag: ${JSON.stringify(domain)}`);
  }
  const tag = utf8(domain);
  return concatBytes(PREFIX, Uint8Array.of(tag.length), tag, payload);
}

/** A payload, the domain it was signed for, and the signature. */
export interface SignedEnvelope {
  readonly domain: string;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

export function signEnvelope(identity: NodeIdentity, domain: string, payload: Uint8Array): SignedEnvelope {
  return { domain, payload, signature: identity.sign(signingInput(domain, payload)) };
}
