/**
 * The node's link-maintenance policy, beside the link manager that carries it out: once a
 * second or so (jittered) it keeps enough links, retries seeds while joining or cut off,
 * checks members nobody links to, lets expired members go, and now and then re-contacts lost
 * members (Serf-style reconnect). It also redials a link that closed without a goodbye and
 * says when the node is stranded in Joining.
 */
import type { Admission } from '../identity/admission.ts';
import { NodeState } from '../membership/node-state.ts';
import type { Membership } from '../membership/swim.ts';
import type { Env, TimerId } from '../time/types.ts';
import { HandshakeError } from '../transport/handshake.ts';
import { setBounded } from '../util/bounded-map.ts';
import { endpointOf } from './dial-policy.ts';
import type { DialTarget, LinkManager } from './link-manager.ts';

const MAINTAIN_INTERVAL_MS = 1_000;
/** A node that joins by itself starts the cluster alone when it heard nobody within this. */
const NEARBY_WAIT_MS = 250;
/** Nearby nodes remembered to dial (a tab heard on the BroadcastChannel that is no member yet). */
const NEARBY_LIMIT = 256;
/**
 * A joining node dials one node it found nearby (the first that answered); one answered
 * exchange makes it Active. It dials a second if it still has no link JOIN_SECOND_DIAL_MS
 * after its first nearby dial (the first may be a frozen tab).
 */
const JOIN_SECOND_DIAL_MS = 250;
/**
 * Once joined, a node links at once to up to MERGE_DIALS nearby nodes its join did not make
 * members, and to the other nearby nodes MORE_LINKS_AFTER_JOIN_MS later. Every dial is a
 * handshake both tabs sign and verify, and 8 tabs of one browser started at once on 2 cores are
 * short of CPU: a tab that dialled all seven others at once spent its start on seven
 * handshakes. Tabs started together can also join through each other in separate groups
 * (A with B, C with D); the merge dials join them. 8 Chromium tabs at once, all see all
 * Active after the last start (20 runs, p50 / max): every link at once 319 / 374 ms; two join
 * dials and the rest 400 ms later 282 / 334; one join dial 253 / 410 and up to 581 ms when
 * groups waited for those links to merge; with the merge dial 270 / 338.
 */
const MORE_LINKS_AFTER_JOIN_MS = 400;
const MERGE_DIALS = 1;
/**
 * Nearby nodes dialled at once by a node left with no link (cutOff): 32 tabs at once in the
 * simulator, the last few joined through tabs at maxLinks, which let them go after the join
 * exchange, and sat alone until the dials MORE_LINKS_AFTER_JOIN_MS after joining.
 */
const LASTING_AT_JOIN = 2;
/**
 * Errors of a runtime refusing a dial outright (Deno without --allow-net: NotCapable, or
 * PermissionDenied before Deno 2; a browser's mixed-content or CSP rule: SecurityError).
 * Every retry fails the same way, so each address's first refusal is reported as an error.
 */
const REFUSED_BY_RUNTIME = new Set(['NotCapable', 'PermissionDenied', 'SecurityError']);

/** Why the node is still Joining (MeshEvents.stranded). */
export interface Stranded {
  waitedMs: number;
  reason: string;
  seeds: Array<{ address: string; error: string }>;
}

export interface MaintenanceOptions {
  env: Env;
  links: LinkManager;
  admission: Admission;
  /** Still Joining this long after start: `stranded` (default 10,000 ms). */
  strandedAfterMs: number;
  /**
   * Given no transport, the node joins by itself (zero configuration): through the nodes its
   * transports find nearby, or alone when none answers within NEARBY_WAIT_MS.
   */
  joinsByItself?: boolean;
  frozen(): boolean;
  stranded(report: Stranded): void;
  failed(error: unknown, context: string): void;
}

export class LinkMaintenance {
  readonly #o: MaintenanceOptions;
  #core: Membership | undefined;
  #seeds: string[] = [];
  /** Why each seed's last dial failed (keys: current seeds only). */
  readonly #seedFailures = new Map<string, string>();
  /** Addresses whose dial the runtime refused, reported once each (REFUSED_BY_RUNTIME). */
  readonly #refused = new Set<string>();
  #startedAt = 0;
  /** When this node first dialled a nearby node to join (undefined: not yet). */
  #firstJoinDialAt: number | undefined;
  #strandedReported = false;
  #lastHeal: number;
  #timer: TimerId | undefined;
  /** Nodes transports found nearby that are neither linked nor reachable members: node id → address. */
  readonly #nearby = new Map<string, string>();

