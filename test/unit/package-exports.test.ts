// The package as installed from its tarball (issue 11, item 3): every export resolves under
// `import` and `require` (both through the `default` condition) and `types`; a strict
// TypeScript consumer type-checks with nothing but the package installed, under every
// moduleResolution a project may use. Needs the build (`npm test` runs it first).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installConsumer, type Packed, packWeftmesh, ROOT, sh, typecheck } from '../support/packed.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};
const SUBPATHS = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'weftmesh' : `weftmesh/${k.slice(2)}`));

/** A few names each export must provide. */
const EXPECTED: Record<string, string[]> = {
  weftmesh: ['MeshNode', 'NodeIdentity', 'NodeState'],
  'weftmesh/sim': ['SimCluster', 'runScenario'],
  'weftmesh/fs': ['FileStorage'],
  'weftmesh/webrtc': ['WebRtcTransport', 'joinThroughSignaling'],
  'weftmesh/webrtc/node': ['createNodeWebRtc', 'loadWrtc'],
  'weftmesh/websocket': ['WebSocketTransport'],
  'weftmesh/websocket/node': ['listenWebSocket', 'NodeWebSocket'],
  'weftmesh/websocket/deno': ['listenWebSocketDeno'],
  'weftmesh/broadcast-channel': ['BroadcastChannelTransport'],
  'weftmesh/signaling': ['SignalingClient', 'SignalingServer'],
  'weftmesh/signaling/node': ['startSignalingServer'],
  'weftmesh/signaling/deno': ['serveSignalingDeno'],
  'weftmesh/membership': ['Membership', 'heartbeatConfig', 'signClaim'],
  'weftmesh/transport': ['AuthenticatedLink', 'runHandshake'],
  'weftmesh/wire': ['decodeMessage', 'encodeMessage', 'WireError'],
  'weftmesh/time': ['SeededRandom', 'VirtualClock', 'VirtualScheduler'],
  'weftmesh/chain': ['ChainLog', 'detectChainFork', 'MemoryChainStorage', 'IndexedDbChainStorage'],
  'weftmesh/chain/fs': ['FileChainStorage'],
  'weftmesh/chain/service': ['chains', 'ChainHost'],
  'weftmesh/consensus': ['RaftCore', 'ConsensusRole', 'MemoryConsensusStorage', 'KvStateMachine'],
  'weftmesh/consensus/fs': ['FileConsensusStorage'],
};

const STRICT = {
  strict: true,
  // The package's declarations (and @types/node) are checked; TypeScript's own lib files
  // are not: nothing in them depends on the package.
  skipLibCheck: false,
  skipDefaultLibCheck: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: 'ES2022',
  lib: ['ES2022', 'DOM', 'DOM.Iterable'],
  noEmit: true,
};

/** A browser app building a node from the documented parts (no Node types needed). */
const BROWSER_APP = `
import { MeshNode, NodeIdentity, NodeState, type Env, type MeshNodeOptions } from 'weftmesh';
import { joinThroughSignaling, WebRtcTransport } from 'weftmesh/webrtc';
import { SignalingClient } from 'weftmesh/signaling';
import { WebSocketTransport } from 'weftmesh/websocket';
import { SimCluster } from 'weftmesh/sim';
import { heartbeatConfig } from 'weftmesh/membership';
import type { Transport } from 'weftmesh/transport';
import { encodeMessage, WIRE_VERSION } from 'weftmesh/wire';
import { SeededRandom, VirtualClock, VirtualScheduler } from 'weftmesh/time';

const identity = NodeIdentity.generate();
const signaling = new SignalingClient({ url: 'ws://127.0.0.1:1', identity, room: 'demo' });
const transport = new WebRtcTransport({ signaling, candidateFilter: (c) => c.includes('127.0.0.1') });
const options: MeshNodeOptions = { identity, cluster: 'demo', transport, meta: { runtime: 'browser' } };
const node = new MeshNode(options);
node.on('error', ({ error, context }) => console.warn(context, error));
joinThroughSignaling(node, signaling);
const active: boolean = node.members().every((m) => m.state === NodeState.Active);
const custom: Transport = transport;
const frame: [number, Uint8Array] = [WIRE_VERSION, encodeMessage({ type: 'refuse', reason: 'bye' })];
const scheduler = new VirtualScheduler();
const virtual: Env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) };
const probeMs: number = heartbeatConfig().probeIntervalMs;
export { active, custom, frame, probeMs, SimCluster, virtual, WebSocketTransport };
`;

const NODE_APP = `
${BROWSER_APP}
import { FileStorage } from 'weftmesh/fs';
import { createNodeWebRtc } from 'weftmesh/webrtc/node';
import { listenWebSocket } from 'weftmesh/websocket/node';
import { listenWebSocketDeno } from 'weftmesh/websocket/deno';
import { startSignalingServer } from 'weftmesh/signaling/node';
import { serveSignalingDeno } from 'weftmesh/signaling/deno';
export { createNodeWebRtc, FileStorage, listenWebSocket, listenWebSocketDeno, serveSignalingDeno, startSignalingServer };
`;

