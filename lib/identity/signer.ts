/** What makes signed objects (membership claims, state entries): a node's key and a signing function. */
export interface Signer {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
  /** Ed25519 signature over `data` (the caller adds the domain: signingInput). */
  sign(data: Uint8Array): Uint8Array;
}
