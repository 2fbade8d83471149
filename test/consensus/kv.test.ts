/** The replicated key/value state machine: commands, snapshots, malformed input. */
import { describe, expect, it } from 'vitest';
import { decodeKvCommand, encodeKvCommand, KvStateMachine } from '../../lib/consensus/kv.ts';

describe('KvStateMachine', () => {
  it('applies put, delete and cas, reporting the previous value and whether a cas matched', () => {
    const kv = new KvStateMachine();
    expect(kv.apply(encodeKvCommand({ op: 'put', key: 'a', value: '1' }))).toEqual({
      ok: true,
      previous: null,
    });
    expect(kv.apply(encodeKvCommand({ op: 'cas', key: 'a', expected: '0', value: '2' }))).toEqual({
      ok: false,
      previous: '1',
    });
    expect(kv.get('a')).toBe('1');
    expect(kv.apply(encodeKvCommand({ op: 'cas', key: 'a', expected: '1', value: '2' }))).toEqual({
      ok: true,
      previous: '1',
    });
    expect(kv.apply(encodeKvCommand({ op: 'cas', key: 'b', expected: null, value: 'new' }))?.ok).toBe(true);
    expect(kv.apply(encodeKvCommand({ op: 'delete', key: 'a' }))).toEqual({ ok: true, previous: '2' });
    expect([kv.get('a'), kv.get('b'), kv.size]).toEqual([null, 'new', 1]);
  });

  it('a snapshot restores the same map elsewhere', () => {
    const kv = new KvStateMachine();
    for (let i = 0; i < 50; i++) kv.apply(encodeKvCommand({ op: 'put', key: `k${i}`, value: `v${i}` }));
    const other = new KvStateMachine();
    expect(other.restore(kv.snapshot())).toBe(true);
    expect(other.get('k49')).toBe('v49');
    expect(other.snapshot()).toEqual(kv.snapshot());
  });

  it('malformed commands and snapshots change nothing', () => {
    const kv = new KvStateMachine();
    kv.apply(encodeKvCommand({ op: 'put', key: 'a', value: '1' }));
    for (const bad of [
      '',
      'null',
      '{"op":"put","key":"a"}',
      '{"op":"zap","key":"a"}',
      '{"op":"cas","key":"a","expected":1,"value":"x"}',
    ])
      expect(kv.apply(new TextEncoder().encode(bad))).toBeUndefined();
    expect(kv.apply(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
    expect(kv.malformed).toBe(6);
    expect(kv.restore(new TextEncoder().encode('[["a",1]]'))).toBe(false);
    expect(kv.get('a')).toBe('1');
    expect(decodeKvCommand(encodeKvCommand({ op: 'delete', key: 'z' }))).toEqual({ op: 'delete', key: 'z' });
  });
});
