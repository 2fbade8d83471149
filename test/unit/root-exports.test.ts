// The root entry (`weftmesh`) is a deliberate public API (issue 12, item 6): what applications
// use, and nothing else. These lists pin it, values and types alike, so any change to it is
// an edit of this file too. Parts for building your own node or transport belong in a subpath
// (README, *Entry points*), internals in no entry at all.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../lib/mod.ts', import.meta.url));

/** Runtime exports: classes, functions, constants. */
const VALUES = [
  'checkStorageKey',
  'ClusterServiceRegistry',
  'CodedError',
  'compareTreeRoots',
  'ConfigError',
  'consistencyProof',
  'ConsistentHashRing',
  'DistributedProcessTable',
  'fastVerifier',
  'fromHex',
  'HandshakeError',
  'hash64',
  'hashRing',
  'HlcSkewError',
  'IdentityError',
  'inclusionProof',
  'issueMembershipToken',
  'leafHash',
  'loadOrCreateIdentity',
  'MemoryStorage',
  'MerkleProof',
  'MerkleProofError',
  'merkleRoot',
  'MeshNode',
  'MeshNodeError',
  'MessagingError',
  'messaging',
  'NodeIdentity',
  'nodeHash',
  'nodeIdOf',
  'NodeState',
  'PrefixTree',
  'ProcessStatus',
  'realEnv',
  'replicatedState',
  'ServiceHealth',
  'StorageError',
  'strictVerifier',
  'toHex',
  'TransportError',
  'verifyConsistency',
  'verifyInclusion',
  'WebStorage',
  'WireError',
];

/** Exports that are types only (interfaces and type aliases). */
const TYPES = [
  'AdmissionPolicy',
  'AppMessage',
  'BroadcastMetrics',
  'Clock',
  'ConfigErrorCode',
  'DialPolicy',
  'Env',
  'GlobalPid',
  'HandshakeErrorCode',
  'HeartbeatConfig',
  'HlcTimestamp',
  'IdentityErrorCode',
  'KindCount',
  'KindMetrics',
  'MaybePromise',
  'MemberInfo',
  'MembershipMetrics',
  'MerkleProofErrorCode',
  'MemberStateChange',
  'MeshEvents',
  'MeshMetrics',
  'MeshNodeErrorCode',
  'MeshNodeOptions',
  'MessagingErrorCode',
  'MessagingMetrics',
  'MessagingOptions',
  'MessagingService',
  'NodeSummary',
  'ProcessAdvertisement',
  'ProcessFields',
  'ProcessFilter',
  'Random',
  'RequestStreamOptions',
  'ResourceSummary',
  'Responder',
  'RingOptions',
  'RingService',
  'Scheduler',
  'ServiceAdvertisement',
  'ServiceFields',
  'SignatureVerifier',
  'Signer',
  'StateEntry',
  'StateOptions',
  'StateReplicaMetrics',
  'StateService',
  'StateTable',
  'Storage',
  'StorageErrorCode',
  'StreamResponder',
  'SyncAction',
  'TimerId',
  'TimerWindow',
  'Transport',
  'TransportErrorCode',
  'TreeLinks',
  'TreeMetrics',
  'TreeOptions',
  'WebStorageArea',
  'WireClaim',
  'WireErrorCode',
  'WireLimits',
];

/** Internals the issue names: they stay out of the root (the first two out of every entry). */
const INTERNALS = ['LinkManager', 'StateReplica', 'IdInterner'];

/** The subpaths of lib/ whose layers the root may import (the others sit above it). */
const SUBPATHS = ['membership', 'transport', 'wire', 'time'];

const sorted = (names: Iterable<string>) => [...names].sort();

/** Every name lib/mod.ts exports, split into values and type-only names, from the compiler. */
function declaredExports(): { values: string[]; types: string[] } {
  const program = ts.createProgram([ROOT], {
    allowImportingTsExtensions: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    // Only the module graph matters here: no default library, no global @types.
    noLib: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(ROOT);
  const module = file && checker.getSymbolAtLocation(file);
  if (!module) throw new Error(`cannot read the exports of ${ROOT}`);
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  }
  return { values: sorted(values), types: sorted(types) };
}

describe('the root entry (weftmesh)', () => {
  it('exports exactly the listed values at runtime', async () => {
    const root = await import('../../lib/mod.ts');
    expect(sorted(Object.keys(root))).toEqual(sorted(VALUES));
  });

  it('declares exactly the listed values and types', () => {
    const { values, types } = declaredExports();
    expect(values).toEqual(sorted(VALUES));
    expect(types).toEqual(sorted(TYPES));
  }, 30_000);

  it('exports none of the internals the issue names (LinkManager, StateReplica, IdInterner)', async () => {
    const root: Record<string, unknown> = await import('../../lib/mod.ts');
    for (const name of INTERNALS) {
      expect(root, name).not.toHaveProperty(name);
      expect([...VALUES, ...TYPES], name).not.toContain(name);
    }
  });

  it('leaves LinkManager and StateReplica out of every entry point, and IdInterner to weftmesh/membership', async () => {
    const entries = JSON.parse(readFileSync(new URL('../../deno.json', import.meta.url), 'utf8')) as {
      exports: Record<string, string>;
    };
    const holders: Array<[string, string]> = [];
    for (const [subpath, source] of Object.entries(entries.exports)) {
      const mod: Record<string, unknown> = await import(`../../${source.slice(2)}`);
      for (const name of INTERNALS) if (name in mod) holders.push([name, subpath]);
    }
    expect(holders).toEqual([['IdInterner', './membership']]);
  });

  it('exports every error class that a subpath below it exports, so instanceof works from the root', async () => {
    const root: Record<string, unknown> = await import('../../lib/mod.ts');
    const errors: string[] = [];
    for (const subpath of SUBPATHS) {
      const mod: Record<string, unknown> = await import(`../../lib/${subpath}/mod.ts`);
      for (const [name, value] of Object.entries(mod))
        if (typeof value === 'function' && value.prototype instanceof Error) {
          errors.push(name);
          expect(root[name], `${name} (weftmesh/${subpath})`).toBe(value);
        }
    }
    expect(errors).toEqual(
      expect.arrayContaining(['ConfigError', 'HandshakeError', 'HlcSkewError', 'WireError']),
    );
  });
});
