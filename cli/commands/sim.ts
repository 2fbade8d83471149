import { writeFile } from 'node:fs/promises';
import { runScenario, type ScenarioReport } from '../../lib/sim/scenario.ts';
import type { Summary } from '../../lib/sim/stats-summary.ts';
import { type Command, intFlag, numberFlag, parseFlags, stringFlag, UsageError } from '../command.ts';
import { simSvg } from '../sim-svg.ts';
import { consensusUsage, simConsensus } from './sim-consensus.ts';

const usage = `Usage: weftmesh sim [flags]

Runs a deterministic simulation of a weftmesh cluster (virtual time, simulated network)
and prints a report; the same --seed reproduces the run exactly.

  --nodes N          cluster size (2..20000, default 50)
  --duration S       simulated seconds (1..3600, default 60)
  --seed N           simulation seed (default 1)
  --loss P           datagram loss probability 0..1 (default 0)
  --latency MS       mean one-way latency in ms (default 10, jitter ±50%)
  --crash K          nodes crashed once the cluster has converged (default 0)
  --max-links N      direct links per node (default 24; ≥ nodes-1 gives a full mesh)
  --no-lifeguard     disable Lifeguard local health awareness
  --link-auth MODE   handshake | trusted (default: handshake up to 200 nodes)
  --writes N         process/service advertisements written at random nodes during the
                     first half of the run (default 0); the report gains a state section
  --partition        split the cluster in two halves from 1/6 of the run until half time
  --chains N         chains of N authors, each hosted on one node and followed by all the
                     others (default 0); the report gains a chain section
  --entries M        entries per chain (default 100)
  --fork             the first chain's author also writes a second history on a node of
                     the other half: every node should end up holding the fork proof
  --join-window S    spread the joins over S seconds, node i at i/n of it (default 0
                     up to 1,000 nodes, then 10 ms per node)
  --newcomer-quota N new members a node takes in per minute, in all and per link
                     (default 1,200 and 300; beyond it they wait for it): a join of
                     thousands within seconds needs more
  --preconverged     start as if the joins were long over (every node knows every other):
                     the steady state of clusters too large to simulate joining
  --json             print one JSON object instead of the human report
  --svg FILE         also write an SVG plot: convergence over time and the distribution of
                     detection times (crash → Suspect / Unreachable at each live node)${consensusUsage}`;

function fmt(s: Summary | null): string {
  return s ? `mean ${s.mean} ms, p50 ${s.p50}, p99 ${s.p99}, max ${s.max}` : 'n/a';
}

export function humanReport(r: ScenarioReport): string {
  return [
    `weftmesh sim: ${r.nodes} nodes, seed ${r.seed}, ${r.simulatedMs / 1000} simulated s in ${(r.wallMs / 1000).toFixed(1)} s`,
    `  network: loss ${r.config.loss}, latency ${r.config.latencyMs} ms, max links ${r.config.maxLinks}, ` +
      `lifeguard ${r.config.lifeguard ? 'on' : 'off'}, links ${r.config.linkAuth}` +
      (r.config.preconverged ? ', started preconverged' : ''),
    `  converged at:        ${r.convergedAtMs === null ? 'never' : `${r.convergedAtMs} ms`}`,
    `  joins:               ${r.joins.stranded} nodes stranded, ${r.joins.newcomersWaited} newcomers waited for the quota ` +
      `(${r.config.newcomerQuota.perNode}/min a node, ${r.config.newcomerQuota.perLink} a link), ${r.joins.newcomersRefused} refused`,
    `  crashed nodes:       ${r.detection.crashed}${r.detection.undetected ? ` (${r.detection.undetected} not detected everywhere)` : ''}`,
    `  first suspicion:     ${fmt(r.detection.firstSuspectMs)}`,
    `  unreachable at all:  ${fmt(r.detection.allUnreachableMs)}`,
    `  false positives:     ${r.falsePositives.suspected} suspicions of live nodes, ${r.falsePositives.unreachable} live nodes declared unreachable` +
      (r.config.partition ? ' (expected: the partition cuts live nodes off)' : ''),
    `  traffic per node:    ${r.traffic.msgsPerNodePerSec} msgs/s, ${r.traffic.bytesPerNodePerSec} B/s (over the last ${r.traffic.windowMs / 1000} s)`,
    `  duplicates:          ${r.traffic.duplicatesPerDelivery} copies per first delivery (${kindsLine(r)})`,
    ...(r.state
      ? [
          `  state:               ${r.state.writes} writes to ${r.state.registers} registers${r.config.partition ? ' across a partition' : ''}, ` +
            `replicas equal at ${r.state.convergedAtMs === null ? 'never' : `${r.state.convergedAtMs} ms`}, ` +
            `${r.state.lostWrites} lost writes, ${r.state.bytesPerNodePerSec} B/s per node`,
        ]
      : []),
    ...(r.chain
      ? [
          `  chains:              ${r.chain.chains} × ${r.chain.entries} entries, synced at ${r.chain.syncedAtMs === null ? 'never' : `${r.chain.syncedAtMs} ms`}, ` +
            `${r.chain.bytesPerNodePerSec} B/s per node, fork proof held by ${r.chain.forksDetectedBy} nodes, ${r.chain.invalidAccepted} invalid accepted`,
        ]
      : []),
  ].join('\n');
}

