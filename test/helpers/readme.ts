// Reads code blocks out of README.md, so tests can run the examples exactly as documented.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The fenced js/ts code block of README.md that contains `marker` near its start. */
export function readmeBlock(marker: string): string {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no ${marker}`);
  const block = /```(?:js|ts)\n([\s\S]*?)```/.exec(readme.slice(readme.lastIndexOf('```', at)));
  if (!block?.[1]) throw new Error(`no code block at ${marker}`);
  return block[1];
}
