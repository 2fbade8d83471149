/**
 * Rooms shared by several signaling instances through Redis (node-redis, the client Redis
 * maintains; see docs/SIGNALING-REDIS.md for why). Loaded only by the Node and Deno server
 * entries: browser bundles of weftmesh never contain it.
 *
 * - Membership: each instance registers its peers in the room's hash and renews its own
 *   deadline every heartbeat; a dead instance's peers are ignored once its deadline passed
 *   and vanish from every listing within instanceTtlMs + heartbeatMs.
 * - Routing: an instance subscribes to its own channel (signals for its peers) and to the
 *   channel of each room it has peers in (joins and leaves there); nothing reads a global
 *   channel. It mirrors the remote peers of those rooms, so a signal costs one PUBLISH.
 * - Outages: commands fail fast while Redis is away (no offline queue) and local signaling
 *   goes on; on reconnection the instance renews itself, re-subscribes what is missing,
 *   re-registers every local peer and re-reads its rooms. A probe PUBLISH to its own channel
 *   every heartbeat detects a subscription that was not restored (it reaches no subscriber).
 * - Everything read from Redis is parsed strictly (backplane-frames.ts); what fails is dropped
 *   and counted in health().dropped.
 */
import { createClient } from 'redis';
import { toHex } from '../lib/util/bytes.ts';
import type {
  Backplane,
  BackplaneCaps,
  BackplaneHealth,
  BackplaneSink,
  JoinVerdict,
  RemotePeer,
} from './backplane.ts';
import {
  encodeEntry,
  INSTANCE_ID,
  parseEntry,
  parseInstanceFrame,
  parseRoomEvent,
} from './backplane-frames.ts';
import type { SignalingErrorCode } from './protocol.ts';
import { HEARTBEAT, JOIN, LEAVE, READ, REAP } from './redis-scripts.ts';

export interface RedisBackplaneOptions {
  /** `redis://[user:password@]host:port[/db]` (`rediss://` for TLS). A single Redis primary. */
  url: string;
  /** Prefix of every key and channel: deployments that share a Redis database keep apart by it. Default `weftmesh`. */
  prefix?: string;
  /** How often the instance renews its registration and checks the others'. Default 2,000 ms. */
  heartbeatMs?: number;
  /**
   * An instance that has not renewed for this long is dead: its peers vanish from listings
   * within instanceTtlMs + heartbeatMs (8 s by default). Default 6,000 ms.
   */
  instanceTtlMs?: number;
  /** How often each room is re-read in full (heals events lost while a connection was down). Default 30,000 ms. */
  reconcileMs?: number;
  /** A Redis command not answered within this counts as failed. Default 2,000 ms. */
  commandTimeoutMs?: number;
  /** Where state changes are logged (connection lost, restored, subscriptions repaired). Default nowhere. */
  log?: (line: string) => void;
}

type Client = ReturnType<typeof createClient>;

interface Mirrored extends RemotePeer {
  /** When it was last confirmed (by an event or a read), on #seq's scale. */
  seq: number;
}

interface RoomState {
  /** This instance's peers: addresses and source. */
  local: Map<string, { addrs: readonly string[]; source: string | undefined }>;
  remote: Map<string, Mirrored>;
  /** Leaves seen while a read of the room was in flight (that read must not bring them back). */
  left: Map<string, number>;
  reads: number;
  /**
   * Signals from a remote peer this instance does not mirror yet, by sender: the signal can
   * outrun the sender's join (they travel on different channels), so it waits here for the
   * join (or a read of the room) until the next heartbeat but one, bounded by
   * EARLY_SIGNALS_PER_ROOM; what its join does not release by then is dropped and counted.
   */
  early: Map<string, Array<{ to: string; data: unknown; at: number }>>;
  subscribed: boolean;
  /** The first subscription to the room, under way or done (later ones: #resubscribe). */
  subscription: Promise<void> | undefined;
  /**
   * Subscribed and read once (or failed to: then it is read on reconnection); started by the
   * first join in the room that is admitted (or taken while the backplane is down).
   */
  ready: Promise<void> | undefined;
  listener: (message: string) => void;
}

