// The README's examples run as written (issue 11, item 1 and "Documented code is tested
// code"), from a fresh project with the packed package installed, the way the README says:
// the Node example as Node processes against a local signaling server, the Deno example under
// `deno run` with the documented flags against the Node example's WebSocket listener (and
// without them: a clear error, not a silent hang), and the web example bundled by esbuild in
// two Chromium pages. The blocks are taken from README.md verbatim; they read their
// endpoints from documented variables (SIGNAL, PORT, HUB; the page's own origin).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { BIN, installConsumer, type Packed, packWeftmesh, sh } from '../support/packed.ts';
import { type Child, exited, killAll, startChild } from '../support/processes.ts';
import { readmeExample } from '../support/snippets.ts';

const DENO = join(BIN, 'deno');
const INDEX =
  '<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<script src="main.js"></script>\n';

type Server = { port: number; url: string; close(): Promise<void> };

let packed: Packed;
let app: string;
let browser: Browser | undefined;
const servers: Server[] = [];

beforeAll(async () => {
  packed = await packWeftmesh();
  app = await installConsumer(
    packed,
    'examples',
    {
      'node-example.ts': readmeExample('node').code,
      'deno-example.ts': readmeExample('deno').code,
      // The README's permission table: the package itself reads no environment variable.
      'deno-no-env.ts': [
        `import { MeshNode, NodeIdentity } from 'weftmesh';`,
        `import { SignalingClient } from 'weftmesh/signaling';`,
        `import { WebSocketTransport } from 'weftmesh/websocket';`,
        `const node = new MeshNode({ identity: NodeIdentity.generate(), cluster: 'c', transport: new WebSocketTransport() });`,
        `await node.start();`,
        `console.log('started', typeof SignalingClient);`,
        `await node.leave();`,
      ].join('\n'),
      'web/main.ts': readmeExample('web').code,
    },
    [],
    { optional: true }, // @roamhq/wrtc: the Node example uses WebRTC
  );
  // Node runs JavaScript: the example's types stripped, nothing else changed.
  await sh(app, join(BIN, 'esbuild'), ['node-example.ts', '--format=esm', '--outfile=node-example.mjs']);
}, 180_000);

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  await browser?.close();
  await packed?.cleanup();
});

/** The installed package's own signaling server (serving `staticDir` if given). */
async function signalingServer(staticDir?: string): Promise<Server> {
  const mod = (await import(join(app, 'node_modules/weftmesh/dist/signaling/node.js'))) as {
    startSignalingServer(o: { port: number; host?: string; staticDir?: string }): Promise<Server>;
  };
  const server = await mod.startSignalingServer({
    port: 0,
    host: '127.0.0.1',
    ...(staticDir ? { staticDir } : {}),
  });
  servers.push(server);
  return server;
}

function nodeExample(signal: string): Child {
  return startChild(process.execPath, [join(app, 'node-example.mjs')], { SIGNAL: signal }, false, app);
}

function denoExample(flags: string[], hub: string): Child {
  return startChild(DENO, ['run', ...flags, 'deno-example.ts'], { HUB: hub, NO_COLOR: '1' }, false, app);
}

/** What the Node example printed about itself: `node <id8> listening at <url>`. */
function listening(c: Child): { id: string; url: string } | undefined {
  for (const line of c.lines) {
    const m = /^node ([0-9a-f]{8}) listening at (ws:\/\/\S+)$/.exec(line);
    if (m) return { id: m[1]!, url: m[2]! };
  }
  return undefined;
}

const says = (c: Child, line: string) => c.lines.includes(line);
const output = (c: Child) => `stdout:\n${c.lines.join('\n')}\nstderr:\n${c.stderr.join('')}`;

