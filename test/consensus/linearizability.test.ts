/**
 * The key/value linearizability checker on hand-made histories whose verdict is known,
 * including operations of unknown outcome (return null).
 */
import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  type HistoryOp,
  parseHistory,
} from '../../lib/consensus/check/linearizability.ts';

const w = (client: number, key: string, value: string, call: number, ret: number | null): HistoryOp => ({
  client,
  f: 'write',
  key,
  value,
  call,
  return: ret,
});
const r = (
  client: number,
  key: string,
  result: string | null,
  call: number,
  ret: number | null,
): HistoryOp => ({
  client,
  f: 'read',
  key,
  call,
  return: ret,
  result,
});
const cas = (
  client: number,
  key: string,
  from: string | null,
  to: string,
  ok: boolean,
  call: number,
  ret: number | null,
): HistoryOp => ({ client, f: 'cas', key, value: [from, to], call, return: ret, result: ok });

const verdict = (h: HistoryOp[]) => checkLinearizable(h).verdict;

describe('linearizability checker (key/value model)', () => {
  it('a sequential history that reads what was written is linearizable', () => {
    expect(verdict([r(0, 'k', null, 0, 1), w(0, 'k', 'v1', 2, 3), r(1, 'k', 'v1', 4, 5)])).toBe('ok');
  });

  it('a read after a completed write that returns the old value is not (stale read)', () => {
    expect(verdict([w(0, 'k', 'v1', 0, 10), r(1, 'k', null, 11, 12)])).toBe('violation');
  });

  it('a read overlapping a write may return either value', () => {
    expect(verdict([w(0, 'k', 'v1', 0, 10), r(1, 'k', null, 5, 12)])).toBe('ok');
    expect(verdict([w(0, 'k', 'v1', 0, 10), r(1, 'k', 'v1', 5, 12)])).toBe('ok');
  });

  it('two reads that see the write in one order and un-see it in the next are not (new-old inversion)', () => {
    const h = [w(0, 'k', 'v1', 0, 100), r(1, 'k', 'v1', 10, 20), r(2, 'k', null, 30, 40)];
    expect(verdict(h)).toBe('violation');
  });

  it('a read of a value nobody wrote is not', () => {
    expect(verdict([w(0, 'k', 'v1', 0, 10), r(1, 'k', 'v9', 20, 30)])).toBe('violation');
  });

  it('compare-and-set succeeds only on the expected value, and fails only otherwise', () => {
    expect(verdict([w(0, 'k', 'v1', 0, 1), cas(1, 'k', 'v1', 'v2', true, 2, 3), r(2, 'k', 'v2', 4, 5)])).toBe(
      'ok',
    );
    expect(verdict([w(0, 'k', 'v1', 0, 1), cas(1, 'k', 'v0', 'v2', true, 2, 3)])).toBe('violation');
    expect(verdict([w(0, 'k', 'v1', 0, 1), cas(1, 'k', 'v1', 'v2', false, 2, 3)])).toBe('violation');
    expect(verdict([cas(1, 'k', null, 'v2', true, 0, 1), r(2, 'k', 'v2', 4, 5)])).toBe('ok');
  });

  it('two concurrent cas from the same value cannot both succeed', () => {
    const h = [
      w(0, 'k', 'v1', 0, 1),
      cas(1, 'k', 'v1', 'a', true, 2, 10),
      cas(2, 'k', 'v1', 'b', true, 3, 9),
    ];
    expect(verdict(h)).toBe('violation');
  });

  it('a write of unknown outcome may have taken effect (a later read sees it) or not (none does)', () => {
    expect(verdict([w(0, 'k', 'v1', 0, null), r(1, 'k', 'v1', 50, 60)])).toBe('ok');
    expect(verdict([w(0, 'k', 'v1', 0, null), r(1, 'k', null, 50, 60)])).toBe('ok');
    // …but not both: seen, then unseen.
    expect(verdict([w(0, 'k', 'v1', 0, null), r(1, 'k', 'v1', 50, 60), r(1, 'k', null, 70, 80)])).toBe(
      'violation',
    );
    // and not before it was called.
    expect(verdict([r(1, 'k', 'v1', 0, 10), w(0, 'k', 'v1', 20, null)])).toBe('violation');
  });

  it('a cas of unknown outcome may or may not have applied; a read of unknown outcome constrains nothing', () => {
    const h = [w(0, 'k', 'v1', 0, 1), cas(1, 'k', 'v1', 'v2', false, 2, null), r(2, 'k', 'v2', 10, 11)];
    expect(verdict(h)).toBe('ok');
    expect(verdict([w(0, 'k', 'v1', 0, 1), r(2, 'k', 'nonsense', 10, null)])).toBe('ok');
  });

  it('keys are checked separately, and the first failing key is named', () => {
    const h = [w(0, 'a', 'x', 0, 1), r(1, 'a', 'x', 2, 3), w(0, 'b', 'y', 0, 1), r(1, 'b', null, 2, 3)];
    expect(checkLinearizable(h)).toMatchObject({ verdict: 'violation', key: 'b' });
  });

  it('a long history with heavy concurrency is decided quickly (memoization)', () => {
    const h: HistoryOp[] = [];
    // 30 rounds of 4 concurrent writers and 4 concurrent readers, all overlapping.
    for (let round = 0; round < 30; round++) {
      const t = round * 100;
      for (let c = 0; c < 4; c++) h.push(w(c, 'k', `v${round}-${c}`, t + c, t + 50 + c));
      for (let c = 4; c < 8; c++) h.push(r(c, 'k', `v${round}-${c - 4}`, t + c, t + 60 + c));
    }
    const result = checkLinearizable(h);
    expect(result.verdict).toBe('ok');
    expect(result.steps).toBeLessThan(1_000_000);
  });

  it('a search that exceeds its budget says unknown rather than guessing', () => {
    const h: HistoryOp[] = [];
    for (let c = 0; c < 12; c++) h.push(w(c, 'k', `v${c}`, 0, 100));
    h.push(r(99, 'k', 'nope', 200, 210));
    expect(checkLinearizable(h, 50).verdict).toBe('unknown');
  });

  it('reads the history format of weftmesh sim --history', () => {
    const text = [
      '{"client":0,"f":"write","key":"k1","value":"v7","call":1200.5,"return":1213.0}',
      '{"client":1,"f":"read","key":"k1","call":1201.0,"return":1214.2,"result":"v7"}',
      '{"client":2,"f":"cas","key":"k1","value":["v7","v9"],"call":1215.0,"return":1230.1,"result":true}',
      '{"client":3,"f":"write","key":"k2","value":"v8","call":1300.0,"return":null}',
      '',
    ].join('\n');
    const h = parseHistory(text);
    expect(h).toHaveLength(4);
    expect(checkLinearizable(h).verdict).toBe('ok');
  });
});
