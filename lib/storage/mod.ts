export { MemoryStorage } from './memory.ts';
export { checkStorageKey, type Storage, StorageError } from './types.ts';