describe('the README examples, run as written', () => {
  it('Node: two processes find each other through the signaling server (WebRTC); SIGTERM leaves gracefully', async () => {
    const server = await signalingServer();
    const a = nodeExample(server.url);
    const b = nodeExample(server.url);
    await waitFor(
      () => !!listening(a) && !!listening(b),
      30_000,
      () => `both listening\n${output(a)}\n${output(b)}`,
    );
    const [ia, ib] = [listening(a)!, listening(b)!];
    expect(ia.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(
      () => says(a, `${ib.id} Active`) && says(b, `${ia.id} Active`),
      30_000,
      () => `each sees the other Active\n${output(a)}\n${output(b)}`,
    );
    b.proc.kill('SIGTERM');
    expect(await exited(b)).toBe(0);
    await waitFor(
      () => says(a, `${ib.id} Left`),
      10_000,
      () => `a sees b leave\n${output(a)}`,
    );
    expect(a.stderr.join('')).toBe('');
  }, 90_000);

  it('Deno: run with --allow-net --allow-env, joins the Node example through its listener and gets its time', async () => {
    const server = await signalingServer();
    const hub = nodeExample(server.url);
    await waitFor(
      () => !!listening(hub),
      30_000,
      () => `hub listening\n${output(hub)}`,
    );
    const { id, url } = listening(hub)!;
    const edge = denoExample(['--allow-net', '--allow-env'], url);
    const done = () => edge.proc.exitCode !== null || edge.proc.signalCode !== null;
    await waitFor(done, 45_000, () => `the Deno example to exit\n${output(edge)}`, 100);
    expect(await exited(edge), output(edge)).toBe(0);
    expect(edge.lines.join('\n')).toMatch(new RegExp(`^time at ${id}: \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`, 'm'));
    // The hub saw the edge node come and leave.
    const edgeStates = hub.lines.filter((l) => / (Active|Left)$/.test(l) && !l.startsWith(id));
    expect(
      edgeStates.map((l) => l.split(' ')[1]),
      output(hub),
    ).toEqual(['Active', 'Left']);
  }, 90_000);

  it('Deno without --allow-net: the example prints an error naming the flag instead of hanging silently', async () => {
    const edge = denoExample(['--allow-env'], 'ws://127.0.0.1:9');
    await waitFor(
      () => edge.stderr.join('').includes('--allow-net'),
      30_000,
      () => `an error naming --allow-net\n${output(edge)}`,
    );
    expect(edge.stderr.join('')).toContain('run again with the --allow-net flag');
    expect(edge.stderr.join('')).toContain('dialling ws://127.0.0.1:9: refused by the runtime');
  }, 60_000);

  it("Deno without --allow-env: the example's own Deno.env.get fails at once with an error naming the flag", async () => {
    const edge = denoExample(['--allow-net'], 'ws://127.0.0.1:9');
    expect(await exited(edge)).not.toBe(0);
    expect(edge.stderr.join('')).toContain(
      'Requires env access to "HUB", run again with the --allow-env flag',
    );
  }, 60_000);

  it('Deno: weftmesh, weftmesh/websocket and weftmesh/signaling load and a node starts with --allow-net alone', async () => {
    const child = startChild(DENO, ['run', '--allow-net', 'deno-no-env.ts'], { NO_COLOR: '1' }, false, app);
    expect(await exited(child), output(child)).toBe(0);
    expect(child.lines).toContain('started function');
  }, 60_000);

  it('web: bundled by esbuild, two Chromium pages served by the signaling server greet each other', async () => {
    const out = join(app, 'web/out');
    await mkdir(out, { recursive: true });
    const { stderr } = await sh(app, join(BIN, 'esbuild'), [
      'web/main.ts',
      '--bundle',
      `--outfile=${out}/main.js`,
    ]);
    expect(stderr).not.toMatch(/warning|error/i);
    await writeFile(join(out, 'index.html'), INDEX);
    const server = await signalingServer(out);
    const origin = `http://127.0.0.1:${server.port}`;
    browser ??= await launchChromium();
    const context = await contextFor(browser, origin);
    const logs: string[][] = [[], []];
    const problems: string[] = [];
    try {
      const pages: Page[] = [];
      for (const log of logs) {
        const page = await context.newPage();
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'log') log.push(m.text());
          else if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        await page.goto(`${origin}/index.html`);
        pages.push(page);
      }
      /** [from, to] of each "<from> says hello, <to>" a page logged. */
      const greetings = (log: string[]) =>
        log.flatMap((l) => {
          const m = /^([0-9a-f]{8}) says hello, ([0-9a-f]{8})$/.exec(l);
          return m ? [[m[1]!, m[2]!] as const] : [];
        });
      const greeted = () => {
        const [g0, g1] = [greetings(logs[0]!), greetings(logs[1]!)];
        return g0.some(([f, t]) => f !== t && g1.some(([f1, t1]) => f1 === t && t1 === f));
      };
      await waitFor(
        () => greeted() || problems.length > 0,
        30_000,
        () => `greetings\n${logs.flat().join('\n')}`,
      );
      expect(problems).toEqual([]);
      expect(greeted()).toBe(true);
    } finally {
      await context.close();
    }
  }, 120_000);
});