  constructor(opts: MaintenanceOptions) {
    this.#o = opts;
    this.#lastHeal = opts.env.clock.now();
  }

  start(core: Membership): void {
    this.#core = core;
    this.#startedAt = this.#o.env.clock.now();
    this.#schedule();
    if (this.#o.joinsByItself)
      this.#o.env.scheduler.setTimer(NEARBY_WAIT_MS, () => {
        if (this.#core === core) this.#startAloneIfNobodyAnswered(core);
      });
  }

  stop(): void {
    if (this.#timer !== undefined) this.#o.env.scheduler.cancelTimer(this.#timer);
    this.#timer = undefined;
    this.#core = undefined;
  }

  /** Seeds to join through, and to return to when cut off. */
  setSeeds(seeds: readonly string[]): void {
    this.#seeds = [...seeds];
    this.#seedFailures.clear();
  }

  dialFailed(address: string, error: Error): void {
    if (REFUSED_BY_RUNTIME.has(error.name) && !this.#refused.has(address)) {
      if (this.#refused.size >= 256) this.#refused.clear();
      this.#refused.add(address);
      this.#o.failed(error, `dialling ${address}: refused by the runtime`);
    }
    // The address answered as another node: the claim that named it lied or is stale, the
    // endpoint did nothing wrong (it may be an honest node's, advertised by a hostile member).
    const member =
      error instanceof HandshakeError && error.code === 'unexpected-peer'
        ? this.#o.links.dialEnded(address, 'misdirected', error.peer)
        : this.#o.links.dialEnded(address, 'failed');
    if (member !== undefined) this.#core?.checkDialFailed(member);
    // A tab that does not answer where it was heard (it closed before this node linked to
    // it) gets checked at once, not only by the ghost check a minute later.
    const nearby = this.#o.links.nearbyNodeOf(address);
    if (nearby !== undefined) this.#core?.checkUnlinked(nearby);
    if (this.#seeds.includes(address)) this.#seedFailures.set(address, error.message);
    if (this.#core?.selfState === NodeState.Joining) this.#joinThroughNearby(this.#core);
  }

  /**
   * This node has joined. Nearby nodes its join did not make members (another group of tabs
   * that formed at the same time, or tabs still joining) it links to at once, up to
   * MERGE_DIALS, so groups merge; the others MORE_LINKS_AFTER_JOIN_MS later, up to minLinks.
   */
  joined(): void {
    const core = this.#core;
    if (!core || this.#o.frozen()) return;
    this.#linkNearby(MERGE_DIALS, (id) => !core.isReachable(id));
    this.#o.env.scheduler.setTimer(MORE_LINKS_AFTER_JOIN_MS, () => {
      if (this.#core === core && !this.#o.frozen()) this.#linkNearby(Number.POSITIVE_INFINITY, () => true);
    });
  }

  /** Dials up to `max` remembered nearby nodes that pass `which`, while the node wants more links. */
  #linkNearby(max: number, which: (nodeId: string) => boolean): void {
    const { links } = this.#o;
    let dialled = 0;
    for (const [id, address] of [...this.#nearby]) {
      if (dialled >= max || !links.wantsMore()) return;
      if (!which(id)) continue;
      this.#nearby.delete(id);
      if (!links.get(id) && links.dial(address, id, true)) dialled++;
    }
  }

  /**
   * The node's last link went down. Nodes found nearby are dialled at once (up to
   * LASTING_AT_JOIN) rather than at the next round: a tab that joined through a tab at
   * maxLinks is let go by it right after the join exchange.
   */
  cutOff(): void {
    const core = this.#core;
    if (core && !this.#o.frozen() && core.selfState === NodeState.Active)
      this.#linkNearby(LASTING_AT_JOIN, () => true);
  }

  /**
   * A transport found `nodeId` on its own (a tab on the BroadcastChannel). A joining node joins
   * through it at once, as through a seed; otherwise a node that is not a reachable member yet
   * (another cluster of the same origin) is dialled at the next maintenance round, one a round.
   */
  nearby(nodeId: string, address: string): void {
    const core = this.#core;
    const { links } = this.#o;
    if (!core || this.#o.frozen()) return;
    // Linked or being dialled over the network (the signaling room listed it before it was
    // heard here): dial it here too; a BroadcastChannel link wins over any other kind, so the
    // pair ends on the channel instead of keeping a peer connection within the browser.
    if (links.elsewhere(nodeId, address)) {
      links.dial(address, undefined, true);
      return;
    }
    if (links.get(nodeId) || core.isReachable(nodeId)) return;
    setBounded(this.#nearby, nodeId, address, NEARBY_LIMIT);
    if (core.selfState === NodeState.Joining) this.#joinThroughNearby(core);
  }

  /**
   * Joining: keeps one dial or link to a nearby node, the first heard first, and two once
   * JOIN_SECOND_DIAL_MS have passed since the first dial with no link up.
   */
  #joinThroughNearby(core: Membership): void {
    const { links, env } = this.#o;
    if (this.#nearby.size === 0) return;
    const now = env.clock.now();
    if (this.#firstJoinDialAt === undefined) {
      this.#firstJoinDialAt = now;
      env.scheduler.setTimer(JOIN_SECOND_DIAL_MS, () => {
        if (this.#core === core && core.selfState === NodeState.Joining && !this.#o.frozen())
          this.#joinThroughNearby(core);
      });
    }
    const dials = now - this.#firstJoinDialAt >= JOIN_SECOND_DIAL_MS && links.size === 0 ? 2 : 1;
    for (const [id, address] of [...this.#nearby]) {
      if (links.size + links.pendingDials >= dials || !links.wantsMore()) return;
      this.#nearby.delete(id);
      if (!links.get(id) && !core.isReachable(id)) links.dial(address, id, true);
    }
  }

  /**
   * A link closed without a goodbye: dial the member again at once. If it is alive (the
   * goodbye was lost, the connection failed) the link is back before the lost-link check
   * ends, so it is not suspected; if it crashed, the dial fails and changes nothing.
   */
  redial(nodeId: string): void {
    if (!this.#core || this.#o.frozen()) return;
    const target = this.#core.addressOf(nodeId, NodeState.Active);
    if (target) this.#o.links.dialMember(target);
  }

  #schedule(): void {
    const { env } = this.#o;
    const delay = MAINTAIN_INTERVAL_MS * (0.5 + env.random.next());
    // Any time in the jitter's range will do: in a real runtime the round then runs in a
    // wake-up the node has anyway (a probe round, once a second), not in one of its own.
    this.#timer = env.scheduler.setTimer(
      delay,
      () => {
        this.#timer = undefined;
        if (!this.#core) return;
        if (!this.#o.frozen()) this.#maintain(this.#core);
        this.#schedule();
      },
      { earliestMs: MAINTAIN_INTERVAL_MS * 0.5, latestMs: MAINTAIN_INTERVAL_MS * 1.5 },
    );
  }

  #maintain(core: Membership): void {
    const { links } = this.#o;
    if (core.selfState === NodeState.Left) return;
    if (links.wantsMore()) links.fill(core.addressesIn(NodeState.Active));
    else this.#leaveClosedPart(core);
    links.checkIdle();
    this.#checkReachability(core);
    this.#checkStranded(core);
    if (this.#o.admission.policy.mode === 'token') this.#enforceExpiry(core);
    // Joining or cut off: keep trying the seeds without backing off.
    const stranded = core.selfState === NodeState.Joining || links.size === 0;
    if (stranded) for (const s of this.#seeds) links.dial(s, undefined, true);
    this.#dialNearby(core);
    if (this.#o.joinsByItself) this.#startAloneIfNobodyAnswered(core);
    const now = this.#o.env.clock.now();
    if (now - this.#lastHeal >= core.config.reconnectIntervalMs) {
      this.#lastHeal = now;
      this.#heal(core);
    }
  }

  /**
   * This node's neighbours report links to nobody but one another and this node, each at
   * least its minLinks: together they are a part of the mesh cut off from the rest, and none
   * dials. (Neighbours still short of links will dial: the star that nodes joining at once
   * form around a seed for a moment is no such part.) An eviction elsewhere leaves such parts
   * (the seed sweep's seed 93,602: a full node evicted the one link from three nodes linked
   * among themselves to the other seven, and a broadcast never reached them). It dials an
   * Active member outside, one dial at a time. In a mesh that is whole some neighbour links
   * further, so this costs a look at the neighbours' reports a round; larger parts cut off
   * are left to the ghost check (Membership.memberToCheck). Reports are a neighbour's word: a
   * liar can buy one dial a round.
   */
  #leaveClosedPart(core: Membership): void {
    const { links, env } = this.#o;
    const peers = links.peers();
    if (peers.length === 0 || links.pendingDials > 0) return;
    const part = new Set([core.selfId, ...peers]);
    for (const peer of peers) {
      const theirs = core.neighboursOf(peer);
      if (theirs === undefined || theirs.size < links.minLinks) return;
      for (const id of theirs) if (!part.has(id)) return;
    }
    const outside = core.addressesIn(NodeState.Active).filter((m) => !part.has(m.nodeId));
    if (outside.length > 0) links.dialMember(outside[env.random.int(outside.length)]!);
  }

  /** Dials one remembered nearby node that is still neither linked nor a reachable member. */
  #dialNearby(core: Membership): void {
    const { links } = this.#o;
    for (const [id, address] of this.#nearby) {
      this.#nearby.delete(id);
      if (links.get(id) || core.isReachable(id)) continue;
      if (links.dial(address, id)) return;
    }
  }

  /** Joining by itself with no link, no dial in flight and nobody heard: starts the cluster. */
  #startAloneIfNobodyAnswered(core: Membership): void {
    const { links } = this.#o;
    if (core.selfState === NodeState.Joining && links.size === 0 && links.pendingDials === 0)
      core.bootstrap();
  }

  /**
   * Dials a member nobody seems to link to (Membership.memberToCheck): a completed handshake
   * vouches for it, silence gets it suspected. A member whose addresses only another kind of
   * node can dial (a browser's `webrtc:` address seen from a WebSocket-only process) is left
   * to those nodes; one that advertises nothing any transport knows is left to its check.
   */
  #checkReachability(core: Membership): void {
    const check = core.memberToCheck();
    if (!check) return;
    if (!this.#o.links.canDialAny(check.addrs) && check.addrs.some(isKnownAddress)) core.vouch(check.nodeId);
    else this.#o.links.dialMember(check);
  }

  /** Still Joining strandedAfterMs after start(): says so, once, and why. */
  #checkStranded(core: Membership): void {
    if (this.#strandedReported || core.selfState !== NodeState.Joining) return;
    const waitedMs = this.#o.env.clock.now() - this.#startedAt;
    if (waitedMs < this.#o.strandedAfterMs) return;
    this.#strandedReported = true;
    const { links } = this.#o;
    const seeds = this.#seeds.map((address) => ({
      address,
      error:
        this.#seedFailures.get(address) ??
        (links.canDialAny([address]) ? 'no answer yet' : 'no transport of this node dials it'),
    }));
    const shown = seeds.slice(0, 4).map((s) => `${s.address} (${s.error})`);
    if (seeds.length > 4) shown.push(`${seeds.length - 4} more`);
    const reason =
      links.size > 0
        ? `linked to ${links.size} node(s), but no join exchange has completed`
        : seeds.length === 0
          ? 'no seeds to join through (join() was not called with any yet) and no node has linked to this one'
          : `no seed answered: ${shown.join(', ')}`;
    this.#o.stranded({ waitedMs, reason, seeds });
  }

  /**
   * Token clusters: a member whose token expired is let go at once — links closed, removed
   * from membership (and so from the ring and queries), its state entries dropped; the
   * boundary refuses its claims, messages and entries from then on (Admission.check).
   */
  #enforceExpiry(core: Membership): void {
    const { links, admission } = this.#o;
    for (const id of links.peers()) {
      const link = links.get(id);
      if (link && admission.expired(link.peer.publicKey)) links.close(id, 'membership token expired');
    }
    for (const m of core.members()) {
      if (m.nodeId !== core.selfId && admission.expired(m.publicKey)) core.expel(m.nodeId);
    }
  }

  /**
   * Serf-style reconnect: dial one random Unreachable or recently reaped member (it may be
   * alive on the other side of a healed partition), and rarely a seed that is not linked.
   */
  #heal(core: Membership): void {
    const { env, links } = this.#o;
    const lost: DialTarget[] = [...core.recentlyReaped(), ...core.addressesIn(NodeState.Unreachable)];
    if (lost.length > 0) links.dialMember(lost[env.random.int(lost.length)]!);
    // About one node of the cluster per interval contacts a seed, unless it is linked to it
    // already: a seed is dialled by address, with no node id to tell it is linked, and a
    // second link to a neighbour would replace the one in use.
    if (this.#seeds.length > 0 && env.random.next() < 1 / Math.max(1, core.size)) {
      const seed = this.#seeds[env.random.int(this.#seeds.length)]!;
      if (!this.#linkedAt(core, seed)) links.dial(seed);
    }
  }

  /** Whether a linked member advertises `address` (same endpoint) in its alive claim. */
  #linkedAt(core: Membership, address: string): boolean {
    const endpoint = endpointOf(address);
    return this.#o.links
      .peers()
      .some((id) => core.member(id)?.addrs.some((a) => endpointOf(a) === endpoint) === true);
  }
}

/** Address schemes some weftmesh transport can dial (sim memory, WebSocket, WebRTC). */
function isKnownAddress(address: string): boolean {
  return /^(mem:|wss?:\/\/|webrtc:)/.test(address);
}
