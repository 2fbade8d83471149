import { NodeState } from '../../lib/membership/node-state.ts';
import { SimCluster } from '../../lib/sim/cluster.ts';
import { type Command, intFlag, parseFlags } from '../command.ts';

const usage = `Usage: weftmesh demo [--nodes N] [--seed S]

Runs a short deterministic simulation on this machine: N nodes with Ed25519 identities
join one cluster through a seed over a simulated network, one of them crashes, and the
membership each phase converged to is printed. (The live browser demo arrives with a
later release; see README.)

  --nodes N   nodes to simulate (3..64, default 8)
  --seed S    simulation seed (default 1)`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a small local simulation and print the membership it converged to',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, { nodes: { type: 'string' }, seed: { type: 'string' } });
    const n = intFlag(values.nodes, 'nodes', 8, 3, 64);
    const seed = intFlag(values.seed, 'seed', 1, 0, Number.MAX_SAFE_INTEGER);
    const c = await SimCluster.create({
      nodes: n,
      seed,
      maxLinks: 6,
      network: { latency: { meanMs: 20, jitterMs: 10 } },
    });
    const print = (title: string) => {
      process.stdout.write(`\n${title} (t = ${(c.now / 1000).toFixed(1)} s, as node 0 sees it)\n`);
      process.stdout.write(`  ${'node'.padEnd(10)}${'state'.padEnd(13)}${'incarnation'.padEnd(13)}links\n`);
      for (const m of c.nodes[0]!.node.members().sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
        const links = c.nodes.find((x) => x.identity.nodeId === m.nodeId)!.node.links().length;
        process.stdout.write(
          `  ${m.nodeId.slice(0, 8).padEnd(10)}${m.state.padEnd(13)}${String(m.incarnation).padEnd(13)}${links}\n`,
        );
      }
    };
    const converged = () => c.observer.convergedAtMs !== undefined;
    while (!converged() && c.now < 30_000) c.runFor(100);
    process.stdout.write(`weftmesh demo: ${n} simulated nodes, seed ${seed}, at most 6 links each\n`);
    print(
      converged() ? `converged after ${(c.observer.convergedAtMs! / 1000).toFixed(2)} s` : 'did not converge',
    );
    const victim = n - 1;
    c.crash(victim);
    const victimId = c.nodes[victim]!.identity.nodeId;
    const everyone = () => c.live().every((o) => c.viewOf(o, victim) === NodeState.Unreachable);
    while (!everyone() && c.now < 90_000) c.runFor(100);
    const d = c.observer.detections[0]!;
    print(
      `node ${victimId.slice(0, 8)} crashed: first suspected after ${d.firstSuspectMs?.toFixed(0)} ms, unreachable everywhere after ${d.allUnreachableMs?.toFixed(0)} ms`,
    );
    return converged() && everyone() ? 0 : 1;
  },
};
