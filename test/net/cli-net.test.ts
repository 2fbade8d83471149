// The signal and node commands as processes: health endpoint, WebSocket links, clean shutdown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/net.ts';
import { cli, exited, killAll } from '../support/processes.ts';

afterEach(killAll);

describe('weftmesh signal and node', () => {
  it('signal serves /health and exits 0 on SIGTERM', async () => {
    const s = cli(['signal', '--port', '0']);
    await waitFor(() => s.lines.some((l) => l.includes('ws://')), 10_000, 'server up');
    const url = /ws:\/\/(\S+)/.exec(s.lines.join('\n'))![1]!;
    const res = await fetch(`http://${url}/health`);
    expect(await res.json()).toMatchObject({ ok: true });
    s.proc.kill('SIGTERM');
    expect(await exited(s)).toBe(0);
  });

  it('two nodes over WebSocket links see each other (link and state lines); SIGINT makes a node leave and exit 0', async () => {
    const a = cli([
      'node',
      '--cluster',
      'ws',
      '--transport',
      'websocket',
      '--listen',
      '127.0.0.1:0',
      '--json',
    ]);
    await waitFor(() => a.json.some((e) => e.event === 'self'), 10_000, 'a up');
    const self = a.json.find((e) => e.event === 'self')!;
    const address = (self.addresses as string[])[0]!;
    expect(address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const b = cli(['node', '--cluster', 'ws', '--transport', 'websocket', '--seed', address, '--json']);
    await waitFor(() => b.json.some((e) => e.event === 'self'), 10_000, 'b up');
    const bId = b.json.find((e) => e.event === 'self')!.nodeId;
    await waitFor(() => a.json.some((e) => e.nodeId === bId && e.state === 'Active'), 10_000, 'a sees b');
    await waitFor(
      () => b.json.some((e) => e.nodeId === self.nodeId && e.state === 'Active'),
      10_000,
      'b sees a',
    );
    expect(a.json.find((e) => e.event === 'link' && e.nodeId === bId)).toMatchObject({
      up: true,
      transport: 'websocket',
    });
    b.proc.kill('SIGINT');
    expect(await exited(b)).toBe(0);
    await waitFor(() => a.json.some((e) => e.nodeId === bId && e.state === 'Left'), 10_000, 'a sees b leave');
    await waitFor(
      () => a.json.some((e) => e.event === 'link' && e.nodeId === bId && e.up === false),
      10_000,
      'a prints the link to b down',
    );
  });

  it('a node killed with SIGKILL over WebSocket links (closed by its kernel at once) is declared Unreachable', async () => {
    const ws = ['node', '--cluster', 'kill-ws', '--transport', 'websocket', '--json'];
    const a = cli([...ws, '--listen', '127.0.0.1:0']);
    await waitFor(() => a.json.some((e) => e.event === 'self'), 10_000, 'a up');
    const seed = (a.json.find((e) => e.event === 'self')!.addresses as string[])[0]!;
    const others = [cli([...ws, '--listen', '127.0.0.1:0', '--seed', seed]), cli([...ws, '--seed', seed])];
    await waitFor(() => others.every((o) => o.json.some((e) => e.event === 'self')), 10_000, 'others up');
    const [b, victim] = others as [(typeof others)[0], (typeof others)[0]];
    const victimId = victim.json.find((e) => e.event === 'self')!.nodeId;
    const seen = (p: typeof a, state: string) =>
      p.json.some((e) => e.nodeId === victimId && e.state === state);
    await waitFor(() => seen(a, 'Active') && seen(b, 'Active'), 15_000, 'victim Active everywhere');
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await waitFor(() => seen(a, 'Unreachable') && seen(b, 'Unreachable'), 20_000, 'victim Unreachable');
    // Suspected within about a probe period of the reset, Unreachable 5 s later (~6.5 s;
    // the bound leaves room for a loaded machine).
    expect(Date.now() - killedAt).toBeLessThan(12_000);
    expect(seen(a, 'Suspect') || seen(b, 'Suspect')).toBe(true);
  });

  it('node advertises processes and services from flags and a file; another node receives them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weftmesh-ads-'));
    const file = join(dir, 'ads.json');
    writeFileSync(
      file,
      JSON.stringify({
        processes: [{ pid: 'etl-1', agentType: 'etl', capabilities: ['batch'], load: 7 }],
        services: [{ name: 'metrics', endpoint: 'http://127.0.0.1:9100', metadata: { zone: 'a' } }],
      }),
    );
    try {
      const a = cli([
        'node',
        '--cluster',
        'ads',
        '--transport',
        'websocket',
        '--listen',
        '127.0.0.1:0',
        '--json',
        '--process',
        'indexer:gpu,ssd@3',
        '--service',
        'search=http://127.0.0.1:9200#Degraded',
        '--advertise',
        file,
      ]);
      await waitFor(() => a.json.some((e) => e.event === 'self'), 10_000, 'a up');
      const self = a.json.find((e) => e.event === 'self')!;
      expect(self.processes).toHaveLength(2);
      expect(self.processes).toContain('etl-1');
      expect([...(self.services as string[])].sort()).toEqual(['metrics', 'search']);
      const b = cli([
        'node',
        '--cluster',
        'ads',
        '--transport',
        'websocket',
        '--seed',
        (self.addresses as string[])[0]!,
        '--json',
      ]);
      const from = (table: string) =>
        b.json.filter((e) => e.event === 'entry' && e.origin === self.nodeId && e.table === table);
      await waitFor(
        () => from('processes').length === 2 && from('services').length === 2,
        10_000,
        "b receives a's entries",
      );
      expect(from('processes').map((e) => e.key)).toContain('etl-1');
      expect(
        from('services')
          .map((e) => e.key)
          .sort(),
      ).toEqual(['metrics', 'search']);
      expect(from('processes').every((e) => e.deleted === false)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('demo serves the browser demo and exits 0 on SIGINT after its nodes left', async () => {
    const d = cli(['demo', '--port', '0', '--nodes', '2', '--no-webrtc']);
    await waitFor(() => d.lines.some((l) => l.includes('Ctrl-C stops everything')), 20_000, 'demo up');
    const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(d.lines.join('\n'))![1]!;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<svg id="graph"');
    expect((await fetch(`${url}app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect(
      d.lines.filter((l) => /^ {2}node \d: [0-9a-f]{8} {2}ws:\/\/127\.0\.0\.1:\d+$/.test(l)),
    ).toHaveLength(2);
    d.proc.kill('SIGINT');
    expect(await exited(d)).toBe(0);
    expect(d.lines).toContain('stopping: nodes leave the cluster, then the server closes');
  });
});
