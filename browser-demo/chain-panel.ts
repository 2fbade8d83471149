/**
 * The chains card: this tab's own signed chain (append one entry, or 500 at once), every
 * demo chain of the cluster followed by every tab (watch the replicas catch up), and a fork
 * on demand — the author writes two histories, as an author restoring an old backup would —
 * which the replicas prove and every tab then shows.
 */
import { ChainLog } from '../lib/chain/chain-log.ts';
import { chainIdOf, isChainId } from '../lib/chain/entry.ts';
import { IndexedDbChainStorage } from '../lib/chain/idb-storage.ts';
import { pullChain } from '../lib/chain/pull.ts';
import { type ChainStorage, MemoryChainStorage } from '../lib/chain/storage.ts';
import type { NodeIdentity } from '../lib/identity/mod.ts';
import type { MeshNode } from '../lib/mod.ts';
import { fromHex, toHex } from '../lib/util/bytes.ts';
import { byId, el, fill, short } from './dom.ts';
import type { EventLog } from './event-log.ts';

/** Every tab's own chain has this name; with its key it makes the chain id. */
const NAME = 'demo';
/** The service an author advertises its chain under: { chain, author } in the metadata. */
const AD = 'demo-chain';
const MANY = 500;

export class ChainPanel {
  readonly #node: MeshNode;
  readonly #identity: NodeIdentity;
  readonly #log: EventLog;
  readonly #storage: ChainStorage;
  readonly #following = new Set<string>();
  /** This tab's chain once it has one (after a fork: the second history). */
  #own: ChainLog | undefined;
  #busy = false;

  private constructor(node: MeshNode, identity: NodeIdentity, log: EventLog, storage: ChainStorage) {
    this.#node = node;
    this.#identity = identity;
    this.#log = log;
    this.#storage = storage;
  }

  /** The panel; the tab's chain is kept in IndexedDB (per identity slot) when the tab has one. */
  static async create(
    node: MeshNode,
    identity: NodeIdentity,
    slot: number | undefined,
    log: EventLog,
  ): Promise<ChainPanel> {
    let storage: ChainStorage = new MemoryChainStorage();
    if (slot !== undefined)
      storage = await IndexedDbChainStorage.open(`weftmesh-chains-${slot}`).catch(() => storage);
    const panel = new ChainPanel(node, identity, log, storage);
    const found = await ChainLog.open({ identity, name: NAME, storage });
    if (!found.needsResync) panel.#adopt(found);
    panel.#wire();
    return panel;
  }

