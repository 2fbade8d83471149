/**
 * The mutual authentication every transport shares. Four frames on the stream:
 *
 *   dialer   → acceptor  hello      {cluster, node, key, nonceD}
 *   acceptor → dialer    hello-auth {node, key, nonceA, sigA}
 *   dialer   → acceptor  auth       {sigD}
 *   acceptor → dialer    ready      {}
 *
 * Both signatures cover one transcript — cluster, both public keys, both nonces and both
 * channel bindings — plus the signer's role, so neither can be replayed or reflected, and a
 * relay that swaps DTLS fingerprints makes the two sides sign different transcripts. A link
 * is up only after this round trip: on the acceptor when `auth` verifies, on the dialer when
 * `ready` arrives.
 */
import { nodeIdOf } from '../identity/node-identity.ts';
import { Domain, signingInput } from '../identity/signed.ts';
import { whenVerified } from '../identity/verifier.ts';
import type { TimerId } from '../time/types.ts';
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../util/bytes.ts';
import { decodeMessage, encodeMessage } from '../wire/codec.ts';
import { WireError } from '../wire/errors.ts';
import type { Message, MessageOf } from '../wire/messages.ts';
import { AuthenticatedLink } from './link.ts';
import type { ChannelBinding, HandshakeConfig, Link, PeerInfo, RawChannel } from './types.ts';

/** Why a link handshake failed (`HandshakeError.code`; a dial's failure in `dialFailed`). */
export type HandshakeErrorCode =
  /** Not complete within the handshake timeout (default 10 s). */
  | 'timeout'
  /** The channel closed during the handshake. */
  | 'closed'
  /** A frame that does not belong at this step, or does not decode. */
  | 'protocol'
  /** The peer belongs to another cluster. */
  | 'wrong-cluster'
  /** The node id the peer claims is not the one its key gives. */
  | 'node-id-mismatch'
  /** The peer is not the node this dial expected (ConnectOptions.expectNodeId). */
  | 'unexpected-peer'
  /** This node dialled itself. */
  | 'self'
  /** The peer's transcript signature does not verify. */
  | 'bad-signature'
  /** This node's admission policy refuses the peer (allow-list, token). */
  | 'not-admitted'
  /** The peer refused this node (its reason is the message). */
  | 'refused';

export class HandshakeError extends Error {
  override name = 'HandshakeError';
  readonly code: HandshakeErrorCode;
  /** `unexpected-peer` at the dialler: the node that answered, its transcript signature verified. */
  readonly peer: string | undefined;
  constructor(code: HandshakeErrorCode, message: string, peer?: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.peer = peer;
  }
}

export type HandshakeRole = 'dialer' | 'acceptor';

export interface HandshakeOptions {
  transport: string;
  expectNodeId?: string;
}

const ROLE_DIALER = 1;
const ROLE_ACCEPTOR = 2;

function transcript(
  cluster: string,
  dialerKey: Uint8Array,
  dialerNonce: Uint8Array,
  acceptorKey: Uint8Array,
  acceptorNonce: Uint8Array,
  dialerBinding: Uint8Array,
  acceptorBinding: Uint8Array,
): Uint8Array {
  const c = utf8(cluster);
  return concatBytes(
    Uint8Array.of(c.length),
    c,
    dialerKey,
    dialerNonce,
    acceptorKey,
    acceptorNonce,
    Uint8Array.of(dialerBinding.length),
    dialerBinding,
    Uint8Array.of(acceptorBinding.length),
    acceptorBinding,
  );
}

/**
 * Runs the handshake over `raw`; calls `done` exactly once, with a Link or an error. On
 * failure the raw channel is closed (after a `refuse` frame when the peer deserves a reason).
 */
