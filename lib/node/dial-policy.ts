/**
 * When a node may dial an address. Addresses come from claims, and any key can sign a
 * claim advertising any address — a third party's included — so dials are budgeted per
 * endpoint (host and port; path, query, case and default port do not make a new one):
 * one at a time, exponential backoff with jitter after each failure, and after
 * `maxFailures` failures in a row an endpoint taken from claims is given up until a fresher
 * claim of a member that advertised it names it again, or `cooldownMs` passed. A dial that
 * completes its handshake clears the endpoint's record. An endpoint that answers as another
 * node than the claim named (its signature verified) is no failure of the endpoint — a member
 * can advertise an honest node's address — so the node that answered keeps being dialled
 * there for its own claims, and other claims naming the endpoint wait `backoffMaxMs`: one
 * such dial per endpoint per wait, however many members advertise it.
 */
import type { Random } from '../time/types.ts';
import { setBounded } from '../util/bounded-map.ts';

export interface DialPolicy {
  /** First wait after a failed dial; it doubles with each failure in a row (×0.5–1.5 jitter). Default 1,000 ms. */
  backoffBaseMs: number;
  /** Longest wait between two dials of one endpoint (before jitter). Default 60,000 ms. */
  backoffMaxMs: number;
  /**
   * After this many failed dials in a row (refused, timed out, or no handshake), an endpoint
   * taken from claims is given up: not dialled for `cooldownMs`, unless a member that
   * advertised it does so again in a claim with a higher incarnation (a restart), which
   * allows one more attempt no sooner than `backoffMaxMs` after the last. Seeds and explicit
   * `connect()` calls are never given up. Default 5.
   */
  maxFailures: number;
  /** How long a given-up endpoint stays given up; then it gets one attempt. Default 600,000 ms. */
  cooldownMs: number;
  /**
   * Dials a minute of addresses taken from claims that reach a host (ws://, wss://; not
   * node-named ones such as `webrtc:<id>`) at endpoints no handshake completed with here; as
   * many at once, or maxLinks if that is more (a full mesh dials every member as it forms). A
   * member can advertise any address, and a wildcard DNS name gives one host endless
   * endpoints, each with its own backoff: this bounds the connection attempts a cluster can
   * be steered to send a third party, per node. Default 60.
   */
  newEndpointsPerMinute: number;
}

export const DEFAULT_DIAL_POLICY: Readonly<DialPolicy> = Object.freeze({
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  maxFailures: 5,
  cooldownMs: 600_000,
  newEndpointsPerMinute: 60,
});

/** Endpoints remembered (bounded; the least recently failed is forgotten first). */
const ENDPOINT_LIMIT = 4096;
/** Advertisers remembered per endpoint (for "advertised anew"). */
const ADVERTISER_LIMIT = 4;

/** The member whose claim named an address: who and at which incarnation. */
export interface Advert {
  nodeId: string;
  incarnation: number;
}

interface Record {
  failures: number;
  lastFailure: number;
  /** Backoff drawn at the last failure. */
  wait: number;
  /** Highest incarnation of each member whose advertised address failed here. */
  advertisers: Map<string, number>;
  /** A fresher claim allowed one more attempt (consumed by the next dial). */
  reprieve: boolean;
}

/**
 * What is dialled: `host:port` for ws:// and wss:// URLs (ports default per scheme, so both
 * schemes at one port are one endpoint), the address itself otherwise.
 */
