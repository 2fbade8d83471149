// The outbox rule (docs/ARCHITECTURE.md): a core's outputs reach its owner only after the
// input that produced them has been handled in full, and outputs that feed new inputs back
// are handled in order, never nested inside the input being handled.
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { Outbox } from '../../lib/util/outbox.ts';

describe('Outbox', () => {
  it('outputs of an input reach the sink only after the input returned', () => {
    const log: string[] = [];
    const out = new Outbox<string>((o) => log.push(`out ${o}`));
    const result = out.run(() => {
      out.push('a');
      log.push('input still running');
      out.push('b');
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual(['input still running', 'out a', 'out b']);
  });

  it('a push outside any input is delivered at once', () => {
    const log: string[] = [];
    const out = new Outbox<string>((o) => log.push(o));
    out.push('x');
    expect(log).toEqual(['x']);
  });

  it('nested inputs deliver when the outermost one ends', () => {
    const log: string[] = [];
    const out = new Outbox<string>((o) => log.push(o));
    out.run(() => {
      out.run(() => out.push('inner'));
      log.push('outer continues');
      out.push('outer');
    });
    expect(log).toEqual(['outer continues', 'inner', 'outer']);
  });

  it('a sink that feeds a new input back sees its outputs after those already queued, not nested', () => {
    const log: string[] = [];
    let depth = 0;
    let maxDepth = 0;
    const out: Outbox<string> = new Outbox<string>((o) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      log.push(o);
      // A handler calling back into the core: a new input with outputs of its own.
      if (o === 'first') out.run(() => out.push('from the handler'));
      depth--;
    });
    out.run(() => {
      out.push('first');
      out.push('second');
    });
    expect(log).toEqual(['first', 'second', 'from the handler']);
    expect(maxDepth).toBe(1);
  });

  it('a throwing sink does not hold up the outputs behind it; the error comes out after the drain', () => {
    const log: string[] = [];
    const out = new Outbox<string>((o) => {
      if (o === 'bad') throw new Error('handler failed');
      log.push(o);
    });
    expect(() =>
      out.run(() => {
        out.push('bad');
        out.push('good');
      }),
    ).toThrow('handler failed');
    expect(log).toEqual(['good']);
    out.push('later');
    expect(log).toEqual(['good', 'later']);
  });

  it('timers of a wrapped environment are inputs: their outputs come after the callback', () => {
    const scheduler = new VirtualScheduler();
    const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) };
    const log: string[] = [];
    const out = new Outbox<string>((o) => log.push(`out ${o}`));
    const wrapped = out.wrap(env);
    wrapped.scheduler.setTimer(10, () => {
      out.push('tick');
      log.push('timer body done');
    });
    const cancelled = wrapped.scheduler.setTimer(20, () => out.push('never'));
    wrapped.scheduler.cancelTimer(cancelled);
    scheduler.runFor(30);
    expect(log).toEqual(['timer body done', 'out tick']);
    expect(wrapped.clock).toBe(env.clock);
    expect(wrapped.random).toBe(env.random);
  });
});
