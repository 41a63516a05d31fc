// Reads the README and the guides in docs/, so tests can check them against the code and run
// their examples exactly as documented.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** A documentation file, by its path from the repository root (`README.md`, `docs/agents.md`). */
export function readDoc(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** The fenced js/ts code block of the file at `path` that contains `marker` near its start. */
export function docBlock(path: string, marker: string): string {
  const doc = readDoc(path);
  const at = doc.indexOf(marker);
  if (at < 0) throw new Error(`${path} has no ${marker}`);
  const block = /```(?:js|ts)\n([\s\S]*?)```/.exec(doc.slice(doc.lastIndexOf('```', at)));
  if (!block?.[1]) throw new Error(`no code block at ${marker} in ${path}`);
  return block[1];
}

/** Every fenced code block of the given language in the file at `path`. */
export function docBlocks(path: string, lang: string): string[] {
  return [...readDoc(path).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] ?? '');
}
