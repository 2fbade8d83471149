export { MemoryStorage } from './memory.ts';
export { checkStorageKey, type Storage, StorageError } from './types.ts';
export { WebStorage, type WebStorageArea } from './web.ts';
