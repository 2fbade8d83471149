// The dependency direction of docs/ARCHITECTURE.md ("Layers"), checked by `npm run deps`
// (part of `npm test`). A → B means a file in A imports a file in B; type-only imports
// count. Each rule names the layer it guards; an exception is its own named rule, with the
// reason and the issue that removes it.

/** Bottom layer, in the order its folders may use each other: util ← wire, time, storage ← identity ← transport. */
const BOTTOM = 'lib/(util|wire|time|storage|identity|transport)';
/** Protocol cores: state machines with no I/O (chain and consensus are on the roadmap). */
const CORES = 'lib/(membership|state|ring|merkle|broadcast|chain|consensus)';
/** The consensus service: a core's file that also uses node's option checks (see its rule). */
const CONSENSUS_SERVICE = '^lib/consensus/service\\.ts$';
/** Everything of ours; what a rule's `to` ranges over (npm packages and built-ins are not). */
const OURS = '^(lib|signaling|cli|browser-demo|test|bench|scripts)/';

/**
 * Runtime-specific files: the Node-only entry points of package.json's exports (`./fs`,
 * `./webrtc/node`, `./websocket/node`, `./signaling/node`) and the listener guard only they
 * use; the Deno-only entry points of deno.json (`./websocket/deno`, `./signaling/deno`).
 */
