/**
 * The TypeScript and JavaScript code blocks of README.md and docs/*.md, for the tests that
 * type-check them (test/unit/docs-snippets.test.ts) and run the examples
 * (test/net/docs-snippets.test.ts). An HTML comment on the line before a block says what
 * it is:
 *
 *   <!-- snippet: web -->       a browser app (DOM, no Node types); runs in Chromium
 *   <!-- snippet: node -->      a Node program; runs as a Node process
 *   <!-- snippet: deno -->      a Deno program (checked by `deno check`); runs under Deno
 *   <!-- snippet: fragment — REASON -->
 *                               part of a program, continuing an example above: checked
 *                               with `node` declared as a started MeshNode
 *
 * A block without a comment is a whole module, checked with both DOM and Node types.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './packed.ts';

export const KINDS = ['module', 'web', 'node', 'deno', 'fragment'] as const;
export type SnippetKind = (typeof KINDS)[number];

export interface Snippet {
  /** The document, relative to the repository root. */
  doc: string;
  /** 1-based line of the block's first code line in the document. */
  line: number;
  lang: string;
  kind: SnippetKind;
  /** What the marker says after the kind (required for fragments). */
  reason: string;
  code: string;
  /** A file name for the block: its document and line. */
  name: string;
}

const FENCE = /^```(\w*)\s*$/;
const MARKER = /^<!--\s*snippet:\s*([\w-]+)\s*(?:[—-]+\s*(.*?))?\s*-->$/;
const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript']);

export function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** Every TypeScript/JavaScript block of the documents; throws on a malformed marker. */
export function snippets(): Snippet[] {
  const out: Snippet[] = [];
  for (const doc of documents()) {
    const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = FENCE.exec(lines[i]!);
      if (!open) continue;
      let end = i + 1;
      while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
      const lang = open[1]!;
      if (CODE_LANGS.has(lang)) {
        const marker = MARKER.exec(lines[i - 1]?.trim() ?? '');
        const kind = (marker?.[1] ?? 'module') as SnippetKind;
        const where = `${doc}:${i + 2}`;
        if (!KINDS.includes(kind)) throw new Error(`${where}: unknown snippet kind ${kind}`);
        const reason = marker?.[2] ?? '';
        if (kind === 'fragment' && reason === '') throw new Error(`${where}: a fragment must say why`);
        const ext = lang.startsWith('t') ? 'ts' : 'js';
        out.push({
          doc,
          line: i + 2,
          lang,
          kind,
          reason,
          code: `${lines.slice(i + 1, end).join('\n')}\n`,
          name: `${doc.replace(/[/.]/g, '_')}_L${i + 2}.${ext}`,
        });
      }
      i = end;
    }
  }
  return out;
}

/** The one block of `kind` in README.md (the runnable examples). */
export function readmeExample(kind: 'web' | 'node' | 'deno'): Snippet {
  const found = snippets().filter((s) => s.doc === 'README.md' && s.kind === kind);
  if (found.length !== 1) throw new Error(`README.md has ${found.length} ${kind} examples, expected 1`);
  return found[0]!;
}
