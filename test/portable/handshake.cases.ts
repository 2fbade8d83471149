import assert from 'node:assert/strict';
import { CachedVerifier, NodeIdentity, strictVerifier } from '../../lib/identity/mod.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { HandshakeError, type HandshakeErrorCode, runHandshake } from '../../lib/transport/handshake.ts';
import type { HandshakeConfig, Link, RawChannel } from '../../lib/transport/types.ts';
import { fromHex, utf8 } from '../../lib/util/bytes.ts';
import { decodeMessage, encodeMessage } from '../../lib/wire/codec.ts';
import { rawPair, type Tamper } from '../support/raw-pair.ts';
import type { Suite } from './case.ts';

interface Outcome {
  error: HandshakeError | null;
  link?: Link;
}

function config(
  s: VirtualScheduler,
  identity: NodeIdentity,
  cluster = 'c',
  extra: Partial<HandshakeConfig> = {},
) {
  return {
    identity,
    cluster,
    verifier: new CachedVerifier(strictVerifier),
    scheduler: s,
    random: new SeededRandom(identity.nodeId),
    ...extra,
  };
}

function handshake(
  opts: {
    tamper?: Tamper;
    dialer?: NodeIdentity;
    acceptor?: NodeIdentity;
    dialerCluster?: string;
    expectNodeId?: string;
    bindings?: [{ local: Uint8Array; remote: Uint8Array }, { local: Uint8Array; remote: Uint8Array }];
    acceptorExtra?: Partial<HandshakeConfig>;
    dialerExtra?: Partial<HandshakeConfig>;
    closeTellsSelf?: boolean;
  } = {},
) {
  const s = new VirtualScheduler();
  const dialer = opts.dialer ?? NodeIdentity.generate();
  const acceptor = opts.acceptor ?? NodeIdentity.generate();
  const pairOpts = {
    tamper: opts.tamper,
    closeTellsSelf: opts.closeTellsSelf === true,
    ...(opts.bindings ? { bindingA: opts.bindings[0], bindingB: opts.bindings[1] } : {}),
  };
  const [a, b] = rawPair(s, pairOpts as Parameters<typeof rawPair>[1]);
  const out: { dialer?: Outcome; acceptor?: Outcome } = {};
  const dialOpts = opts.expectNodeId
    ? { transport: 't', expectNodeId: opts.expectNodeId }
    : { transport: 't' };
  const dialerConfig = config(s, dialer, opts.dialerCluster ?? 'c', opts.dialerExtra);
  runHandshake(a, dialerConfig, 'dialer', dialOpts, (error, link) => {
    out.dialer = { error, ...(link ? { link } : {}) };
  });
  runHandshake(
    b,
    config(s, acceptor, 'c', opts.acceptorExtra),
    'acceptor',
    { transport: 't' },
    (error, link) => {
      out.acceptor = { error, ...(link ? { link } : {}) };
    },
  );
  s.runFor(60_000);
  return { out, dialer, acceptor, a, b };
}

function failedWith(o: Outcome | undefined, code: HandshakeErrorCode): void {
  assert.ok(o, 'handshake finished');
  assert.ok(o.error instanceof HandshakeError, `expected a HandshakeError, got ${o.error}`);
  assert.equal(o.error.code, code, o.error.message);
  assert.equal(o.link, undefined);
}

/** Rewrites one handshake message in flight. */
function rewrite(type: string, change: (m: Record<string, unknown>) => void): Tamper {
  return (_side, frame) => {
    const msg = decodeMessage(frame) as unknown as Record<string, unknown>;
    if (msg.type !== type) return frame;
    change(msg);
    return encodeMessage(msg as never);
  };
}