const NODE_ONLY = [
  '^lib/storage/file\\.ts$',
  '^lib/util/durable-file\\.ts$',
  '^lib/chain/file-storage\\.ts$',
  '^lib/consensus/file-storage\\.ts$',
  '^lib/webrtc/node\\.ts$',
  '^lib/websocket/node\\.ts$',
  '^lib/websocket/http-guard\\.ts$',
  '^signaling/node\\.ts$',
];
const DENO_ONLY = ['^lib/websocket/deno\\.ts$', '^signaling/deno\\.ts$'];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    // ── no cycles ──────────────────────────────────────────────────────────────────────
    {
      name: 'no-cycle',
      comment: 'No module imports itself through others (type-only imports included).',
      severity: 'error',
      from: {},
      to: {
        circular: true,
        // Exception: the simulator's host, network, channel and transport name each other's
        // types (a host owns channels on the network it is attached to). Only type-only edges
        // close the loop, so no module waits on another's initialisation; cycles through any
        // other file are still errors.
        via: { pathNot: '^lib/sim/(host|network|channel|transport)\\.ts$' },
      },
    },
    {
      name: 'no-runtime-cycle',
      comment: 'No cycle of value imports anywhere, exception or not (ESM initialisation order).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },

    // ── bottom layer: identity, wire, time, storage, util, transport ──────────────────────
    {
      name: 'util-imports-nothing-of-ours',
      severity: 'error',
      from: { path: '^lib/util/' },
      to: { path: OURS, pathNot: '^lib/util/' },
    },
    {
      name: 'wire-time-storage-import-only-util',
      severity: 'error',
      from: { path: '^lib/(wire|time|storage)/' },
      to: { path: OURS, pathNot: ['^lib/util/', '^lib/$1/'] },
    },
    {
      name: 'identity-imports-only-util-wire-and-the-storage-interface',
      comment: 'identity encodes tokens with wire and persists keys through the Storage interface.',
      severity: 'error',
      from: { path: '^lib/identity/' },
      to: { path: OURS, pathNot: ['^lib/(util|wire|identity)/', '^lib/storage/types\\.ts$'] },
    },
    {
      name: 'transport-imports-only-the-bottom-layer',
      comment: 'The Link/Transport interfaces and the handshake use identity, wire and time; no core, no node.',
      severity: 'error',
      from: { path: '^lib/transport/' },
      to: { path: OURS, pathNot: '^lib/(util|wire|time|identity|transport)/' },
    },

    // ── protocol cores ─────────────────────────────────────────────────────────────────
    {
      name: 'cores-import-only-the-bottom-layer',
      comment:
        'A core is sans-IO: it imports the bottom layer (not storage: persistence is the node’s) ' +
        'and cores, never node, a transport, signaling or the simulator.',
      severity: 'error',
      from: { path: `^${CORES}/`, pathNot: CONSENSUS_SERVICE },
      to: { path: OURS, pathNot: [`^${CORES}/`, '^lib/(util|wire|time|identity|transport)/'] },
    },
    {
      name: 'consensus-service-uses-only-the-option-checks-of-node',
      comment:
        'Exception (issue 16): `consensus()`, the MeshNode service of weftmesh/consensus, checks its ' +
        'settings as every service does (a ConfigError naming the field), so it imports ' +
        'lib/node/option-checks.ts; lib/node names the service by type only. Nothing else of node.',
      severity: 'error',
      from: { path: CONSENSUS_SERVICE },
      to: {
        path: OURS,
        pathNot: ['^lib/consensus/', '^lib/(util|wire|time|identity|transport)/', '^lib/node/option-checks\\.ts$'],
      },
    },
    {
      name: 'cores-import-no-other-core',
      comment: 'membership, ring, merkle, broadcast (and consensus) stand alone.',
      severity: 'error',
      from: { path: '^lib/(membership|ring|merkle|broadcast|consensus)/' },
      to: { path: `^${CORES}/`, pathNot: '^lib/$1/' },
    },
    {
      name: 'chain-builds-only-on-merkle',
      comment:
        'A chain signs RFC 6962 tree heads: it builds on merkle’s log tree (documented in ' +
        'docs/ARCHITECTURE.md), no other core.',
      severity: 'error',
      from: { path: '^lib/chain/' },
      to: { path: `^${CORES}/`, pathNot: '^lib/(chain|merkle)/' },
    },
    {
      name: 'state-builds-only-on-merkle',
      comment:
        'state’s anti-entropy and gossip digests are built on merkle’s prefix tree (documented in ' +
        'docs/ARCHITECTURE.md); no other core. What state shares with others sits below it: ' +
        'the Signer in identity, hash64 in util.',
      severity: 'error',
      from: { path: '^lib/state/' },
      to: { path: `^${CORES}/`, pathNot: '^lib/(state|merkle)/' },
    },

    // ── node and the root entry ──────────────────────────────────────────────────────────
    {
      name: 'node-imports-no-concrete-transport',
      comment:
        'MeshNode is given its transports: lib/node and the root entry import the cores and the ' +
        'bottom layer, never webrtc, websocket, the simulator, signaling or an application. ' +
        'Exception: the BroadcastChannel transport, which a node adds itself in browsers (zero ' +
        'configuration, issue 14; it stands on the bottom layer alone).',
      severity: 'error',
      from: { path: ['^lib/node/', '^lib/mod\\.ts$'] },
      to: { path: OURS, pathNot: [`^${BOTTOM}/`, `^${CORES}/`, '^lib/node/', '^lib/broadcast-channel/'] },
    },

    {
      name: 'node-names-consensus-by-type-only',
      comment:
        'Raft is opt-in (issue 16): lib/node and the root entry name the consensus service and ' +
        'MeshConsensus by type only, so the root bundle carries none of lib/consensus.',
      severity: 'error',
      from: { path: ['^lib/node/', '^lib/mod\\.ts$'] },
      to: { path: '^lib/consensus/', dependencyTypesNot: ['type-only'] },
    },

    // ── concrete transports, signaling, the simulator ────────────────────────────────────
    {
      name: 'transports-and-simulator-are-independent',
      severity: 'error',
      from: { path: '^lib/(webrtc|websocket|sim|broadcast-channel)/' },
      to: { path: '^lib/(webrtc|websocket|sim|broadcast-channel)/', pathNot: '^lib/$1/' },
    },
    {
      name: 'broadcast-channel-imports-only-the-bottom-layer',
      comment:
        'MeshNode makes this transport itself in browsers (zero configuration, issue 14), so it ' +
        'stands on the bottom layer alone, like the interfaces it implements.',
      severity: 'error',
      from: { path: '^lib/broadcast-channel/' },
      to: { path: OURS, pathNot: [`^${BOTTOM}/`, '^lib/broadcast-channel/'] },
    },
    {
      name: 'only-webrtc-uses-the-signaling-client',
      comment: 'webrtc sends its first offers through the signaling client; nothing else of signaling.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^signaling/', pathNot: '^signaling/client\\.ts$' },
    },
    {
      name: 'signaling-client-only-from-webrtc',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/webrtc/' },
      to: { path: '^signaling/' },
    },
    {
      name: 'signaling-uses-only-the-listener-guard-of-websocket',
      comment:
        'signaling sits beside the transports: it reuses websocket’s listener guard and imports ' +
        'no transport (webrtc already imports signaling’s client: that would be a folder cycle).',
      severity: 'error',
      from: { path: '^signaling/' },
      to: { path: '^lib/(node|webrtc|websocket|sim)/', pathNot: '^lib/websocket/http-guard\\.ts$' },
    },
    {
      name: 'library-imports-no-application',
      comment: 'cli/, browser-demo/, tests, benchmarks and build scripts use the library, never the reverse.',
      severity: 'error',
      from: { path: '^(lib|signaling)/' },
      to: { path: '^(cli|browser-demo|test|bench|scripts)/' },
    },
    {
      name: 'applications-are-independent',
      severity: 'error',
      from: { path: '^(cli|browser-demo)/' },
      to: { path: '^(cli|browser-demo)/', pathNot: '^$1/' },
    },

    // ── portability ──────────────────────────────────────────────────────────────────────
    {
      name: 'node-built-ins-only-in-node-entry-points',
      comment: 'lib/, signaling/ and the browser demo use web-standard APIs; node: modules only behind a Node entry point.',
      severity: 'error',
      from: { path: '^(lib|signaling|browser-demo)/', pathNot: NODE_ONLY },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'node-only-packages-only-in-node-entry-points',
      comment: 'ws and @roamhq/wrtc are native or Node-only: imported only behind a Node entry point.',
      severity: 'error',
      from: { path: '^(lib|signaling|browser-demo)/', pathNot: NODE_ONLY },
      to: { path: '(^|/)node_modules/(ws|@roamhq/wrtc)/' },
    },
    {
      name: 'redis-only-behind-the-signaling-server-entry-points',
      comment:
        'The Redis client serves signaling servers only: redis-backplane.ts alone imports it, and ' +
        'only the Node and Deno server entries (and tests, benchmarks) import that file, so no ' +
        'browser bundle of weftmesh can contain it.',
      severity: 'error',
      from: { pathNot: ['^signaling/(redis-backplane|node|deno)\\.ts$', '^(test|bench)/'] },
      to: { path: ['(^|/)node_modules/(redis|@redis/[^/]+)/', '^signaling/redis-backplane\\.ts$'] },
    },
    {
      name: 'redis-client-only-in-the-backplane',
      severity: 'error',
      from: { path: '^signaling/(node|deno)\\.ts$' },
      to: { path: '(^|/)node_modules/(redis|@redis/[^/]+)/' },
    },
    {
      name: 'portable-code-imports-no-node-entry-point',
      severity: 'error',
      from: { path: '^(lib|signaling|browser-demo)/', pathNot: NODE_ONLY },
      to: { path: NODE_ONLY },
    },
    {
      name: 'portable-code-imports-no-deno-entry-point',
      severity: 'error',
      from: { path: '^(lib|signaling|browser-demo)/', pathNot: DENO_ONLY },
      to: { path: DENO_ONLY },
    },

    // ── packages ─────────────────────────────────────────────────────────────────────────
    {
      name: 'published-code-uses-no-dev-dependency',
      comment: 'lib/, signaling/ and cli/ ship in the package: a devDependency is not there for users.',
      severity: 'error',
      from: { path: '^(lib|signaling|cli)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-package',
      comment: 'Every package imported is declared in package.json (not reached through another one).',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['aliased-subpath-import'] },
    },
    {
      name: 'no-unresolvable-import',
      comment: 'An import the checker cannot resolve would escape every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too: the layers hold for types as for values.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: '(^|/)node_modules/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
