/**
 * Process and service advertisements for headless nodes, from flags or a JSON file:
 *
 *   --process TYPE[:CAP,CAP…][@LOAD]     e.g. --process indexer:gpu,ssd@3
 *   --service NAME=ENDPOINT[#HEALTH]     e.g. --service search=http://10.0.0.7:9200#Degraded
 *   --advertise FILE                     {"processes":[{"agentType","capabilities"?,"status"?,
 *                                         "load"?,"pid"?}],"services":[{"name","endpoint",
 *                                         "metadata"?,"health"?}]}
 *
 * Everything is validated here, so a bad spec is a usage error, not a node that starts and
 * then fails.
 */
import { readFile } from 'node:fs/promises';
import type { MeshNode } from '../lib/node/mesh-node.ts';
import {
  encodeProcess,
  encodeService,
  type ProcessFields,
  ProcessStatus,
  type ServiceFields,
  ServiceHealth,
} from '../lib/state/values.ts';
import { UsageError } from './command.ts';

export interface Advertisements {
  processes: Array<{ pid?: string; fields: ProcessFields }>;
  services: Array<{ name: string; fields: ServiceFields }>;
}

const STATUSES = Object.values(ProcessStatus) as string[];
const HEALTHS = Object.values(ServiceHealth) as string[];

/** Throws UsageError unless the values encode as the wire format requires. */
function checked(ads: Advertisements): Advertisements {
  for (const p of ads.processes) {
    try {
      encodeProcess(p.fields);
    } catch (e) {
      throw new UsageError(`process ${JSON.stringify(p.fields.agentType)}: ${(e as Error).message}`);
    }
    if (p.pid !== undefined && !/^[\x21-\x7e]{1,64}$/.test(p.pid))
      throw new UsageError(`process pid ${JSON.stringify(p.pid)}: 1..64 printable ASCII characters`);
  }
  for (const s of ads.services) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(s.name))
      throw new UsageError(`service name ${JSON.stringify(s.name)}: 1..64 of [A-Za-z0-9._-]`);
    try {
      encodeService(s.fields);
    } catch (e) {
      throw new UsageError(`service ${s.name}: ${(e as Error).message}`);
    }
  }
  return ads;
}

export function parseProcessFlag(spec: string): Advertisements['processes'][number] {
  const m = spec.match(/^([^:@]+)(?::([^@]*))?(?:@([0-9.]+))?$/);
  if (!m) throw new UsageError(`--process ${JSON.stringify(spec)}: expected TYPE[:CAP,CAP][@LOAD]`);
  const load = m[3] === undefined ? undefined : Number(m[3]);
  if (load !== undefined && !Number.isFinite(load))
    throw new UsageError(`--process ${JSON.stringify(spec)}: LOAD must be a number`);
  const capabilities = m[2] ? m[2].split(',').filter((c) => c.length > 0) : [];
  return {
    fields: {
      agentType: m[1]!,
      capabilities,
      status: ProcessStatus.Running,
      resourceSummary: load === undefined ? {} : { load },
    },
  };
}

export function parseServiceFlag(spec: string): Advertisements['services'][number] {
  const m = spec.match(/^([^=]+)=([^#]*)(?:#(\w+))?$/);
  if (!m) throw new UsageError(`--service ${JSON.stringify(spec)}: expected NAME=ENDPOINT[#HEALTH]`);
  const health = m[3] ?? ServiceHealth.Healthy;
  if (!HEALTHS.includes(health))
    throw new UsageError(`--service ${JSON.stringify(spec)}: HEALTH is one of ${HEALTHS.join(', ')}`);
  return { name: m[1]!, fields: { endpoint: m[2]!, metadata: {}, health: health as ServiceHealth } };
}

function fail(path: string, what: string): never {
  throw new UsageError(`--advertise ${path}: ${what}`);
}

function record(v: unknown, path: string, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `${where} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, path: string, where: string): string {
  if (typeof v !== 'string') fail(path, `${where} must be a string`);
  return v;
}

export async function readAdvertiseFile(path: string): Promise<Advertisements> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    fail(path, (e as Error).message);
  }
  const root = record(doc, path, 'the file');
  const unknownKeys = Object.keys(root).filter((k) => k !== 'processes' && k !== 'services');
  if (unknownKeys.length > 0) fail(path, `unknown field ${unknownKeys[0]}`);
  const list = (k: string) => {
    const v = root[k] ?? [];
    if (!Array.isArray(v)) fail(path, `${k} must be an array`);
    return v as unknown[];
  };
  const processes = list('processes').map((p, i) => {
    const r = record(p, path, `processes[${i}]`);
    const status =
      r.status === undefined ? ProcessStatus.Running : str(r.status, path, `processes[${i}].status`);
    if (!STATUSES.includes(status))
      fail(path, `processes[${i}].status must be one of ${STATUSES.join(', ')}`);
    const caps = r.capabilities ?? [];
    if (!Array.isArray(caps)) fail(path, `processes[${i}].capabilities must be an array of strings`);
    const summary: ProcessFields['resourceSummary'] = {};
    for (const k of ['cpu', 'memory', 'load'] as const) {
      if (r[k] === undefined) continue;
      if (typeof r[k] !== 'number') fail(path, `processes[${i}].${k} must be a number`);
      summary[k] = r[k];
    }
    return {
      ...(r.pid === undefined ? {} : { pid: str(r.pid, path, `processes[${i}].pid`) }),
      fields: {
        agentType: str(r.agentType, path, `processes[${i}].agentType`),
        capabilities: caps.map((c, j) => str(c, path, `processes[${i}].capabilities[${j}]`)),
        status: status as ProcessStatus,
        resourceSummary: summary,
      },
    };
  });
  const services = list('services').map((s, i) => {
    const r = record(s, path, `services[${i}]`);
    const health =
      r.health === undefined ? ServiceHealth.Healthy : str(r.health, path, `services[${i}].health`);
    if (!HEALTHS.includes(health)) fail(path, `services[${i}].health must be one of ${HEALTHS.join(', ')}`);
    const metadata = record(r.metadata ?? {}, path, `services[${i}].metadata`);
    return {
      name: str(r.name, path, `services[${i}].name`),
      fields: {
        endpoint: str(r.endpoint, path, `services[${i}].endpoint`),
        metadata: Object.fromEntries(
          Object.entries(metadata).map(([k, v]) => [k, str(v, path, `services[${i}].metadata.${k}`)]),
        ),
        health: health as ServiceHealth,
      },
    };
  });
  return checked({ processes, services });
}

/** Advertisements from --process / --service flags and an optional --advertise file. */
export async function advertisementsFrom(
  processFlags: string[],
  serviceFlags: string[],
  file: string | undefined,
): Promise<Advertisements> {
  const fromFile = file === undefined ? { processes: [], services: [] } : await readAdvertiseFile(file);
  return checked({
    processes: [...fromFile.processes, ...processFlags.map(parseProcessFlag)],
    services: [...fromFile.services, ...serviceFlags.map(parseServiceFlag)],
  });
}

/** Writes the advertisements as `node`'s; returns the pids used (assigned when not given). */
export function advertise(node: MeshNode, ads: Advertisements): string[] {
  const pids = ads.processes.map((p) => {
    const pid = p.pid ?? node.assignPid().pid;
    node.advertiseProcess(pid, p.fields);
    return pid;
  });
  for (const s of ads.services) node.advertiseService(s.name, s.fields);
  return pids;
}