export function endpointOf(address: string): string {
  if (!/^wss?:\/\//i.test(address)) return address;
  try {
    const u = new URL(address);
    return `${u.hostname}:${u.port || (u.protocol === 'wss:' ? '443' : '80')}`;
  } catch {
    return address;
  }
}

/** Failure records per endpoint, and the decision whether to dial now. */
export class DialBackoff {
  readonly #policy: DialPolicy;
  readonly #random: Random;
  readonly #records = new Map<string, Record>();
  /** Per endpoint: the node that answered there when another was expected, and when (see misdirected). Oldest first. */
  readonly #misdirected = new Map<string, { owner: string; at: number }>();
  /**
   * Endpoints a handshake completed with since their last failed or misdirected dial (oldest
   * first): dials to them spend no new-endpoint budget. A name can point elsewhere later
   * (DNS), so each completed handshake buys at most one free dial that reaches nobody or
   * somebody else.
   */
  readonly #proven = new Map<string, true>();
  /** Dials to new endpoints still allowed now (newEndpointsPerMinute, up to `burst`), as of `at`. */
  readonly #budget: { tokens: number; at: number; burst: number };

  /** `maxLinks`: the node's link cap (the new-endpoint budget allows at least that many at once). */
  constructor(policy: DialPolicy, random: Random, maxLinks = 0) {
    this.#policy = policy;
    this.#random = random;
    const burst = Math.max(policy.newEndpointsPerMinute, maxLinks);
    this.#budget = { tokens: burst, at: Number.NEGATIVE_INFINITY, burst };
  }

  /**
   * Whether `endpoint` may be dialled at `now`. `advert` is set for addresses taken from a
   * claim: only those are ever given up, and those that reach a host (not `named`: the node
   * an address such as `webrtc:<id>` names) at an endpoint no handshake completed with spend
   * the new-endpoint budget. Consumes a fresher claim's reprieve.
   */
  allows(endpoint: string, now: number, advert?: Advert, named?: string): boolean {
    const budgeted = advert !== undefined && named === undefined && !this.#proven.has(endpoint);
    if (budgeted && this.#refill(now) < 1) return false;
    if (!this.#recordAllows(endpoint, now, advert, named)) return false;
    if (budgeted) this.#budget.tokens--;
    return true;
  }

  /** The new-endpoint budget refilled to `now`: the dials it allows. */
  #refill(now: number): number {
    const b = this.#budget;
    if (now > b.at) {
      b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 60_000) * this.#policy.newEndpointsPerMinute);
      b.at = now;
    }
    return b.tokens;
  }

  #recordAllows(
    endpoint: string,
    now: number,
    advert: Advert | undefined,
    named: string | undefined,
  ): boolean {
    const wrong = advert && this.#misdirected.get(endpoint);
    // An address that names a node (webrtc:<id>) is never closed to that node's own claims.
    const own = advert?.nodeId === wrong?.owner || advert?.nodeId === named;
    if (wrong && !own && now < wrong.at + this.#policy.backoffMaxMs) return false;
    const r = this.#records.get(endpoint);
    if (!r) return true;
    const p = this.#policy;
    if (r.failures < p.maxFailures || advert === undefined) return now >= r.lastFailure + r.wait;
    if (now >= r.lastFailure + p.cooldownMs) return true;
    const known = r.advertisers.get(advert.nodeId);
    if (known !== undefined && advert.incarnation > known) {
      r.advertisers.set(advert.nodeId, advert.incarnation);
      r.reprieve = true;
    }
    if (!r.reprieve || now < r.lastFailure + p.backoffMaxMs) return false;
    r.reprieve = false;
    return true;
  }

  succeeded(endpoint: string): void {
    this.#records.delete(endpoint);
    setBounded(this.#proven, endpoint, true, ENDPOINT_LIMIT);
  }

  /**
   * A dial of `endpoint` reached `owner` (verified), not the node the claim named: no failure
   * of the endpoint, so its failure record is left as it was; but no proof either, and an
   * earlier one ends (a name proven once must not take dials that reach another node
   * outside the budget). Claims of other nodes naming it wait backoffMaxMs (see allows).
   */
  misdirected(endpoint: string, now: number, owner: string): void {
    this.#proven.delete(endpoint);
    setBounded(this.#misdirected, endpoint, { owner, at: now }, ENDPOINT_LIMIT);
  }

  failed(endpoint: string, now: number, advert?: Advert): void {
    this.#proven.delete(endpoint);
    const r = this.#records.get(endpoint) ?? {
      failures: 0,
      lastFailure: now,
      wait: 0,
      advertisers: new Map<string, number>(),
      reprieve: false,
    };
    const p = this.#policy;
    r.failures++;
    r.lastFailure = now;
    r.wait = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** Math.min(30, r.failures - 1));
    r.wait *= 0.5 + this.#random.next();
    if (advert) {
      const known = r.advertisers.get(advert.nodeId) ?? -1;
      setBounded(r.advertisers, advert.nodeId, Math.max(known, advert.incarnation), ADVERTISER_LIMIT);
    }
    setBounded(this.#records, endpoint, r, ENDPOINT_LIMIT);
  }
}