export const handshakeCases: Suite = {
  'both sides get a link to the proven peer after four frames'() {
    const { out, dialer, acceptor, a, b } = handshake();
    assert.equal(out.dialer?.error, null);
    assert.equal(out.acceptor?.error, null);
    assert.equal(out.dialer?.link?.peer.nodeId, acceptor.nodeId);
    assert.equal(out.acceptor?.link?.peer.nodeId, dialer.nodeId);
    assert.equal(out.dialer?.link?.initiator, true);
    assert.equal(out.acceptor?.link?.initiator, false);
    const types = [...a.sent, ...b.sent].map((f) => decodeMessage(f).type).sort();
    assert.deepEqual(types, ['auth', 'hello', 'hello-auth', 'ready']);
  },

  'each side learns the run the other states (a restarted peer is told from its old process), or none'() {
    const { out } = handshake({
      dialerExtra: { boot: fromHex('0102030405060708') },
      acceptorExtra: { boot: fromHex('a1a2a3a4a5a6a7a8') },
    });
    assert.equal(out.dialer?.link?.peer.boot, 'a1a2a3a4a5a6a7a8');
    assert.equal(out.acceptor?.link?.peer.boot, '0102030405060708');
    const older = handshake({ acceptorExtra: { boot: fromHex('a1a2a3a4a5a6a7a8') } });
    assert.equal(older.out.acceptor?.link?.peer.boot, undefined);
    assert.equal(older.out.dialer?.link?.peer.boot, 'a1a2a3a4a5a6a7a8');
  },

  'a wrong cluster is refused and the dialer learns why'() {
    const { out } = handshake({ dialerCluster: 'other' });
    failedWith(out.acceptor, 'wrong-cluster');
    failedWith(out.dialer, 'refused');
    assert.match(out.dialer!.error!.message, /wrong-cluster/);
  },

  'the refusal keeps its code when closing the channel tells the handshake at once (WebSocket, WebRTC)'() {
    const { out } = handshake({ dialerCluster: 'other', closeTellsSelf: true });
    failedWith(out.acceptor, 'wrong-cluster');
    failedWith(out.dialer, 'refused');
    const silent = handshake({ closeTellsSelf: true, tamper: () => null });
    failedWith(silent.out.dialer, 'timeout');
    failedWith(silent.out.acceptor, 'timeout');
  },

  'a node id that does not match the key is refused'() {
    const victim = NodeIdentity.generate();
    const { out } = handshake({ tamper: rewrite('hello', (m) => (m.node = fromHex(victim.nodeId))) });
    failedWith(out.acceptor, 'node-id-mismatch');
  },

  'an impostor with its own key cannot pose as an expected node id; the error names the node that answered'() {
    const expected = NodeIdentity.generate();
    const { out, acceptor } = handshake({ expectNodeId: expected.nodeId });
    failedWith(out.dialer, 'unexpected-peer');
    assert.equal((out.dialer!.error as HandshakeError).peer, acceptor.nodeId);
  },

  'another node’s answer counts only once its signature verifies: an unsigned one is a bad signature, not an unexpected peer'() {
    const expected = NodeIdentity.generate();
    const stranger = NodeIdentity.generate();
    const { out } = handshake({
      expectNodeId: expected.nodeId,
      tamper: rewrite('hello-auth', (m) => {
        m.node = fromHex(stranger.nodeId);
        m.key = stranger.publicKey;
        m.sig = new Uint8Array(64);
      }),
    });
    failedWith(out.dialer, 'bad-signature');
    assert.equal((out.dialer!.error as HandshakeError).peer, undefined);
  },

  'a forged transcript signature is refused'() {
    const { out } = handshake({
      tamper: rewrite('hello-auth', (m) => {
        const sig = (m.sig as Uint8Array).slice();
        sig[5]! ^= 0x40;
        m.sig = sig;
      }),
    });
    failedWith(out.dialer, 'bad-signature');
  },

  'a signature made for another purpose is refused (domain separation)'() {
    const attacker = NodeIdentity.generate();
    const { out } = handshake({
      dialer: attacker,
      tamper: rewrite('auth', (m) => (m.sig = attacker.sign(utf8('not a transcript')))),
    });
    failedWith(out.acceptor, 'bad-signature');
  },

  'swapped channel bindings (e.g. DTLS fingerprints) are detected'() {
    const fpA = new Uint8Array(32).fill(0xaa);
    const fpB = new Uint8Array(32).fill(0xbb);
    const fpEvil = new Uint8Array(32).fill(0xee);
    const ok = handshake({
      bindings: [
        { local: fpA, remote: fpB },
        { local: fpB, remote: fpA },
      ],
    });
    assert.equal(ok.out.dialer?.error, null);
    // The relay gave the acceptor its own fingerprint instead of the dialer's.
    const swapped = handshake({
      bindings: [
        { local: fpA, remote: fpB },
        { local: fpB, remote: fpEvil },
      ],
    });
    failedWith(swapped.out.dialer, 'bad-signature');
  },

  'connecting to oneself is refused'() {
    const me = NodeIdentity.generate();
    const { out } = handshake({ dialer: me, acceptor: me });
    failedWith(out.acceptor, 'self');
  },

  'the admission policy can refuse an authenticated peer'() {
    const { out } = handshake({ acceptorExtra: { admit: () => 'not on the allow-list' } });
    failedWith(out.acceptor, 'not-admitted');
    failedWith(out.dialer, 'refused');
  },

  'garbage during the handshake is a protocol error, silence a timeout'() {
    const garbage = handshake({ tamper: (side, f) => (side === 'a' ? Uint8Array.of(0xff, 0x00) : f) });
    failedWith(garbage.out.acceptor, 'protocol');
    const silent = handshake({ tamper: (side, f) => (side === 'b' ? null : f) });
    failedWith(silent.out.dialer, 'timeout');
    failedWith(silent.out.acceptor, 'timeout');
  },

  'a closed channel ends the handshake'() {
    const s = new VirtualScheduler();
    const [a, b] = rawPair(s);
    let result: HandshakeError | null | undefined;
    runHandshake(
      a as RawChannel,
      config(s, NodeIdentity.generate()),
      'dialer',
      { transport: 't' },
      (e) => (result = e),
    );
    b.close('gone');
    s.runFor(100);
    assert.ok(result instanceof HandshakeError && result.code === 'closed');
  },
};
