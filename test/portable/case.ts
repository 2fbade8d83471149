/**
 * Test bodies are written once against node:assert and registered by both vitest
 * (test/portable.test.ts) and Deno (test/deno/portable_test.ts): name → body.
 */
export type Suite = Record<string, () => void | Promise<void>>;
