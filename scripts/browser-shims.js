// Node globals simple-peer's dependencies expect, for browser bundles.
import { Buffer } from 'buffer';
import process from 'process/browser.js';

export { Buffer, process };
