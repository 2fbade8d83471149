/**
 * A Node built-in module where the runtime hands it out synchronously without an import:
 * `process.getBuiltinModule` (Node ≥ 20.16, and runtimes that copy it). Browser bundles see no
 * import of it, so they carry nothing; elsewhere the caller falls back to JavaScript.
 */
export function nodeBuiltin<T>(id: string): T | undefined {
  try {
    const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return p?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined; // a runtime that has the function but refuses the module
  }
}