  #adopt(own: ChainLog): void {
    this.#own = own;
    this.#node.chains.host(own);
    this.#node.advertiseService(AD, {
      endpoint: '',
      health: 'Healthy',
      metadata: { chain: own.chainId, author: toHex(own.author) },
    });
  }

  async #mine(): Promise<ChainLog> {
    if (!this.#own)
      this.#adopt(
        await ChainLog.open({ identity: this.#identity, name: NAME, storage: this.#storage, create: true }),
      );
    return this.#own!;
  }

  #wire(): void {
    const chains = this.#node.chains;
    chains.on('synced', (e) =>
      this.#log.add('data', `chain ${short(e.chainId)}: +${e.appended} entries from ${short(e.from)}`),
    );
    chains.on('fork', (e) =>
      this.#log.add(
        'error',
        `chain ${short(e.chainId)} is FORKED: its author signed two histories (${e.from ? `proof from ${short(e.from)}` : 'proven here'})`,
      ),
    );
    chains.on('sync-error', (e) =>
      this.#log.add(
        'error',
        `chain ${short(e.chainId)}: pull from ${short(e.from)} failed: ${String(e.error)}`,
      ),
    );
    byId<HTMLFormElement>('chain-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = byId<HTMLInputElement>('chain-text').value;
      void this.#act(async () => {
        const e = await (await this.#mine()).append({ text });
        this.#log.add('data', `appended entry ${e.sequence} to this tab's chain`);
      });
    });
    byId<HTMLButtonElement>('chain-many').addEventListener('click', () =>
      this.#act(async () => {
        const own = await this.#mine();
        const start = own.length;
        await own.appendBatch(Array.from({ length: MANY }, (_, i) => ({ n: start + i })));
        this.#log.add('data', `appended entries ${start}..${own.length - 1} under one signed head`);
      }),
    );
    byId<HTMLButtonElement>('chain-fork').addEventListener('click', () => this.#act(() => this.#fork()));
  }

  /** Runs one action at a time; a refusal (a forked chain, say) goes to the event log. */
  async #act(fn: () => Promise<void>): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    this.render();
    try {
      await fn();
    } catch (e) {
      this.#log.add('error', `chain: ${(e as Error).message}`);
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  /**
   * An author that forks its chain: a copy of it (a backup), reopened as the author; the
   * chain and the copy each get a different next entry. Once a replica holds the first,
   * this tab serves the second: replicas meet a signed head that does not extend theirs.
   */
  async #fork(): Promise<void> {
    const own = await this.#mine();
    if (own.length === 0) await own.append({ text: 'genesis' });
    const copy = new MemoryChainStorage();
    const backup = await ChainLog.replica({ chainId: own.chainId, author: own.author, storage: copy });
    await pullChain(backup, async (req) => own.serveSync(req));
    const second = await ChainLog.open({ identity: this.#identity, name: NAME, storage: copy });
    const first = await own.append({ text: 'history A' });
    this.#log.add(
      'info',
      `fork: entry ${first.sequence} "history A" appended; waiting for a replica to take it`,
    );
    const held = await this.#until(() =>
      this.#node.services
        .resolveAll(`chain.${own.chainId}`)
        .some((ad) => ad.nodeId !== this.#node.nodeId && ad.metadata.h === toHex(first.hash)),
    );
    await second.append({ text: 'history B' });
    this.#own = second;
    this.#node.chains.host(second);
    this.#log.add(
      'info',
      `fork: now serving entry ${first.sequence} "history B" under the same key${held ? '' : ' (no replica had taken A)'}`,
    );
  }

  /** Polls `ok` every 200 ms for up to 15 s. */
  async #until(ok: () => boolean): Promise<boolean> {
    for (let i = 0; i < 75; i++) {
      if (ok()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return ok();
  }

  /** Follows the chains other tabs advertise, and redraws the table. */
  render(): void {
    const node = this.#node;
    const ads = node.services.resolveAll(AD);
    for (const ad of ads) {
      const { chain, author } = ad.metadata;
      if (ad.nodeId === node.nodeId || !isChainId(chain) || this.#following.has(chain)) continue;
      if (!/^[0-9a-f]{64}$/.test(author ?? '') || chainIdOf(fromHex(author!), NAME) !== chain) continue;
      this.#following.add(chain);
      node.chains.follow(chain, fromHex(author!)).catch((e: Error) => {
        this.#following.delete(chain);
        this.#log.add('error', `cannot follow chain ${short(chain)}: ${e.message}`);
      });
    }
    const rows = ads.flatMap((ad) => {
      const id = ad.metadata.chain;
      const local = id ? node.chains.get(id) : undefined;
      if (!id || !local) return [];
      const heads = node.services.resolveAll(`chain.${id}`);
      const authorLength = Number(heads.find((h) => h.nodeId === ad.nodeId)?.metadata.n ?? 0);
      const replicas = heads.filter((h) => h.nodeId !== ad.nodeId).map((h) => Number(h.metadata.n));
      const status = node.chains.forkProof(id)
        ? 'forked'
        : local.isAuthor
          ? 'author'
          : local.length >= authorLength && authorLength > 0
            ? 'synced'
            : 'catching-up';
      return [
        el(
          'tr',
          { 'data-chain': id, 'data-length': local.length, 'data-status': status },
          el('td', { class: 'mono', title: id }, short(id)),
          el(
            'td',
            { class: 'mono', title: ad.nodeId },
            short(ad.nodeId),
            ad.nodeId === node.nodeId ? el('span', { class: 'you' }, 'you') : null,
          ),
          el('td', { class: 'num' }, authorLength),
          el('td', { class: 'num' }, local.length),
          el('td', { class: 'dim' }, replicas.length ? replicas.sort((a, b) => b - a).join(', ') : '—'),
          el('td', {}, el('span', { class: `badge chain-${status}` }, status)),
        ),
      ];
    });
    fill(byId('chains-body'), rows);
    const forked = this.#own?.forkProof !== undefined;
    byId<HTMLButtonElement>('chain-append').disabled = this.#busy || forked;
    byId<HTMLButtonElement>('chain-many').disabled = this.#busy || forked;
    byId<HTMLButtonElement>('chain-fork').disabled = this.#busy || forked;
  }
}
