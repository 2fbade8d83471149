/** Durable file writes for the file-backed stores (Node and Deno: both provide node:fs). */
import { type FileHandle, open } from 'node:fs/promises';

/** Writes all of `buf` at the handle's position (a write may take less than asked). */
export async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let written = 0;
  while (written < buf.length) written += (await fh.write(buf, written, buf.length - written)).bytesWritten;
}

/** Makes a new or renamed file's directory entry durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
