export { MemoryStorage } from './memory.ts';
export { checkStorageKey, type Storage, StorageError, type StorageErrorCode } from './types.ts';
export { WebStorage, type WebStorageArea } from './web.ts';
