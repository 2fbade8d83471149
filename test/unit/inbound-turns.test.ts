// InboundTurns: inbound WebRTC events run at once until a slice (20 ms) has passed since the
// event loop last came round; later ones wait, in order, for later tasks so that timers run in
// between (@roamhq/wrtc hands over everything queued in one task and kept a follower's
// timers from running for 7.5 s).
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { InboundTurns } from '../../lib/webrtc/inbound-turns.ts';

/** A clock the test moves: each event "takes" `cost` ms of the thread. */
function rig(cost: number) {
  const scheduler = new VirtualScheduler();
  let t = 0;
  const turns = new InboundTurns(scheduler, () => t);
  const ran: number[] = [];
  const event = (i: number) => () => {
    ran.push(i);
    t += cost;
  };
  return { scheduler, turns, ran, event, advance: (ms: number) => (t += ms) };
}

describe('InboundTurns', () => {
  it('events handed over back to back run at once for 20 ms, then wait for later tasks, in order', () => {
    const r = rig(1);
    for (let i = 0; i < 50; i++) r.turns.run(r.event(i)); // one native task delivering 50 events
    expect(r.ran).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(r.turns.deferred).toBe(30);
    let timerRanAfter = -1;
    r.scheduler.setTimer(0, () => {
      timerRanAfter = r.ran.length; // a timer that was due: it runs between the turns
    });
    r.scheduler.runFor(0);
    expect(r.ran).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(timerRanAfter).toBeGreaterThanOrEqual(20);
    expect(timerRanAfter).toBeLessThan(50);
  });

  it('each later task handles at most a slice of the waiting events, then lets timers in again', () => {
    const r = rig(5);
    for (let i = 0; i < 20; i++) r.turns.run(r.event(i));
    expect(r.ran).toHaveLength(4); // 4 × 5 ms
    let seenByTimer = -1;
    r.scheduler.setTimer(0, () => {
      seenByTimer = r.ran.length;
    });
    r.scheduler.runFor(0);
    expect(seenByTimer).toBe(8); // one more slice of 4 ran before it, the rest after
    expect(r.ran).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('once the event loop has come round a new slice starts: traffic with turns in between never waits', () => {
    const r = rig(1);
    for (let i = 0; i < 200; i++) {
      r.turns.run(r.event(i));
      r.scheduler.runFor(1);
    }
    expect(r.ran).toHaveLength(200);
    expect(r.turns.deferred).toBe(0);
    expect(r.scheduler.pending).toBe(0);
  });

  it('time spent on other work between events still counts: the loop has not come round', () => {
    const r = rig(0);
    for (let i = 0; i < 30; i++) {
      r.turns.run(r.event(i));
      r.advance(3); // verifying what arrived, in microtasks
    }
    expect(r.ran).toHaveLength(7); // events at 0, 3, …, 18 ms
    r.scheduler.runFor(0);
    expect(r.ran).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('while events wait, a new one queues behind them (a channel’s order holds)', () => {
    const r = rig(1);
    for (let i = 0; i < 25; i++) r.turns.run(r.event(i));
    r.advance(10);
    r.turns.run(r.event(25));
    expect(r.ran).toHaveLength(20);
    r.scheduler.runFor(0);
    expect(r.ran).toEqual(Array.from({ length: 26 }, (_, i) => i));
  });
});