export function runHandshake(
  raw: RawChannel,
  cfg: HandshakeConfig,
  role: HandshakeRole,
  opts: HandshakeOptions,
  done: (error: HandshakeError | null, link?: Link) => void,
): void {
  const me = cfg.identity;
  const myNonce = cfg.random.bytes(32);
  /** The optional fields this node states in its hello or hello-auth. */
  const stated = { ...(cfg.token ? { token: cfg.token } : {}), ...(cfg.boot ? { boot: cfg.boot } : {}) };
  const binding: ChannelBinding = raw.binding;
  let state: 'hello' | 'hello-auth' | 'auth' | 'ready' | 'verifying' | 'finished' =
    role === 'dialer' ? 'hello-auth' : 'hello';
  let peer: PeerInfo | undefined;
  let script: Uint8Array | undefined;
  let timer: TimerId | undefined;
  /**
   * The dialler found another node than it expected: refused once that node's signature
   * verifies (onHelloAuth), so the error names a node that did answer. Dial policy does not
   * charge such a dial to the address (it may be an honest node's, named by a liar's claim),
   * so an unsigned frame must not pass for another node's answer.
   */
  let unexpected: string | undefined;

  const finish = (error: HandshakeError | null, link?: Link): void => {
    if (state === 'finished') return;
    state = 'finished';
    if (timer !== undefined) cfg.scheduler.cancelTimer(timer);
    done(error, link);
  };
  const fail = (code: HandshakeErrorCode, why: string, tell = true, answered?: string): void => {
    if (state === 'finished') return;
    if (tell) raw.send('stream', encodeMessage({ type: 'refuse', reason: `${code}: ${why}`.slice(0, 200) }));
    // Finished first: closing fires the channel's close handler, whose 'closed' would win.
    finish(new HandshakeError(code, why, answered));
    raw.close(code);
  };
  const send = (msg: Message): void => raw.send('stream', encodeMessage(msg));
  const sign = (roleByte: number): Uint8Array =>
    me.sign(signingInput(Domain.Handshake, withRole(script!, roleByte)));

  /** Checks of the peer's identity claim common to both roles; false after failing. */
  const acceptPeer = (
    node: Uint8Array,
    key: Uint8Array,
    token: Uint8Array | undefined,
    boot: Uint8Array | undefined,
  ): boolean => {
    const claimed = toHex(node);
    let refusal: [HandshakeErrorCode, string] | undefined;
    if (nodeIdOf(key) !== claimed) refusal = ['node-id-mismatch', 'node id does not match public key'];
    else if (equalBytes(key, me.publicKey)) refusal = ['self', 'connected to itself'];
    else {
      peer = { nodeId: claimed, publicKey: key, ...(boot ? { boot: toHex(boot) } : {}) };
      if (opts.expectNodeId === undefined || claimed === opts.expectNodeId) {
        const reason = cfg.admit?.(peer, token);
        if (reason !== undefined) refusal = ['not-admitted', reason];
      } else if (role === 'dialer') unexpected = claimed;
      else refusal = ['unexpected-peer', `expected ${opts.expectNodeId}, got ${claimed}`];
    }
    if (refusal) fail(...refusal);
    return refusal === undefined;
  };

  const verifyPeer = (signature: Uint8Array, roleByte: number, next: () => void): void => {
    const prior = state;
    state = 'verifying';
    whenVerified(
      cfg.verifier.verify(peer!.publicKey, Domain.Handshake, withRole(script!, roleByte), signature),
      (ok) => {
        if (state !== 'verifying') return;
        state = prior;
        if (ok) next();
        else fail('bad-signature', 'transcript signature does not verify');
      },
      () => fail('bad-signature', 'verification failed'),
    );
  };

  const up = (): void => {
    finish(null, new AuthenticatedLink(raw, peer!, opts.transport, role === 'dialer'));
  };

  const onHello = (msg: MessageOf<'hello'>): void => {
    if (msg.cluster !== cfg.cluster) {
      fail('wrong-cluster', `this is cluster ${cfg.cluster}`);
      return;
    }
    if (!acceptPeer(msg.node, msg.key, msg.token, msg.boot)) return;
    script = transcript(
      cfg.cluster,
      msg.key,
      msg.nonce,
      me.publicKey,
      myNonce,
      binding.remote,
      binding.local,
    );
    const sig = sign(ROLE_ACCEPTOR);
    send({
      type: 'hello-auth',
      node: fromHex(me.nodeId),
      key: me.publicKey,
      nonce: myNonce,
      sig,
      ...stated,
    });
    state = 'auth';
  };

  const onHelloAuth = (msg: MessageOf<'hello-auth'>): void => {
    if (!acceptPeer(msg.node, msg.key, msg.token, msg.boot)) return;
    script = transcript(
      cfg.cluster,
      me.publicKey,
      myNonce,
      msg.key,
      msg.nonce,
      binding.local,
      binding.remote,
    );
    verifyPeer(msg.sig, ROLE_ACCEPTOR, () => {
      if (unexpected !== undefined) {
        fail('unexpected-peer', `expected ${opts.expectNodeId}, got ${unexpected}`, true, unexpected);
        return;
      }
      send({ type: 'auth', sig: sign(ROLE_DIALER) });
      state = 'ready';
    });
  };

  const onMessage = (msg: Message): void => {
    if (msg.type === 'refuse') fail('refused', msg.reason, false);
    else if (role === 'acceptor' && state === 'hello' && msg.type === 'hello') onHello(msg);
    else if (role === 'acceptor' && state === 'auth' && msg.type === 'auth') {
      verifyPeer(msg.sig, ROLE_DIALER, () => {
        send({ type: 'ready' });
        up();
      });
    } else if (role === 'dialer' && state === 'hello-auth' && msg.type === 'hello-auth') onHelloAuth(msg);
    else if (role === 'dialer' && state === 'ready' && msg.type === 'ready') up();
    else fail('protocol', `unexpected ${msg.type} frame during the handshake`);
  };

  raw.setHandlers({
    frame(cls, frame) {
      // Datagrams may overtake `ready`; before the link is up they are simply lost.
      if (cls !== 'stream' || state === 'finished') return;
      let msg: Message;
      try {
        msg = decodeMessage(frame);
      } catch (e) {
        fail('protocol', e instanceof WireError ? e.message : 'undecodable frame');
        return;
      }
      onMessage(msg);
    },
    close(reason) {
      finish(new HandshakeError('closed', `channel closed during the handshake (${reason})`));
    },
  });
  timer = cfg.scheduler.setTimer(cfg.timeoutMs ?? 10_000, () => fail('timeout', 'handshake took too long'));
  if (role === 'dialer') {
    send({
      type: 'hello',
      cluster: cfg.cluster,
      node: fromHex(me.nodeId),
      key: me.publicKey,
      nonce: myNonce,
      ...stated,
    });
  }
}

function withRole(script: Uint8Array, roleByte: number): Uint8Array {
  return concatBytes(script, Uint8Array.of(roleByte));
}
