// Typed errors with codes everywhere a user can catch one (issue 12, item 5): each call that
// fails throws, rejects with or reports an instance of its area's class, with the documented
// `code` (docs/ERRORS.md).

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { heartbeatConfig } from '../../lib/membership/config.ts';
import * as root from '../../lib/mod.ts';
import { SimError } from '../../lib/sim/errors.ts';
import { SimNetwork } from '../../lib/sim/network.ts';
import { FileStorage } from '../../lib/storage/file.ts';
import { HybridLogicalClock } from '../../lib/time/hlc.ts';
import { realEnv } from '../../lib/time/real.ts';
import { ChunkError, Reassembler } from '../../lib/transport/chunks.ts';
import type { TransportContext, TransportEvents } from '../../lib/transport/types.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { listenWebSocketDeno } from '../../lib/websocket/deno.ts';
import { WebSocketTransport } from '../../lib/websocket/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { serveSignalingDeno } from '../../signaling/deno.ts';
import { identity } from '../support/membership-context.ts';

const {
  ConfigError,
  IdentityError,
  MerkleProofError,
  NodeIdentity,
  StorageError,
  TransportError,
  HlcSkewError,
  WebStorage,
  checkStorageKey,
  consistencyProof,
  inclusionProof,
  nodeIdOf,
} = root;