const CLOSE_GRACE_MS = 1_000;
/** Signals from peers not mirrored yet, held per room (see RoomState.early); each waits one heartbeat or two. */
const EARLY_SIGNALS_PER_ROOM = 64;
/** Leaves kept for a Redis that is away (each one's entry is removed when it is back). */
const MAX_DEFERRED_LEAVES = 100_000;

/** Keys may hold a source that came from a proxy header: only a tame, bounded form of it. */
function keySafe(source: string): string {
  return source.replace(/[^0-9A-Za-z.:/_-]/g, '_').slice(0, 80);
}

export class RedisBackplane implements Backplane {
  /** This instance's id (random per start). */
  readonly instance = toHex(crypto.getRandomValues(new Uint8Array(8)));
  readonly #o: Required<Omit<RedisBackplaneOptions, 'log'>> & Pick<RedisBackplaneOptions, 'log'>;
  readonly #main: Client;
  readonly #sub: Client;
  readonly #rooms = new Map<string, RoomState>();
  /** Joined local connections per source. */
  readonly #sources = new Map<string, number>();
  #sink: BackplaneSink | undefined;
  #caps: BackplaneCaps | undefined;
  #state: BackplaneHealth['state'] = 'connecting';
  #since = Date.now();
  #outages = 0;
  #lastError: string | undefined;
  #seq = 0;
  /** Live instances as of the last heartbeat. */
  #live = new Set<string>();
  /** No reaping, no removal on reads until then (instances re-register after a Redis restart). */
  #graceUntil = 0;
  #nextReconcile = 0;
  #recovering = false;
  /** Connection losses so far (a recovery that saw one is not complete). */
  #drops = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** A command's outcome was unknown: register everything again at the next heartbeat. */
  #reregister = false;
  /** Local peers that left while their leave could not reach Redis ("room id"): removed on recovery. Bounded. */
  readonly #leftWhileDown = new Set<string>();
  readonly #onInstance = (message: string) => this.#onInstanceFrame(message);
  readonly #counts = { routedOut: 0, routedIn: 0, dropped: {} as Record<string, number>, roomReads: 0 };