/**
 * CommonJS code importing the package: compiled to require(), which TypeScript accepts for
 * ES modules under `module: nodenext` (TypeScript ≥ 5.8, modelling Node ≥ 20.19).
 */
const CJS_APP = `
import { MeshNode, NodeIdentity } from 'weftmesh';
import { WebRtcTransport } from 'weftmesh/webrtc';
export const node = new MeshNode({ identity: NodeIdentity.generate(), cluster: 'c', transport: new WebRtcTransport() });
`;

/** Prints, per subpath, the names it exports, loaded with import() or require(). */
const LOAD = (how: 'import' | 'require') => `
const subpaths = ${JSON.stringify(SUBPATHS)};
const out = {};
for (const s of subpaths) out[s] = Object.keys(${how === 'import' ? 'await import(s)' : 'require(s)'});
console.log(JSON.stringify(out));
`;

let packed: Packed;
let app: string;

beforeAll(async () => {
  packed = await packWeftmesh();
  app = await installConsumer(
    packed,
    'consumer',
    {
      'browser.ts': BROWSER_APP,
      'node.mts': NODE_APP,
      'cjs.cts': CJS_APP,
      'load.mjs': LOAD('import'),
      'load.cjs': LOAD('require'),
      'same.cjs': `import('weftmesh').then((m) => console.log(m.MeshNode === require('weftmesh').MeshNode));\n`,
    },
    ['@types/node'],
  );
}, 180_000);

afterAll(async () => {
  await packed?.cleanup();
});

/** The strict consumer under each moduleResolution a project may use. */
const PROJECTS = {
  bundler: { module: 'esnext', moduleResolution: 'bundler', types: [], files: ['browser.ts'] },
  node10: { module: 'commonjs', moduleResolution: 'node', types: [], files: ['browser.ts'] },
  node16: { module: 'node16', moduleResolution: 'node16', types: ['node'], files: ['node.mts'] },
  cjs: { module: 'nodenext', moduleResolution: 'nodenext', types: [], files: ['cjs.cts'] },
};

/** Every project's diagnostics, from one build shared by the tests below. */
let checked: Promise<Record<string, string>> | undefined;
function diagnostics(name: keyof typeof PROJECTS): Promise<string> {
  checked ??= typecheck(
    app,
    Object.fromEntries(
      Object.entries(PROJECTS).map(([n, { files, ...options }]) => [
        n,
        { compilerOptions: { ...STRICT, ...options }, files },
      ]),
    ),
  );
  return checked.then((all) => all[name]!);
}

describe('the packed package', () => {
  it('holds every export target and the browser build of simple-peer, not the demo, API reference or source maps', () => {
    const files = new Set(packed.files);
    for (const target of Object.values(pkg.exports)) {
      for (const path of typeof target === 'string' ? [target] : [target.types, target.default])
        expect(files, path).toContain(path.replace(/^\.\//, ''));
    }
    expect(files).toContain('dist/vendor/simple-peer.browser.js');
    const unwanted = (f: string) => /^dist\/(browser-demo|api)\//.test(f) || f.endsWith('.map');
    expect(packed.files.filter(unwanted)).toEqual([]);
  });

  it('every export loads with import', async () => {
    const { stdout } = await sh(app, 'node', ['load.mjs']);
    const names = JSON.parse(stdout) as Record<string, string[]>;
    expect(Object.keys(names).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [s, expected] of Object.entries(EXPECTED))
      expect(names[s], s).toEqual(expect.arrayContaining(expected));
  });

  it('every export loads with require (Node require of ES modules), as the same module instances', async () => {
    const { stdout, stderr } = await sh(app, 'node', ['load.cjs']);
    const names = JSON.parse(stdout) as Record<string, string[]>;
    for (const [s, expected] of Object.entries(EXPECTED))
      expect(names[s], s).toEqual(expect.arrayContaining(expected));
    expect(stderr).not.toContain('Error');
    expect((await sh(app, 'node', ['same.cjs'])).stdout.trim()).toBe('true');
  });

  it('a strict consumer type-checks without @types/node (moduleResolution bundler)', async () => {
    expect(await diagnostics('bundler')).toBe('');
  }, 150_000);

  it('a strict consumer type-checks without @types/node (moduleResolution node10, CommonJS)', async () => {
    expect(await diagnostics('node10')).toBe('');
  }, 150_000);

  it('a strict Node consumer type-checks every export (moduleResolution node16)', async () => {
    expect(await diagnostics('node16')).toBe('');
  }, 150_000);

  it('CommonJS code type-checks its require of the package (module nodenext)', async () => {
    expect(await diagnostics('cjs')).toBe('');
  }, 150_000);
});
