// whenVerified / allVerified: the one way to continue after a verification that may or may not
// be asynchronous (issue 12, item 5). Synchronous in, synchronous out: the simulator's order of
// events depends on it.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Domain } from '../../lib/identity/signed.ts';
import { allVerified, CachedVerifier, whenVerified } from '../../lib/identity/verifier.ts';

describe('whenVerified', () => {
  it('calls `then` before returning when the result is a plain value, and returns what it returns', () => {
    const calls: string[] = [];
    const out = whenVerified(
      true,
      (ok) => {
        calls.push(`then ${ok}`);
        return 7;
      },
      () => -1,
    );
    calls.push('returned');
    expect(calls).toEqual(['then true', 'returned']);
    expect(out).toBe(7);
  });

  it('waits for a promise, and returns a promise of what `then` returns', async () => {
    const calls: string[] = [];
    const out = whenVerified(Promise.resolve(false), (ok) => {
      calls.push(`then ${ok}`);
      return 'done';
    });
    calls.push('returned');
    expect(out).toBeInstanceOf(Promise);
    expect(await out).toBe('done');
    expect(calls).toEqual(['returned', 'then false']);
  });

  it('calls `onError` when the promise rejects, and passes the rejection on without it', async () => {
    const boom = new Error('verifier failed');
    expect(
      await whenVerified(
        Promise.reject(boom),
        () => 'ok',
        (e) => (e === boom ? 'caught' : 'other'),
      ),
    ).toBe('caught');
    await expect(whenVerified(Promise.reject(boom), () => 'ok')).rejects.toBe(boom);
  });

  it('takes a promise of another realm as a promise, never as a truthy value', async () => {
    const foreign = runInNewContext('Promise.resolve(false)') as Promise<boolean>;
    expect(foreign instanceof Promise).toBe(false);
    let seen: boolean | undefined;
    await whenVerified(foreign, (ok) => {
      seen = ok;
    });
    expect(seen).toBe(false);
  });

  it('passes null and objects without `then` through as values', () => {
    expect(whenVerified(null, (v) => v === null)).toBe(true);
    const claim = { subject: 'a' };
    expect(whenVerified(claim, (v) => v)).toBe(claim);
  });
});

describe('allVerified', () => {
  it('is the same array, synchronously, when no result is a promise', () => {
    const results = [true, false, true];
    expect(allVerified(results)).toBe(results);
    expect(allVerified([])).toEqual([]);
  });

  it('is one promise of all results, in order, when any is a promise', async () => {
    const out = allVerified([true, Promise.resolve(false), true]);
    expect(out).toBeInstanceOf(Promise);
    expect(await out).toEqual([true, false, true]);
  });
});

describe('CachedVerifier (built on whenVerified)', () => {
  it('answers synchronously for a synchronous verifier and asynchronously for an async one, memoizing both', async () => {
    const sync = new CachedVerifier({ verify: () => true });
    const key = new Uint8Array(32);
    expect(sync.verify(key, Domain.Handshake, new Uint8Array(1), new Uint8Array(64))).toBe(true);
    const async = new CachedVerifier({ verify: async () => false });
    const first = async.verify(key, Domain.Handshake, new Uint8Array(1), new Uint8Array(64));
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(false);
    expect(async.verify(key, Domain.Handshake, new Uint8Array(1), new Uint8Array(64))).toBe(false);
    expect(async.stats()).toEqual({ hits: 1, misses: 1, size: 1 });
  });
});