  constructor(opts: RedisBackplaneOptions) {
    this.#o = {
      prefix: 'weftmesh',
      heartbeatMs: 2_000,
      instanceTtlMs: 6_000,
      reconcileMs: 30_000,
      commandTimeoutMs: 2_000,
      ...opts,
    };
    if (this.#o.instanceTtlMs < 2 * this.#o.heartbeatMs)
      throw new RangeError('RedisBackplane: instanceTtlMs must be at least twice heartbeatMs');
    const options = {
      url: this.#o.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.#o.commandTimeoutMs,
        // Quick to come back (≤ 1.5 s between tries), jittered so instances do not stampede.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1_000) * (0.5 + Math.random()),
      },
    };
    this.#main = createClient(options);
    this.#sub = createClient(options);
    for (const [client, name] of [
      [this.#main, 'commands'],
      [this.#sub, 'subscriptions'],
    ] as const) {
      client.on('error', (e: Error) => this.#failed(`${name}: ${e.message}`));
      client.on('reconnecting', () => this.#down(`${name} connection lost`));
      client.on('ready', () => void this.#recover());
    }
  }

  start(sink: BackplaneSink, caps: BackplaneCaps): void {
    this.#sink = sink;
    this.#caps = caps;
    const connect = (c: Client) => c.connect().catch((e: Error) => this.#failed(e.message));
    void connect(this.#main);
    void connect(this.#sub);
    this.#timer = setInterval(() => void this.#heartbeat(), this.#o.heartbeatMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  health(): BackplaneHealth {
    let remotePeers = 0;
    for (const r of this.#rooms.values()) remotePeers += r.remote.size;
    return {
      state: this.#state,
      instance: this.instance,
      since: this.#since,
      outages: this.#outages,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      remotePeers,
      routedOut: this.#counts.routedOut,
      routedIn: this.#counts.routedIn,
      dropped: { ...this.#counts.dropped },
      roomReads: this.#counts.roomReads,
    };
  }

  remote(room: string): ReadonlyMap<string, RemotePeer> {
    return this.#rooms.get(room)?.remote ?? new Map();
  }

  async join(
    room: string,
    id: string,
    addrs: readonly string[],
    source: string | undefined,
  ): Promise<JoinVerdict> {
    const r = this.#room(room);
    const before = r.local.get(id);
    // Counted against its source unless this is the same node again from the same source
    // (then its rate still is: a rejoin costs the room an announcement as a join does).
    const counted = source !== undefined && before?.source !== source;
    // The same node from another source: the old one's count goes once this one is in.
    const moved = counted && before?.source !== undefined ? before.source : undefined;
    r.local.set(id, { addrs, source });
    r.remote.delete(id); // local now (it may have moved here): the room still has it
    // A room new here is subscribed to before the script runs (no event of the room after it
    // is missed: a rejoin elsewhere must reach this instance), but read (its whole listing)
    // only once a join in it is admitted: a join its caps refuse costs a subscription and one
    // script, not a read of up to maxPeersPerRoom entries (a hostile source joining a full
    // room over and over did that many reads).
    if (r.ready) await r.ready;
    else await this.#subscribed(room, r);
    /** The join is in: its source counted; the source it moved from not (in Redis too when Redis took it). */
    const admitted = (inRedis: boolean): JoinVerdict => {
      if (counted) this.#countSource(source, 1);
      if (moved !== undefined) {
        if (inRedis) this.#uncount(moved);
        else this.#countSource(moved, -1); // Redis's counts are rewritten at the re-registration
      }
      return { ok: true };
    };
    if (this.#state !== 'up' || !this.#caps) {
      await this.#ready(room, r);
      return admitted(false); // registered when Redis is back
    }
    const caps = this.#caps;
    let verdict: unknown;
    try {
      verdict = await this.#command(
        this.#main.eval(JOIN, {
          keys: [
            this.#key('room', room),
            this.#key('rooms'),
            this.#key('instances'),
            this.#key('src', keySafe(source ?? '')),
            this.#key('joins', keySafe(source ?? '')),
          ],
          arguments: [
            id,
            encodeEntry(this.instance, addrs),
            this.instance,
            room,
            String(caps.maxPeersPerRoom),
            String(caps.maxRooms),
            String(caps.maxConnectionsPerSource),
            String(caps.joinsPerSecondPerSource),
            String(this.#o.instanceTtlMs),
            this.#roomChannel(room),
            JSON.stringify({
              t: 'j',
              r: room,
              n: id,
              i: this.instance,
              ...(addrs.length ? { a: addrs } : {}),
            }),
            counted ? '1' : '0',
            source === undefined ? '0' : '1',
          ],
        }),
      );
    } catch (e) {
      // Unknown whether it was registered: the next heartbeat registers everything again.
      this.#failed(`join: ${(e as Error).message}`);
      this.#reregister = true;
      await this.#ready(room, r);
      return admitted(false);
    }
    if (verdict === 'ok') {
      await this.#ready(room, r);
      return admitted(true);
    }
    if (before) r.local.set(id, before);
    else this.#dropLocal(room, r, id);
    const code: SignalingErrorCode =
      verdict === 'room-full' ||
      verdict === 'too-many-rooms' ||
      verdict === 'source-full' ||
      verdict === 'rate-limited'
        ? verdict
        : 'server-full';
    return { ok: false, code, message: `refused across instances: ${code}` };
  }

  leave(room: string, id: string, source: string | undefined): void {
    const r = this.#rooms.get(room);
    if (!r?.local.has(id)) return;
    this.#dropLocal(room, r, id);
    if (source !== undefined) this.#countSource(source, -1);
    // A leave Redis did not get is done on recovery (source counts are rewritten then).
    if (this.#state === 'up') this.#unregister(room, id, source);
    else this.#deferLeave(room, id);
  }

  #deferLeave(room: string, id: string): void {
    if (this.#leftWhileDown.size < MAX_DEFERRED_LEAVES) this.#leftWhileDown.add(`${room} ${id}`);
    else this.#drop('leave-not-deferred'); // its entry stays until this instance stops
  }

  /** Removes `id`'s entry from `room` if this instance still owns it, and announces the leave. */
  #unregister(room: string, id: string, source: string | undefined): void {
    this.#command(this.#leaveScript(room, id, source)).catch((e: Error) => {
      this.#failed(`leave: ${e.message}`);
      this.#deferLeave(room, id);
      this.#reregister = true;
    });
  }

  /** The LEAVE script for `id` in `room` (its source's count lowered when `source` is given). */
  #leaveScript(room: string, id: string, source?: string): Promise<unknown> {
    return this.#main.eval(LEAVE, {
      keys: [this.#key('room', room), this.#key('src', keySafe(source ?? ''))],
      arguments: [
        id,
        this.instance,
        this.#roomChannel(room),
        JSON.stringify({ t: 'l', r: room, n: id, i: this.instance }),
        source === undefined ? '0' : '1',
      ],
    });
  }

  route(room: string, from: string, to: string, data: unknown, failed: (why: string) => void): void {
    const peer = this.#rooms.get(room)?.remote.get(to);
    if (!peer) {
      failed(`no peer ${to} in this room`);
      return;
    }
    if (this.#state !== 'up') {
      failed(`peer ${to} is on another instance, unreachable while Redis is down`);
      return;
    }
    let frame: string;
    try {
      frame = JSON.stringify({ t: 's', r: room, f: from, o: to, d: data });
    } catch {
      failed('signal data cannot be forwarded');
      return;
    }
    this.#command(this.#main.publish(this.#instanceChannel(peer.instance), frame)).then(
      (receivers) => {
        if (receivers > 0) this.#counts.routedOut++;
        else {
          this.#drop('route-to-absent-instance');
          failed(`peer ${to}'s instance is gone`);
        }
      },
      () => failed(`peer ${to} is on another instance, unreachable while Redis is down`),
    );
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    clearInterval(this.#timer);
    const wasUp = this.#state === 'up';
    this.#setState('closed');
    if (wasUp) {
      // Leave at once rather than expire: the other instances list our peers no longer.
      const leaves: Array<Promise<unknown>> = [this.#main.zRem(this.#key('instances'), this.instance)];
      for (const [room, r] of this.#rooms)
        for (const id of r.local.keys()) leaves.push(this.#leaveScript(room, id));
      for (const source of this.#sources.keys())
        leaves.push(this.#main.hDel(this.#key('src', keySafe(source)), this.instance));
      await Promise.race([Promise.allSettled(leaves), new Promise((ok) => setTimeout(ok, CLOSE_GRACE_MS))]);
    }
    for (const c of [this.#main, this.#sub]) {
      try {
        c.destroy();
      } catch {
        // never connected
      }
    }
    this.#rooms.clear();
  }

  // ── rooms ─────────────────────────────────────────────────────────────────────────

  #room(name: string): RoomState {
    const r = this.#rooms.get(name);
    if (r) return r;
    const state: RoomState = {
      local: new Map(),
      remote: new Map(),
      left: new Map(),
      reads: 0,
      early: new Map(),
      subscribed: false,
      subscription: undefined,
      ready: undefined,
      listener: (message) => this.#onRoomEvent(name, message),
    };
    this.#rooms.set(name, state);
    return state;
  }

  /** Subscribes to room `name`, once (joins to it share the one subscription). */
  #subscribed(name: string, r: RoomState): Promise<void> {
    r.subscription ??= this.#subscribe(name, r);
    return r.subscription;
  }

  /** Subscribes to room `name` and reads it, once (join() waits for it before it answers). */
  #ready(name: string, r: RoomState): Promise<void> {
    r.ready ??= this.#subscribed(name, r).then(() => this.#read(name, r, false));
    return r.ready;
  }

  async #subscribe(name: string, r: RoomState): Promise<void> {
    if (r.subscribed || !this.#sub.isReady) return;
    try {
      await this.#command(this.#sub.subscribe(this.#roomChannel(name), r.listener));
      r.subscribed = this.#rooms.get(name) === r;
    } catch (e) {
      this.#failed(`subscribe: ${(e as Error).message}`);
    }
  }

  #dropLocal(name: string, r: RoomState, id: string): void {
    r.local.delete(id);
    if (r.local.size > 0 || this.#rooms.get(name) !== r) return;
    this.#rooms.delete(name);
    if (r.subscribed && this.#sub.isReady)
      this.#sub.unsubscribe(this.#roomChannel(name), r.listener).catch(() => {});
  }

  #countSource(source: string | undefined, delta: number): void {
    if (source === undefined) return;
    const n = (this.#sources.get(source) ?? 0) + delta;
    if (n > 0) this.#sources.set(source, n);
    else this.#sources.delete(source);
  }

  /** One connection fewer from `source` here, and in Redis (a miss is rewritten at the next re-registration). */
  #uncount(source: string): void {
    this.#countSource(source, -1);
    this.#main.hIncrBy(this.#key('src', keySafe(source)), this.instance, -1).catch(() => {});
  }

  /**
   * Reads the room's hash and merges it into the mirror: adds what events did not bring
   * (missed while subscribing or reconnecting) and, with `remove`, drops mirrored peers the
   * hash no longer has — except those confirmed by an event since the read began.
   */
  async #read(name: string, r: RoomState, remove: boolean): Promise<void> {
    if (!this.#main.isReady || !this.#caps) return;
    const start = ++this.#seq;
    r.reads++;
    this.#counts.roomReads++;
    try {
      const reply = (await this.#command(
        this.#main.eval(READ, {
          keys: [this.#key('room', name), this.#key('instances')],
          arguments: [String(this.#caps.maxPeersPerRoom)],
        }),
      )) as unknown;
      if (this.#rooms.get(name) !== r) return;
      const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
      const seen = new Set<string>();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [field, value] = [flat[i], flat[i + 1]];
        const p = parseEntry(field, value);
        if (!p.ok) {
          this.#drop(p.reason);
          continue;
        }
        const { id, instance, addrs } = p.value;
        if (instance === this.instance || r.local.has(id)) continue;
        seen.add(id);
        if ((r.left.get(id) ?? -1) > start) continue;
        const known = r.remote.get(id);
        if (known && known.seq > start) continue;
        if (!known && r.remote.size >= this.#caps.maxPeersPerRoom) {
          this.#drop('room-over-cap');
          continue;
        }
        r.remote.set(id, { instance, addrs, seq: start });
        if (!known) {
          this.#sink?.remoteJoined(name, id, addrs);
          this.#releaseEarly(name, r, id);
        }
      }
      if (remove)
        for (const [id, known] of r.remote)
          if (!seen.has(id) && known.seq < start) {
            r.remote.delete(id);
            this.#sink?.remoteLeft(name, id);
          }
    } catch (e) {
      this.#failed(`read room: ${(e as Error).message}`);
    } finally {
      if (--r.reads === 0) r.left.clear();
    }
  }

  #onRoomEvent(name: string, message: string): void {
    const r = this.#rooms.get(name);
    if (!r || !this.#caps) return;
    const p = parseRoomEvent(message, name);
    if (!p.ok) {
      this.#drop(p.reason);
      return;
    }
    const e = p.value;
    if (e.i === this.instance) return;
    const seq = ++this.#seq;
    if (e.t === 'l') {
      if (r.reads > 0) r.left.set(e.n, seq);
      if (r.remote.get(e.n)?.instance !== e.i) return;
      r.remote.delete(e.n);
      this.#sink?.remoteLeft(name, e.n);
      return;
    }
    r.left.delete(e.n);
    const local = r.local.get(e.n);
    if (local) {
      // The node joined again elsewhere: that connection is the newer one.
      if (local.source !== undefined) this.#uncount(local.source);
      r.remote.set(e.n, { instance: e.i, addrs: e.a, seq });
      r.local.delete(e.n);
      this.#sink?.replaced(name, e.n);
      if (r.local.size === 0) this.#dropLocal(name, r, e.n);
      return;
    }
    const known = r.remote.get(e.n);
    if (!known && r.remote.size >= this.#caps.maxPeersPerRoom) {
      this.#drop('room-over-cap');
      return;
    }
    r.remote.set(e.n, { instance: e.i, addrs: e.a, seq });
    if (!known) {
      this.#sink?.remoteJoined(name, e.n, e.a);
      this.#releaseEarly(name, r, e.n);
    }
  }

  #onInstanceFrame(message: string): void {
    if (!this.#caps) return;
    const p = parseInstanceFrame(message, this.#caps.maxMessageBytes + 512);
    if (!p.ok) {
      this.#drop(p.reason);
      return;
    }
    const f = p.value;
    if (f.t === 'p') return; // our probe: its delivery was counted by PUBLISH
    const r = this.#rooms.get(f.r);
    if (!r?.local.has(f.o)) this.#drop('to-unknown-peer');
    else if (!r.remote.has(f.f)) this.#holdEarly(r, f.f, f.o, f.d);
    else {
      this.#counts.routedIn++;
      this.#sink?.deliver(f.r, f.f, f.o, f.d);
    }
  }

  /** A signal whose sender's join has not reached this instance yet: held, bounded in count and age. */
  #holdEarly(r: RoomState, from: string, to: string, data: unknown): void {
    let held = 0;
    for (const list of r.early.values()) held += list.length;
    if (held >= EARLY_SIGNALS_PER_ROOM) {
      this.#drop('from-unknown-peer');
      return;
    }
    const list = r.early.get(from) ?? [];
    list.push({ to, data, at: performance.now() });
    r.early.set(from, list);
  }

  /** At each heartbeat: held signals older than a heartbeat are dropped (their sender never joined here). */
  #expireEarly(): void {
    const before = performance.now() - this.#o.heartbeatMs;
    for (const r of this.#rooms.values())
      for (const [sender, list] of r.early) {
        const fresh = list.filter((e) => e.at > before);
        for (let k = fresh.length; k < list.length; k++) this.#drop('from-unknown-peer');
        if (fresh.length === 0) r.early.delete(sender);
        else r.early.set(sender, fresh);
      }
  }

  /** `id` is mirrored now: the signals it sent ahead of its join are delivered. */
  #releaseEarly(name: string, r: RoomState, id: string): void {
    const list = r.early.get(id);
    if (!list) return;
    r.early.delete(id);
    for (const e of list) {
      if (!r.local.has(e.to)) {
        this.#drop('from-unknown-peer');
        continue;
      }
      this.#counts.routedIn++;
      this.#sink?.deliver(name, id, e.to, e.data);
    }
  }

  // ── liveness, outages ──────────────────────────────────────────────────────────────

  async #heartbeat(): Promise<void> {
    this.#expireEarly();
    if (this.#state === 'closed' || this.#recovering || !this.#main.isReady) return;
    if (this.#state !== 'up') {
      await this.#recover();
      return;
    }
    try {
      const wasLive = await this.#renew();
      if (!wasLive || this.#reregister) {
        // Our registration vanished (Redis lost its data, or we stalled past our deadline).
        this.#log(`Redis: registration of instance ${this.instance} was missing; registering again`);
        await this.#register();
      }
      const receivers = await this.#command(
        this.#main.publish(
          this.#instanceChannel(this.instance),
          JSON.stringify({ t: 'p', n: String(this.#seq) }),
        ),
      );
      if (receivers === 0) {
        this.#log('Redis: this instance\u2019s subscriptions were not restored; subscribing again');
        await this.#resubscribe();
        return;
      }
      this.#reap();
      if (performance.now() >= this.#nextReconcile) {
        this.#nextReconcile = performance.now() + this.#o.reconcileMs;
        const remove = performance.now() >= this.#graceUntil;
        await Promise.all([...this.#rooms].map(([name, r]) => this.#read(name, r, remove)));
      }
    } catch (e) {
      this.#failed(`heartbeat: ${(e as Error).message}`);
    }
  }

  /** Renews this instance, its rooms and sources; learns the live instances. Returns whether it was still alive. */
  async #renew(): Promise<boolean> {
    const rooms = [...this.#rooms.keys()];
    const reply = (await this.#command(
      this.#main.eval(HEARTBEAT, {
        keys: [this.#key('instances'), this.#key('rooms')],
        arguments: [
          this.instance,
          String(this.#o.instanceTtlMs),
          this.#o.prefix,
          String(rooms.length),
          ...rooms,
          ...[...this.#sources.keys()].map(keySafe),
        ],
      }),
    )) as unknown;
    if (!Array.isArray(reply) || !Array.isArray(reply[1])) {
      this.#drop('bad-heartbeat-reply');
      return true;
    }
    this.#live = new Set(
      (reply[1] as unknown[]).filter((i): i is string => typeof i === 'string' && INSTANCE_ID.test(i)),
    );
    return reply[0] === 1;
  }

  /** Registers every local peer again and announces it (after Redis lost them, or may have). */
  async #register(): Promise<void> {
    this.#reregister = false;
    const ops: Array<Promise<unknown>> = [];
    for (const entry of this.#leftWhileDown) {
      const [room = '', id = ''] = entry.split(' ');
      this.#leftWhileDown.delete(entry);
      if (this.#rooms.get(room)?.local.has(id)) continue; // back again
      ops.push(this.#leaveScript(room, id));
    }
    for (const [room, r] of this.#rooms) {
      if (r.local.size === 0) continue;
      const key = this.#key('room', room);
      for (const [id, { addrs }] of r.local) {
        ops.push(this.#main.hSet(key, id, encodeEntry(this.instance, addrs)));
        ops.push(
          this.#main.publish(
            this.#roomChannel(room),
            JSON.stringify({
              t: 'j',
              r: room,
              n: id,
              i: this.instance,
              ...(addrs.length ? { a: addrs } : {}),
            }),
          ),
        );
      }
      ops.push(this.#main.pExpire(key, this.#o.instanceTtlMs));
    }
    for (const [source, n] of this.#sources) {
      const key = this.#key('src', keySafe(source));
      ops.push(this.#main.hSet(key, this.instance, String(n)));
      ops.push(this.#main.pExpire(key, this.#o.instanceTtlMs));
    }
    await this.#command(Promise.all(ops));
    await this.#renew();
  }

  async #resubscribe(): Promise<void> {
    await this.#command(this.#sub.subscribe(this.#instanceChannel(this.instance), this.#onInstance));
    for (const [name, r] of this.#rooms) {
      r.subscribed = false;
      await this.#subscribe(name, r);
    }
  }

  /** Both connections are (back) up: renew, re-subscribe, re-register, re-read. */
  async #recover(): Promise<void> {
    if (this.#recovering || this.#state === 'closed' || !this.#main.isReady || !this.#sub.isReady) return;
    this.#recovering = true;
    const downSince = this.#since;
    const drops = this.#drops;
    try {
      this.#graceUntil = performance.now() + this.#o.instanceTtlMs;
      await this.#resubscribe();
      await this.#renew();
      await this.#register();
      await Promise.all([...this.#rooms].map(([name, r]) => this.#read(name, r, false)));
      this.#nextReconcile = this.#graceUntil;
      const peers = [...this.#rooms.values()].reduce((n, r) => n + r.local.size, 0);
      // A connection that dropped meanwhile: not up; the next heartbeat recovers again.
      if (this.#drops !== drops || !this.#main.isReady || !this.#sub.isReady) return;
      const was = this.#state;
      this.#setState('up');
      if (was === 'down')
        this.#log(
          `Redis: connection restored after ${Date.now() - downSince} ms; re-registered ${peers} peer(s) in ${this.#rooms.size} room(s)`,
        );
      else this.#log(`Redis: connected as instance ${this.instance}`);
    } catch (e) {
      this.#failed(`recovery: ${(e as Error).message}`);
    } finally {
      this.#recovering = false;
    }
  }

  /** Drops mirrored peers of instances whose deadline passed. */
  #reap(): void {
    if (performance.now() < this.#graceUntil || this.#live.size === 0) return;
    for (const [name, r] of this.#rooms) {
      const dead = new Map<string, string[]>();
      for (const [id, peer] of r.remote) {
        if (this.#live.has(peer.instance)) continue;
        r.remote.delete(id);
        this.#sink?.remoteLeft(name, id);
        dead.set(peer.instance, [...(dead.get(peer.instance) ?? []), id]);
      }
      for (const [instance, ids] of dead)
        this.#main
          .eval(REAP, { keys: [this.#key('room', name)], arguments: [instance, ...ids] })
          .catch(() => {});
    }
  }

  #down(why: string): void {
    this.#drops++;
    if (this.#state === 'closed' || this.#state === 'down') return;
    const was = this.#state;
    this.#setState('down');
    if (was === 'up') {
      this.#outages++;
      this.#log(`Redis: ${why}; signaling continues on this instance alone, reconnecting`);
    }
  }

  #failed(message: string): void {
    this.#lastError = message.slice(0, 300);
  }

  #setState(state: BackplaneHealth['state']): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#since = Date.now();
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  #drop(reason: string): void {
    this.#counts.dropped[reason] = (this.#counts.dropped[reason] ?? 0) + 1;
  }

  /** A command that fails when not answered within commandTimeoutMs. */
  #command<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error('Redis command timed out')), this.#o.commandTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #key(...parts: string[]): string {
    return [this.#o.prefix, ...parts].join(':');
  }

  #roomChannel(room: string): string {
    return this.#key('r', room);
  }

  #instanceChannel(instance: string): string {
    return this.#key('i', instance);
  }
}
