/** Field schemas shared by several messages. */
import { bytes, text } from './schema.ts';

/** 16-byte node id (its hex form is the public node id string). */
export const nodeIdField = bytes(16);
export const publicKeyField = bytes(32);
export const signatureField = bytes(64);
export const nonceField = bytes(32);
/** A node's run: random per start, so a peer tells a restarted process from the one before. */
export const bootField = bytes(8);
/** Cluster names: 1..64 characters of [A-Za-z0-9._-] (they are also signaling room names). */
export const CLUSTER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const clusterField = text(1, 64, CLUSTER_NAME);
/** A cluster membership token (see identity/admission.ts). */
export const tokenField = bytes(67, 256);
