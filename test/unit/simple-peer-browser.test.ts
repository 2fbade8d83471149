// The stream base the browser build of simple-peer runs on (scripts/simple-peer-browser):
// data received before anyone listens is held, in order, and bounded.

import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';

interface Duplex {
  on(type: string, fn: (...a: unknown[]) => void): Duplex;
  once(type: string, fn: (...a: unknown[]) => void): Duplex;
  removeListener(type: string, fn: (...a: unknown[]) => void): Duplex;
  emit(type: string, ...a: unknown[]): boolean;
  push(chunk: Uint8Array | null): boolean;
  destroy(err?: Error): void;
}
const { Duplex } = createRequire(import.meta.url)('../../scripts/simple-peer-browser/stream.cjs') as {
  Duplex: new () => Duplex;
};

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);

describe('the browser stream base of simple-peer', () => {
  it('holds chunks pushed before the first data listener and delivers them in order, then live ones', async () => {
    const s = new Duplex();
    s.push(bytes(1, 1));
    s.push(bytes(1, 2));
    const seen: number[] = [];
    s.on('data', (c) => seen.push((c as Uint8Array)[0]!));
    s.push(bytes(1, 3));
    expect(seen).toEqual([]); // delivered on a microtask, as a paused Node stream resumes
    await Promise.resolve();
    expect(seen).toEqual([1, 2, 3]);
    s.push(bytes(1, 4));
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('destroys a peer that sends more than 4 MiB before anyone listens, and holds no more', () => {
    const s = new Duplex();
    s.destroy = vi.fn();
    for (let i = 0; i < 64; i++) s.push(bytes(64 * 1024));
    expect(s.destroy).not.toHaveBeenCalled();
    s.push(bytes(1));
    expect(s.destroy).toHaveBeenCalledTimes(1);
    expect(s.push(bytes(64 * 1024))).toBe(false);
    expect(s.destroy).toHaveBeenCalledTimes(1);
  });

  it('once listeners run once and can be removed by the original function; an unheard error throws', () => {
    const s = new Duplex();
    const fn = vi.fn();
    s.once('connect', fn);
    s.emit('connect');
    s.emit('connect');
    expect(fn).toHaveBeenCalledTimes(1);
    const gone = vi.fn();
    s.once('finish', gone);
    s.removeListener('finish', gone);
    s.emit('finish');
    expect(gone).not.toHaveBeenCalled();
    expect(() => s.emit('error', new Error('boom'))).toThrow('boom');
  });
});
