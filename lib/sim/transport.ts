import { TransportError } from '../transport/errors.ts';
import { HandshakeError, runHandshake } from '../transport/handshake.ts';
import { AuthenticatedLink } from '../transport/link.ts';
import type {
  ConnectOptions,
  Link,
  PeerInfo,
  Transport,
  TransportContext,
  TransportEvents,
} from '../transport/types.ts';
import { toHex } from '../util/bytes.ts';
import type { SimChannelEnd } from './channel.ts';
import type { SimHost } from './host.ts';
import type { SimNetwork } from './network.ts';

/** The in-memory transport of a simulated host. Links run the real handshake. */
export class SimTransport implements Transport {
  readonly name = 'memory';
  readonly host: SimHost;
  readonly #net: SimNetwork;
  readonly #epoch: number;
  #ctx: TransportContext | undefined;
  #events: TransportEvents | undefined;
  readonly #ends = new Set<SimChannelEnd>();
  #closed = false;

  constructor(net: SimNetwork, host: SimHost) {
    this.#net = net;
    this.host = host;
    this.#epoch = host.epoch;
  }

  /** False once closed or once its host crashed. */
  get active(): boolean {
    return !this.#closed && this.#ctx !== undefined && this.host.up && this.host.epoch === this.#epoch;
  }

  localAddresses(): string[] {
    return [this.host.url];
  }

  canDial(address: string): boolean {
    return address.startsWith('mem:');
  }

  start(ctx: TransportContext, events: TransportEvents): void {
    if (this.#ctx) throw new TransportError('already-started', 'transport already started');
    this.#ctx = ctx;
    this.#events = events;
    this.host.listener = this;
  }

  connect(address: string, opts: ConnectOptions = {}): void {
    if (!this.#ctx) throw new TransportError('not-started', 'start() the transport before connect()');
    if (!this.active) return;
    if (!this.canDial(address)) {
      this.#events!.dialFailed(
        address,
        new TransportError('cannot-dial', `the memory transport cannot dial ${address}`),
      );
      return;
    }
    this.#net.dial(this, address.slice('mem:'.length), opts);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.host.listener === this) this.host.listener = undefined;
    for (const end of [...this.#ends]) end.close('transport closed');
  }

  /**
   * Who this transport's node is (what a trusted simulated link vouches for): what its
   * handshake would state, its run included (a restarted node's new link must replace the old
   * one at its peers as over a real handshake: without it, soak seed 18,285 kept a link to the
   * dead process and took the new one for a duplicate).
   */
  get peerInfo(): PeerInfo {
    const { identity: id, boot } = this.#ctx!;
    return { nodeId: id.nodeId, publicKey: id.publicKey, ...(boot ? { boot: toHex(boot) } : {}) };
  }

  /** Network callback (trusted mode): an accepted connection whose peer the network vouches for. */
  adopt(end: SimChannelEnd, peer: PeerInfo, delay: number): void {
    this.#track(end);
    this.#net.scheduler.setTimer(delay, () => {
      const link = this.#trusted(end, peer, false);
      if (link) this.#events!.link(link);
    });
  }

  #trusted(end: SimChannelEnd, peer: PeerInfo, initiator: boolean): Link | undefined {
    if (!this.active || !end.alive) return undefined;
    const refusal = this.#ctx!.admit?.(peer, undefined);
    if (refusal !== undefined || peer.nodeId === this.#ctx!.identity.nodeId) {
      end.close(refusal ?? 'self');
      return undefined;
    }
    return new AuthenticatedLink(end, peer, this.name, initiator);
  }

  /** Network callback: a connection reached this listener. */
  accept(end: SimChannelEnd): void {
    this.#track(end);
    runHandshake(end, this.#ctx!, 'acceptor', { transport: this.name }, (error, link) => {
      if (!error && link && this.active) this.#events!.link(link);
    });
  }

  /** Network callback: an outbound connection to host `hostAddress` was established (or not). */
  dialed(
    hostAddress: string,
    opts: ConnectOptions,
    end: SimChannelEnd | Error,
    trusted?: { peer: PeerInfo; delay: number },
  ): void {
    const address = `mem:${hostAddress}`;
    if (!this.active) {
      if (!(end instanceof Error)) end.close('dialer gone');
      return;
    }
    if (end instanceof Error) {
      this.#events!.dialFailed(address, end);
      return;
    }
    this.#track(end);
    if (trusted) {
      const { peer } = trusted;
      this.#net.scheduler.setTimer(trusted.delay, () => {
        if (opts.expectNodeId !== undefined && peer.nodeId !== opts.expectNodeId) {
          end.close('unexpected peer');
          if (this.active)
            this.#events!.dialFailed(
              address,
              new HandshakeError('unexpected-peer', 'trusted link to another node', peer.nodeId),
            );
          return;
        }
        const link = this.#trusted(end, peer, true);
        if (link) this.#events!.link(link, address);
        else if (this.active)
          this.#events!.dialFailed(address, new HandshakeError('refused', 'link refused'));
      });
      return;
    }
    const handshake =
      opts.expectNodeId === undefined
        ? { transport: this.name }
        : { transport: this.name, expectNodeId: opts.expectNodeId };
    runHandshake(end, this.#ctx!, 'dialer', handshake, (error, link) => {
      if (!this.active) return;
      if (error) this.#events!.dialFailed(address, error);
      else if (link) this.#events!.link(link, address);
    });
  }

  #track(end: SimChannelEnd): void {
    this.#ends.add(end);
    end.onGone = () => this.#ends.delete(end);
  }
}
