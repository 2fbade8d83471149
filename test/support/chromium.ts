/**
 * Chromium for browser tests, launched the way RUNTIME-NOTES prescribes: Debian's binary,
 * no sandbox (root), no background networking, loopback allowed for WebRTC; pages get the
 * media permission so host candidates are real addresses, never mDNS names.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
    ],
  });
}

export async function contextFor(browser: Browser, origin: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.grantPermissions(['microphone', 'camera'], { origin });
  return context;
}

/** Builds the e2e harness page into `dir` (index.html + harness.js). */
export async function buildHarness(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await bundleBrowser(new URL('../browser/harness.ts', import.meta.url).pathname, `${dir}/harness.js`);
  await copyFile(new URL('../browser/index.html', import.meta.url).pathname, `${dir}/index.html`);
}