/** Copies per delivery of each kind of broadcast, for the human report. */
function kindsLine(r: ScenarioReport): string {
  const k = r.traffic.broadcasts;
  if (!k) return 'none';
  const per = (c: { delivered: number; duplicates: number }) =>
    c.delivered === 0 ? '–' : (c.duplicates / c.delivered).toFixed(2);
  return `claims ${per(k.claims)}, state entries ${per(k.entries)}, broadcasts ${per(k.app)}`;
}

export const simCommand: Command = {
  name: 'sim',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      nodes: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      loss: { type: 'string' },
      latency: { type: 'string' },
      crash: { type: 'string' },
      'max-links': { type: 'string' },
      'no-lifeguard': { type: 'boolean' },
      'link-auth': { type: 'string' },
      writes: { type: 'string' },
      partition: { type: 'boolean' },
      chains: { type: 'string' },
      entries: { type: 'string' },
      fork: { type: 'boolean' },
      'join-window': { type: 'string' },
      preconverged: { type: 'boolean' },
      'newcomer-quota': { type: 'string' },
      json: { type: 'boolean' },
      svg: { type: 'string' },
      consensus: { type: 'boolean' },
      voters: { type: 'string' },
      clients: { type: 'string' },
      history: { type: 'string' },
    });
    if (values.consensus) return simConsensus(values);
    const svg = values.svg === undefined ? undefined : stringFlag(values.svg, 'svg', '');
    if (svg === '') throw new UsageError('--svg needs a file name');
    const nodes = intFlag(values.nodes, 'nodes', 50, 2, 20_000);
    const linkAuth = stringFlag(values['link-auth'], 'link-auth', nodes > 200 ? 'trusted' : 'handshake');
    if (linkAuth !== 'handshake' && linkAuth !== 'trusted')
      throw new UsageError('--link-auth must be handshake or trusted');
    const durationMs = intFlag(values.duration, 'duration', 60, 1, 3600) * 1000;
    if (svg !== undefined) {
      // Fail before a long run, not after it.
      try {
        await writeFile(svg, '');
      } catch (e) {
        process.stderr.write(`weftmesh sim: cannot write ${svg}: ${(e as Error).message}\n`);
        return 1;
      }
    }
    let lastProgress = performance.now();
    const report = await runScenario({
      nodes,
      durationMs,
      seed: intFlag(values.seed, 'seed', 1, 0, Number.MAX_SAFE_INTEGER),
      loss: numberFlag(values.loss, 'loss', 0, 0, 1),
      latencyMs: numberFlag(values.latency, 'latency', 10, 0, 10_000),
      crash: intFlag(values.crash, 'crash', 0, 0, nodes - 2),
      maxLinks: intFlag(values['max-links'], 'max-links', 24, 1, 100_000),
      heartbeat: {
        lifeguard: values['no-lifeguard'] !== true,
        ...(values['newcomer-quota'] === undefined
          ? {}
          : {
              newMembersPerMinute: intFlag(values['newcomer-quota'], 'newcomer-quota', 0, 1, 1e9),
              newMembersPerLinkPerMinute: intFlag(values['newcomer-quota'], 'newcomer-quota', 0, 1, 1e9),
            }),
      },
      linkAuth,
      writes: intFlag(values.writes, 'writes', 0, 0, 1_000_000),
      partition: values.partition === true,
      chains: intFlag(values.chains, 'chains', 0, 0, 10_000),
      entries: intFlag(values.entries, 'entries', 100, 1, 1_000_000),
      fork: values.fork === true,
      ...(values['join-window'] === undefined
        ? {}
        : { joinWindowMs: numberFlag(values['join-window'], 'join-window', 0, 0, 3600) * 1000 }),
      preconverged: values.preconverged === true,
      timeline: svg !== undefined,
      progress: (t) => {
        if (performance.now() - lastProgress < 2_000) return;
        lastProgress = performance.now();
        process.stderr.write(`sim: ${(t / 1000).toFixed(1)} / ${durationMs / 1000} simulated s\n`);
      },
    });
    const { timeline: _plotted, ...printed } = report; // the printed report is the same with or without --svg
    process.stdout.write(values.json ? `${JSON.stringify(printed)}\n` : `${humanReport(printed)}\n`);
    if (svg !== undefined) {
      await writeFile(svg, simSvg(report));
      if (!values.json) process.stdout.write(`  plot written to ${svg}\n`);
    }
    return 0;
  },
};