/** The error `fn` throws (or undefined). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const codeOf = (e: unknown) => (e as { code?: unknown } | undefined)?.code;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('every error class the root entry exports carries a code', () => {
  it('each *Error class has its *ErrorCode type beside it (HlcSkewError: one constant code; CodedError: the generic base)', () => {
    const source = readFileSync(new URL('../../lib/mod.ts', import.meta.url), 'utf8');
    const classes = Object.keys(root).filter((k) => k.endsWith('Error'));
    expect(classes.length).toBeGreaterThanOrEqual(9);
    const missing = classes.filter(
      (c) => c !== 'HlcSkewError' && c !== 'CodedError' && !new RegExp(`type ${c}Code\\b`).test(source),
    );
    expect(missing).toEqual([]);
  });
});

describe('identity, config, storage, proofs, clocks', () => {
  it('IdentityError: invalid-public-key, invalid-secret-key', () => {
    const a = thrown(() => nodeIdOf(new Uint8Array(31)));
    const b = thrown(() => NodeIdentity.fromSecretKey(new Uint8Array(5)));
    expect(a).toBeInstanceOf(IdentityError);
    expect([codeOf(a), codeOf(b)]).toEqual(['invalid-public-key', 'invalid-secret-key']);
  });

  it('ConfigError: invalid-option, naming the setting', () => {
    const e = thrown(() => heartbeatConfig({ pingTimeoutMs: 2_000, probeIntervalMs: 1_000 }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(codeOf(e)).toBe('invalid-option');
    expect((e as InstanceType<typeof ConfigError>).option).toBe('heartbeat.pingTimeoutMs');
  });

  it('StorageError: invalid-key, corrupt-value, write-failed (with the cause), read-failed', async () => {
    expect(codeOf(thrown(() => checkStorageKey('Not OK')))).toBe('invalid-key');
    const items = new Map<string, string>([['ns.k', 'zz']]);
    const full = new Error('QuotaExceededError');
    const area = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: () => {
        throw full;
      },
      removeItem: (k: string) => void items.delete(k),
    };
    const web = new WebStorage(area, 'ns.');
    const corrupt = await web.get('k').catch((e) => e);
    expect(corrupt).toBeInstanceOf(StorageError);
    expect(codeOf(corrupt)).toBe('corrupt-value');
    const refused = await web.set('k', new Uint8Array(1)).catch((e) => e);
    expect([codeOf(refused), (refused as Error).cause]).toEqual(['write-failed', full]);
    const dir = await mkdtemp(join(tmpdir(), 'weftmesh-errors-'));
    try {
      // A directory where the file would be: reading it fails (EISDIR), not "absent".
      const files = new FileStorage(join(dir, '..'));
      const unreadable = await files.get(dir.slice(dir.lastIndexOf('/') + 1)).catch((e) => e);
      expect(codeOf(unreadable)).toBe('read-failed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('MerkleProofError: index-out-of-range, size-out-of-range', () => {
    const leaves = [new Uint8Array([1]), new Uint8Array([2])];
    const a = thrown(() => inclusionProof(leaves, 2));
    const b = thrown(() => consistencyProof(leaves, 3));
    expect(a).toBeInstanceOf(MerkleProofError);
    expect([codeOf(a), codeOf(b)]).toEqual(['index-out-of-range', 'size-out-of-range']);
  });

  it('HlcSkewError: clock-skew, with how far ahead', () => {
    const hlc = new HybridLogicalClock(
      'a'.repeat(32),
      { now: () => 1_000, wallNow: () => 1_000 },
      { maxSkewMs: 100 },
    );
    const e = thrown(() => hlc.receive({ wall: 5_000, counter: 0, node: 'b'.repeat(32) }));
    expect(e).toBeInstanceOf(HlcSkewError);
    expect([codeOf(e), (e as InstanceType<typeof HlcSkewError>).aheadMs]).toEqual(['clock-skew', 4_000]);
  });

  it('ChunkError (a peer’s malformed chunks, closing the link): empty-chunk, bad-flag, unexpected-whole, too-large', () => {
    const r = new Reassembler(4096);
    const codes = [
      () => r.push(new Uint8Array(0)),
      () => r.push(Uint8Array.of(9, 1)),
      () => {
        r.push(Uint8Array.of(1, 1));
        r.push(Uint8Array.of(0, 1));
      },
      () => new Reassembler(2).push(Uint8Array.of(0, 1, 2, 3)),
    ].map((f) => {
      const e = thrown(f);
      expect(e).toBeInstanceOf(ChunkError);
      return codeOf(e);
    });
    expect(codes).toEqual(['empty-chunk', 'bad-flag', 'unexpected-whole', 'too-large']);
  });
});

function context(): TransportContext {
  const env = realEnv();
  return {
    identity: identity(1),
    cluster: 'errors',
    verifier: strictVerifier,
    scheduler: env.scheduler,
    random: env.random,
  };
}

function recorder(): TransportEvents & { failures: Array<[string, unknown]> } {
  const failures: Array<[string, unknown]> = [];
  return { failures, link() {}, dialFailed: (address, error) => failures.push([address, error]) };
}

describe('transports: TransportError', () => {
  it('already-started, cannot-dial (WebSocket)', () => {
    const t = new WebSocketTransport();
    const events = recorder();
    t.start(context(), events);
    const again = thrown(() => t.start(context(), events));
    expect(again).toBeInstanceOf(TransportError);
    expect(codeOf(again)).toBe('already-started');
    t.connect('http://example.invalid/');
    expect(events.failures.map(([, e]) => codeOf(e))).toEqual(['cannot-dial']);
    t.close();
  });

  it('cannot-dial, no-signaling-path (WebRTC)', () => {
    const t = new WebRtcTransport();
    const events = recorder();
    t.start(context(), events);
    t.connect('webrtc:nonsense');
    t.connect(`webrtc:${'0'.repeat(32)}`); // a lower id: it must be asked to dial, and nothing carries that
    expect(events.failures.map(([, e]) => codeOf(e))).toEqual(['cannot-dial', 'no-signaling-path']);
    expect(events.failures.every(([, e]) => e instanceof TransportError)).toBe(true);
    t.close();
  });

  it('not-started (simulator), and SimError: duplicate-host, host-down', () => {
    const net = new SimNetwork({ seed: 1 });
    const host = net.addHost({ address: 'h' });
    const dup = thrown(() => net.addHost({ address: 'h' }));
    expect(dup).toBeInstanceOf(SimError);
    expect(codeOf(dup)).toBe('duplicate-host');
    const early = thrown(() => host.transport().connect('h'));
    expect([early instanceof TransportError, codeOf(early)]).toEqual([true, 'not-started']);
    host.crash();
    expect(codeOf(thrown(() => host.transport()))).toBe('host-down');
  });

  it('unsupported-runtime: Deno-only listeners on Node, a SignalingClient with no WebSocket class', async () => {
    const listen = await listenWebSocketDeno({ port: 0 }).catch((e) => e);
    const serve = await serveSignalingDeno().catch((e) => e);
    expect([codeOf(listen), codeOf(serve)]).toEqual(['unsupported-runtime', 'unsupported-runtime']);
    vi.stubGlobal('WebSocket', undefined);
    const client = new SignalingClient({ url: 'ws://127.0.0.1:9', identity: identity(2), room: 'r' });
    const e = thrown(() => client.start());
    expect(e).toBeInstanceOf(TransportError);
    expect(codeOf(e)).toBe('unsupported-runtime');
    client.close();
  });
});

describe('CodedError', () => {
  it('every typed error of the root is a CodedError carrying its code', () => {
    const classes = Object.entries(root).filter(
      ([k, v]) => k.endsWith('Error') && k !== 'CodedError' && typeof v === 'function',
    ) as Array<[string, new (...args: never[]) => Error]>;
    const notCoded = classes
      .filter(([, C]) => !(C.prototype instanceof root.CodedError))
      .map(([k]) => k)
      .sort();
    // ConfigError (code plus the option), HandshakeError, WireError, HlcSkewError and
    // ChunkError keep their own constructors; the rest share the base.
    expect(notCoded).toEqual(
      ['ChunkError', 'ConfigError', 'HandshakeError', 'HlcSkewError', 'WireError']
        .filter((k) => k in root)
        .sort(),
    );
    const e = new root.MeshNodeError('closed', 'x');
    expect(e).toBeInstanceOf(root.CodedError);
    expect([e.code, e.name, e.message]).toEqual(['closed', 'MeshNodeError', 'x']);
  });
});
