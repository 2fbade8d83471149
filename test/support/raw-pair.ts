/** Two RawChannels joined back to back on a virtual scheduler, with an optional man in the middle. */
import type { VirtualScheduler } from '../../lib/time/virtual.ts';
import type {
  ChannelBinding,
  DeliveryClass,
  RawChannel,
  RawChannelHandlers,
} from '../../lib/transport/types.ts';

export type Tamper = (from: 'a' | 'b', frame: Uint8Array) => Uint8Array | null;

class PairEnd implements RawChannel {
  readonly bufferedAmount = 0;
  handlers: RawChannelHandlers | undefined;
  other!: PairEnd;
  closed = false;
  sent: Uint8Array[] = [];
  constructor(
    readonly side: 'a' | 'b',
    readonly binding: ChannelBinding,
    private readonly scheduler: VirtualScheduler,
    private readonly tamper: Tamper,
    /** Closing tells this end's own handler at once, as WebSocket and WebRTC channels do. */
    private readonly closeTellsSelf = false,
  ) {}
  drained(): Promise<void> {
    return this.closed ? Promise.reject(new Error('closed')) : Promise.resolve();
  }
  setHandlers(h: RawChannelHandlers): void {
    this.handlers = h;
  }
  send(cls: DeliveryClass, frame: Uint8Array): void {
    if (this.closed) return;
    this.sent.push(frame);
    const out = this.tamper(this.side, frame);
    if (!out) return;
    this.scheduler.setTimer(1, () => {
      if (!this.other.closed) this.other.handlers?.frame(cls, out);
    });
  }
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTellsSelf) this.handlers?.close(reason);
    this.scheduler.setTimer(1, () => {
      if (this.other.closed) return;
      this.other.closed = true;
      this.other.handlers?.close(reason);
    });
  }
}

export function rawPair(
  scheduler: VirtualScheduler,
  opts: {
    bindingA?: ChannelBinding;
    bindingB?: ChannelBinding;
    tamper?: Tamper;
    closeTellsSelf?: boolean;
  } = {},
): [PairEnd, PairEnd] {
  const none = { local: new Uint8Array(0), remote: new Uint8Array(0) };
  const tamper = opts.tamper ?? ((_side, f) => f);
  const a = new PairEnd('a', opts.bindingA ?? none, scheduler, tamper, opts.closeTellsSelf);
  const b = new PairEnd('b', opts.bindingB ?? none, scheduler, tamper, opts.closeTellsSelf);
  a.other = b;
  b.other = a;
  return [a, b];
}
