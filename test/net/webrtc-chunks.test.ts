// Stream chunks larger than 16 KiB between Chromium and Node over real WebRTC (loopback
// only): each side sends chunks as large as the other's SDP allows (Chromium and
// @roamhq/wrtc both say a=max-message-size:262144; PeerChannel caps them at 64 KiB), and
// messages of several 16 KiB chunks' worth cross whole, in both directions.
import { copyFile, mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWrtc } from '../../lib/webrtc/node.ts';
import { MAX_CHUNK_BYTES } from '../../lib/webrtc/peer-channel.ts';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { type RtcNode, rtcNode } from '../support/webrtc-node.ts';

const DIR = new URL('../../artifacts/e2e-chunks', import.meta.url).pathname;
/** Messaging's largest payload is 48 KiB: 45,000 bytes need 3 chunks of 16 KiB, one of 64 KiB. */
const SIZE = 45_000;
let server: RunningSignalingServer;
let browser: Browser;
let context: BrowserContext | undefined;
let node: RtcNode | undefined;

/** Sizes of what this process's data channels send (@roamhq/wrtc's send, wrapped). */
const nodeSends: number[] = [];
let unwrap = () => {};

beforeAll(async () => {
  await mkdir(DIR, { recursive: true });
  await bundleBrowser(new URL('../browser/chunks-harness.ts', import.meta.url).pathname, `${DIR}/harness.js`);
  await copyFile(new URL('../browser/index.html', import.meta.url).pathname, `${DIR}/index.html`);
  server = await startSignalingServer({ port: 0, staticDir: DIR });
  browser = await launchChromium();
  const proto = ((await loadWrtc()) as unknown as { RTCDataChannel: { prototype: RTCDataChannel } })
    .RTCDataChannel.prototype;
  const send = proto.send;
  proto.send = function (this: RTCDataChannel, data: Uint8Array) {
    nodeSends.push(data.byteLength);
    return (send as (d: Uint8Array) => void).call(this, data);
  } as RTCDataChannel['send'];
  unwrap = () => {
    proto.send = send;
  };
}, 60_000);

afterAll(async () => {
  unwrap();
  node?.close();
  await context?.close();
  await browser?.close();
  await server?.close();
});

describe('WebRTC stream chunks between Chromium and Node', () => {
  it('messages of 45,000 bytes cross whole both ways, each side sending chunks over 16 KiB', async () => {
    const origin = `http://127.0.0.1:${server.port}`;
    context = await contextFor(browser, origin);
    const page = await context.newPage();
    // Sizes of what the page's data channels send.
    await page.addInitScript(() => {
      const sizes: number[] = [];
      (window as unknown as { sendSizes: number[] }).sendSizes = sizes;
      const send = RTCDataChannel.prototype.send;
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
        sizes.push((data as ArrayBufferView).byteLength ?? 0);
        return send.call(this, data);
      };
    });
    await page.goto(`${origin}/index.html?cluster=chunks`);
    await page.waitForFunction(() => 'weftmesh' in window);
    const pageId = await page.evaluate(
      () => (window as unknown as { weftmesh: { nodeId: string } }).weftmesh.nodeId,
    );
    node = await rtcNode(server.url, 'chunks');
    const me = node.node;
    me.respond('reversed', (data) => data.slice().reverse());
    await waitFor(() => me.links().includes(pageId), 30_000, 'a link between the page and the Node node', 50);

    const sent = Uint8Array.from({ length: SIZE }, (_, i) => (i * 13 + 1) & 0xff);
    const answer = await me.request(pageId, 'reversed', sent, 10_000);
    expect(answer).toEqual(sent.slice().reverse());
    const pageAsked = await page.evaluate(
      ([to, size]) =>
        (window as unknown as { weftmesh: { ask(to: string, n: number): Promise<boolean> } }).weftmesh.ask(
          to,
          size,
        ),
      [me.nodeId, SIZE] as const,
    );
    expect(pageAsked).toBe(true);

    const largest = (sizes: number[]) => sizes.reduce((a, b) => Math.max(a, b), 0);
    const pageSends = await page.evaluate(() => (window as unknown as { sendSizes: number[] }).sendSizes);
    for (const sizes of [nodeSends, pageSends]) {
      expect(largest(sizes)).toBeGreaterThan(SIZE);
      expect(largest(sizes)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    }
  }, 90_000);
});
