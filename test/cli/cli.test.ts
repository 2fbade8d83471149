// The built CLI (what `npm ci` installs as the `weftmesh` bin), run as a user would.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('weftmesh CLI', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const r = cli('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it('--help lists the commands; no arguments is a usage error', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sim\s+run a deterministic/);
    expect(r.out).toMatch(/demo\s+/);
    expect(cli().code).toBe(2);
  });

  it("a command loads its own modules only: `node --help` imports neither the simulator nor the demo's", () => {
    // A resolve hook (module.register) that prints every weftmesh module the process imports.
    const hook = `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/dist/')) process.stderr.write('loaded ' + r.url + '\\n'); return r; }`;
    const preload = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const run = (...args: string[]) => {
      const r = spawnSync(
        process.execPath,
        ['--import', `data:text/javascript,${encodeURIComponent(preload)}`, BIN, ...args],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(r.status).toBe(0);
      return r.stderr.split('\n').filter((l) => l.startsWith('loaded '));
    };
    const node = run('node', '--help');
    expect(node.some((l) => l.endsWith('/cli/commands/node.js'))).toBe(true);
    expect(
      node.filter((l) => /\/(lib\/sim|lib\/consensus|cli\/commands\/(sim|demo|signal))/.test(l)),
    ).toEqual([]);
    const version = run('--version');
    expect(version.filter((l) => l.includes('/cli/commands/'))).toEqual([]);
  });

  it('unknown commands and flags exit 2 with a message', () => {
    const r = cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "frobnicate"/);
    const f = cli('sim', '--bogus');
    expect(f.code).toBe(2);
    expect(f.err).toMatch(/bogus/);
    const v = cli('sim', '--nodes', 'many');
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/--nodes must be an integer/);
    expect(cli('sim', '--loss', '1.5').code).toBe(2);
    expect(cli('sim', '--link-auth', 'maybe').code).toBe(2);
  });

  it('sim --json reports convergence, detection, false positives and traffic; the seed reproduces it', () => {
    const args = [
      'sim',
      '--nodes',
      '12',
      '--duration',
      '20',
      '--crash',
      '1',
      '--seed',
      '3',
      '--max-links',
      '6',
      '--json',
    ];
    const r = cli(...args);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.nodes).toBe(12);
    expect(report.seed).toBe(3);
    expect(report.simulatedMs).toBe(20_000);
    expect(typeof report.convergedAtMs).toBe('number');
    expect(report.detection.crashed).toBe(1);
    expect(report.detection.firstSuspectMs.mean).toBeGreaterThan(0);
    expect(report.detection.allUnreachableMs.max).toBeLessThan(15_000);
    expect(report.falsePositives).toEqual({ suspected: 0, unreachable: 0 });
    expect(report.traffic.msgsPerNodePerSec).toBeGreaterThan(0);
    expect(report.config.maxLinks).toBe(6);
    const again = JSON.parse(cli(...args).out);
    expect({ ...again, wallMs: 0 }).toEqual({ ...report, wallMs: 0 });
  });

  it('sim --preconverged starts converged and still detects crashes', () => {
    // Half time (the fallback crash time) is past the 10 s settle, so the settle rule decides.
    const args = ['sim', '--nodes', '40', '--duration', '40', '--crash', '2', '--max-links', '8'];
    const warm = JSON.parse(cli(...args, '--preconverged', '--json').out);
    expect(warm.convergedAtMs).toBe(0);
    expect(warm.config.preconverged).toBe(true);
    expect(warm.detection.crashed).toBe(2);
    expect(warm.detection.undetected).toBe(0);
    expect(warm.falsePositives).toEqual({ suspected: 0, unreachable: 0 });
    const cold = JSON.parse(cli(...args, '--json').out);
    expect(cold.config.preconverged).toBe(false);
    expect(cold.convergedAtMs).toBeGreaterThan(0);
    // The human report says so too (a small run: the report's wording is under test).
    expect(cli('sim', '--nodes', '8', '--duration', '10', '--preconverged').out).toMatch(
      /started preconverged/,
    );
  });

  it('sim --join-window spreads the joins; the report counts copies per delivery, per kind of broadcast', () => {
    const args = ['sim', '--nodes', '10', '--duration', '20', '--json'];
    const spread = JSON.parse(cli(...args, '--join-window', '8').out);
    // Node 9 joins at 9/10 of the window: nobody sees everyone Active before it is up.
    expect(spread.convergedAtMs).toBeGreaterThan(7_200);
    const burst = JSON.parse(cli(...args).out);
    expect(burst.convergedAtMs).toBeLessThan(7_200);
    const { broadcasts, duplicatesPerDelivery } = burst.traffic;
    expect(broadcasts.claims.delivered).toBeGreaterThan(0);
    const { claims, entries, app } = broadcasts;
    const copies = claims.duplicates + entries.duplicates + app.duplicates;
    const firsts = claims.delivered + entries.delivered + app.delivered;
    expect(duplicatesPerDelivery).toBeCloseTo(copies / firsts, 2);
    expect(cli(...args, '--join-window', '-1').code).not.toBe(0);
  });

  it('sim --newcomer-quota sets the quota; the report counts newcomers that waited for it, refused and stranded nodes', () => {
    const args = ['sim', '--nodes', '40', '--duration', '20', '--join-window', '2', '--json'];
    const plain = JSON.parse(cli(...args).out);
    expect(plain.config.newcomerQuota).toEqual({ perNode: 1_200, perLink: 300 });
    expect(plain.joins).toEqual({ stranded: 0, newcomersWaited: 0, newcomersRefused: 0 });
    const slow = JSON.parse(cli(...args, '--newcomer-quota', '12').out);
    expect(slow.config.newcomerQuota).toEqual({ perNode: 12, perLink: 12 });
    // A burst of 12, then one every 5 s: most newcomers wait, none is refused, joins go on.
    expect(slow.joins.newcomersWaited).toBeGreaterThan(200);
    expect(slow.joins.newcomersRefused).toBe(0);
    expect(slow.joins.stranded).toBe(0);
    expect(slow.convergedAtMs).toBeNull();
    expect(plain.convergedAtMs).toBeLessThan(5_000);
    expect(cli(...args, '--newcomer-quota', '0').code).toBe(2);
  });

  it('sim --writes --partition reports state convergence, lost writes and state traffic', () => {
    const args = ['sim', '--nodes', '12', '--duration', '30', '--writes', '150', '--partition', '--json'];
    const r = cli(...args);
    expect(r.code).toBe(0);
    const { state, config } = JSON.parse(r.out);
    expect(config.partition).toBe(true);
    expect(state.writes).toBe(150);
    expect(state.lostWrites).toBe(0);
    // Heal at half time (15 s): the halves cannot agree before it.
    expect(state.convergedAtMs).toBeGreaterThanOrEqual(15_000);
    expect(state.convergedAtMs).toBeLessThan(30_000);
    expect(state.bytesPerNodePerSec).toBeGreaterThan(0);
    expect(JSON.parse(cli(...args).out).state).toEqual(state);
    expect(cli('sim', '--writes', '-1').code).toBe(2);
  });

  it("sim --svg plots convergence over time and every observer's detection times", () => {
    const dir = mkdtempSync(join(tmpdir(), 'weftmesh-svg-'));
    try {
      const file = join(dir, 'run.svg');
      const args = ['sim', '--nodes', '10', '--duration', '20', '--crash', '2', '--max-links', '9', '--json'];
      const r = cli(...args, '--svg', file);
      expect(r.code).toBe(0);
      // The printed report is the same with or without the plot.
      expect({ ...JSON.parse(r.out), wallMs: 0 }).toEqual({ ...JSON.parse(cli(...args).out), wallMs: 0 });
      const svg = readFileSync(file, 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      // One membership sample per simulated second.
      const points = /<polyline[^>]*points="([^"]+)"/.exec(svg)![1]!.split(' ');
      expect(points).toHaveLength(20);
      // Two crashed nodes, each seen Unreachable by the 8 live nodes.
      expect(svg).toContain('Unreachable (16)');
      expect(svg).toContain('crash (2)');
      expect(svg).toMatch(/p99 \d+\.\d\d s/);
      expect(cli('sim', '--svg').code).toBe(2);
      // An unwritable plot fails before the run, not after it.
      const unwritable = cli('sim', '--duration', '3600', '--svg', join(dir, 'missing', 'run.svg'));
      expect(unwritable.code).toBe(1);
      expect(unwritable.err).toMatch(/cannot write .*run\.svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sim prints a human report by default', () => {
    const r = cli('sim', '--nodes', '8', '--duration', '10');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/converged at:\s+\d+ ms/);
    expect(r.out).toMatch(/false positives:\s+0 suspicions/);
  });

  it('signal and node refuse bad flags with exit code 2', () => {
    expect(cli('signal', '--port', 'abc').code).toBe(2);
    expect(cli('signal', '--port', '70000').code).toBe(2);
    const noCluster = cli('node', '--signal', 'ws://127.0.0.1:1');
    expect(noCluster.code).toBe(2);
    expect(noCluster.err).toMatch(/--cluster is required/);
    expect(cli('node', '--cluster', 'c').err).toMatch(/--signal is required/);
    expect(cli('node', '--cluster', 'c', '--transport', 'pigeon').code).toBe(2);
    expect(cli('node', '--cluster', 'bad name!', '--signal', 'ws://x').code).toBe(2);
    expect(cli('node', '--cluster', 'c', '--signal', 'http://x').code).toBe(2);
    expect(cli('node', '--cluster', 'c', '--transport', 'websocket', '--listen', 'nope').code).toBe(2);
  });

  it('node with nothing to join through (no --signal, no --seed) and no --listen exits 2 with a message', () => {
    const r = cli('node', '--cluster', 'c', '--transport', 'websocket');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nothing to join through: give --signal URL or --seed ADDR/);
  });

  it('node refuses bad --process, --service and --advertise specs with exit code 2', () => {
    const node = (...extra: string[]) =>
      cli('node', '--cluster', 'c', '--signal', 'ws://127.0.0.1:1', ...extra);
    const badLoad = node('--process', 'indexer@lots');
    expect(badLoad.code).toBe(2);
    expect(badLoad.err).toMatch(/--process "indexer@lots"/);
    expect(node('--process', ':gpu').code).toBe(2);
    const badService = node('--service', 'search');
    expect(badService.code).toBe(2);
    expect(badService.err).toMatch(/NAME=ENDPOINT/);
    expect(node('--service', 'bad name!=http://x').code).toBe(2);
    expect(node('--service', 'search=http://x#Sickly').code).toBe(2);
    const missing = node('--advertise', '/nonexistent/ads.json');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/ads\.json/);
  });

  it('demo refuses bad flags with exit code 2 and documents itself', () => {
    const help = cli('demo', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--nodes N/);
    expect(cli('demo', '--nodes', '17').code).toBe(2);
    expect(cli('demo', '--port', '-1').code).toBe(2);
    const cluster = cli('demo', '--cluster', 'no spaces');
    expect(cluster.code).toBe(2);
    expect(cluster.err).toMatch(/--cluster/);
    expect(cli('demo', '--frobnicate').code).toBe(2);
  });
});
