import assert from 'node:assert/strict';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { ConfigError } from '../../lib/membership/mod.ts';
import { chains } from '../../lib/node/chain-service.ts';
import {
  checkMeshNodeOptions,
  hashRing,
  MeshNode,
  type MeshNodeOptions,
  messaging,
  replicatedState,
} from '../../lib/node/mod.ts';
import type { Transport } from '../../lib/transport/types.ts';
import type { Suite } from './case.ts';

/** Never started: option checks run before a transport is touched. */
const idle: Transport = {
  name: 'idle',
  localAddresses: () => [],
  canDial: () => false,
  start: () => {},
  connect: () => {},
  close: () => {},
};

const base = (): MeshNodeOptions => ({
  identity: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(9)),
  cluster: 'prod.eu-1',
  transport: idle,
});

function rejects(patch: Partial<MeshNodeOptions> | (() => Partial<MeshNodeOptions>), field: RegExp): void {
  assert.throws(
    () => new MeshNode({ ...base(), ...(typeof patch === 'function' ? patch() : patch) }),
    (e: unknown) => e instanceof ConfigError && field.test(e.message),
    `expected a ConfigError naming ${field}`,
  );
}

export const nodeOptionCases: Suite = {
  'defaults and sensible settings are accepted unchanged'() {
    const o = {
      ...base(),
      maxLinks: 8,
      minLinks: 8,
      meta: { runtime: 'node' },
      state: replicatedState({ maxSkewMs: 1 }),
      messaging: messaging(),
    };
    assert.equal(checkMeshNodeOptions(o), o);
    assert.equal(new MeshNode(base()).cluster, 'prod.eu-1');
    const withChains = { ...base(), chains: chains(), messaging: messaging(), state: replicatedState() };
    assert.deepEqual(new MeshNode(withChains).chains.forked(), []);
  },
  'a bad setting is a ConfigError naming the field, at construction'() {
    rejects({ cluster: '' }, /^cluster /);
    rejects(() => ({ chains: chains() }), /^chains needs messaging/);
    rejects(() => ({ chains: chains(), messaging: messaging() }), /^chains needs messaging/);
    rejects(() => ({ chains: chains(), state: replicatedState() }), /^chains needs messaging/);
    rejects({ cluster: 'has space' }, /^cluster /);
    rejects({ cluster: 'x'.repeat(65) }, /^cluster /);
    rejects({ transport: [] }, /^transport /);
    rejects({ maxLinks: 0 }, /^maxLinks /);
    rejects({ maxLinks: 2.5 }, /^maxLinks /);
    rejects({ maxLinks: 4, minLinks: 5 }, /^minLinks must not exceed maxLinks/);
    rejects({ linkIdleTimeoutMs: -1 }, /^linkIdleTimeoutMs /);
    rejects({ leaveDrainMs: Number.NaN }, /^leaveDrainMs /);
    rejects(() => ({ ring: hashRing({ virtualNodes: 0 }) }), /^ring\.virtualNodes /);
    rejects({ heartbeat: { pingTimeoutMs: 2_000 } }, /^heartbeat\.pingTimeoutMs/);
    rejects({ meta: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, /^meta /);
    rejects({ meta: { 'bad key': 'x' } }, /^meta key "bad key" /);
    rejects({ meta: { zone: 'x'.repeat(257) } }, /^meta\.zone /);
    rejects({ broadcastTree: { recentOnLinkUp: -1 } }, /^broadcastTree\.recentOnLinkUp /);
    rejects({ broadcastTree: { recentOnLinkUp: 1.5 } }, /^broadcastTree\.recentOnLinkUp /);
    rejects({ broadcastTree: { recentOnLinkUpMs: -1 } }, /^broadcastTree\.recentOnLinkUpMs /);
    rejects({ broadcastTree: { recentOnLinkUpMs: Number.NaN } }, /^broadcastTree\.recentOnLinkUpMs /);
    rejects({ transport: null as unknown as Transport }, /^transport /);
    rejects({ wireLimits: { maxFrameBytes: 100 } }, /^wireLimits\.maxFrameBytes/);
    rejects({ wireLimits: { maxFrameBytes: 8_192 } }, /^wireLimits\.maxFrameBytes/);
    rejects(
      { wireLimits: { maxFrameBytes: 20_000 }, heartbeat: { maxDatagramBytes: 19_900 } },
      /^heartbeat\.maxDatagramBytes must leave room/,
    );
    rejects(
      { messaging: messaging({ maxMessageBytes: 64 * 1024 }) },
      /^messaging\.maxMessageBytes must leave room/,
    );
    rejects(() => ({ messaging: messaging({ maxHops: 0 }) }), /^messaging\.maxHops/);
    rejects(() => ({ state: replicatedState({ tombstoneLifetimeMs: 0 }) }), /^state\.tombstoneLifetimeMs/);
    rejects(() => ({ state: replicatedState({ maxEntriesPerOrigin: -3 }) }), /^state\.maxEntriesPerOrigin/);
  },
};
