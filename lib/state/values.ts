/**
 * The values of the two tables: process advertisements and service advertisements. Both
 * are CBOR inside an entry, validated like any wire input when decoded.
 */
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { array, dict, float, type Infer, oneOf, struct, text } from '../wire/schema.ts';

export const ProcessStatus = {
  Starting: 'Starting',
  Running: 'Running',
  Stopping: 'Stopping',
  Stopped: 'Stopped',
} as const;
export type ProcessStatus = (typeof ProcessStatus)[keyof typeof ProcessStatus];

export const ServiceHealth = { Healthy: 'Healthy', Degraded: 'Degraded', Unhealthy: 'Unhealthy' } as const;
export type ServiceHealth = (typeof ServiceHealth)[keyof typeof ServiceHealth];

/** What a node may know about a process's resources; every field optional (browsers know little). */
export interface ResourceSummary {
  /** CPU share, 0..1 (or cores used). */
  cpu?: number;
  /** Resident memory, bytes. */
  memory?: number;
  /** Application-defined load figure (queue length, requests in flight…); lower is better. */
  load?: number;
}

const processValue = struct(
  {
    a: text(1, 64),
    c: array(text(1, 64), 32),
    s: oneOf(['Starting', 'Running', 'Stopping', 'Stopped'] as const),
  },
  { r: struct({}, { cpu: float(0, 1e6), mem: float(0, 1e18), load: float(0, 1e12) }) },
);

const serviceValue = struct(
  { e: text(0, 512), h: oneOf(['Healthy', 'Degraded', 'Unhealthy'] as const) },
  { m: dict(text(1, 64, /^[A-Za-z0-9._-]+$/), text(0, 256), 16) },
);

export interface ProcessFields {
  agentType: string;
  capabilities: string[];
  status: ProcessStatus;
  resourceSummary: ResourceSummary;
}

export interface ServiceFields {
  endpoint: string;
  metadata: Record<string, string>;
  health: ServiceHealth;
}

export function encodeProcess(p: ProcessFields): Uint8Array {
  const r: Record<string, number> = {};
  if (p.resourceSummary.cpu !== undefined) r.cpu = p.resourceSummary.cpu;
  if (p.resourceSummary.memory !== undefined) r.mem = p.resourceSummary.memory;
  if (p.resourceSummary.load !== undefined) r.load = p.resourceSummary.load;
  const v: Record<string, unknown> = { a: p.agentType, c: p.capabilities, s: p.status };
  if (Object.keys(r).length > 0) v.r = r;
  return encodeCbor(processValue.parse(v, 'process'));
}

/** Throws WireError when the bytes are not a process advertisement. */
export function decodeProcess(bytes: Uint8Array): ProcessFields {
  const v: Infer<typeof processValue> = processValue.parse(
    decodeCbor(bytes, { maxDepth: 3, maxItems: 64 }),
    'process',
  );
  const resourceSummary: ResourceSummary = {};
  if (v.r?.cpu !== undefined) resourceSummary.cpu = v.r.cpu;
  if (v.r?.mem !== undefined) resourceSummary.memory = v.r.mem;
  if (v.r?.load !== undefined) resourceSummary.load = v.r.load;
  return { agentType: v.a, capabilities: v.c, status: v.s, resourceSummary };
}

export function encodeService(s: ServiceFields): Uint8Array {
  const v: Record<string, unknown> = { e: s.endpoint, h: s.health };
  if (Object.keys(s.metadata).length > 0) v.m = s.metadata;
  return encodeCbor(serviceValue.parse(v, 'service'));
}

export function decodeService(bytes: Uint8Array): ServiceFields {
  const v: Infer<typeof serviceValue> = serviceValue.parse(
    decodeCbor(bytes, { maxDepth: 3, maxItems: 32 }),
    'service',
  );
  return { endpoint: v.e, health: v.h, metadata: { ...(v.m ?? {}) } };
}
