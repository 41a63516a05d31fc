import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { ENV_VARS } from '../../src/server/config';
import { docBlocks, readDoc } from '../helpers/docs';

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The part of a Markdown file under `heading`, up to the next heading of the same level or higher. */
function section(doc: string, heading: string): string {
  const at = doc.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`no section ${heading}`);
  const level = heading.indexOf(' ');
  const rest = doc.slice(at + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

describe('README', () => {
  const readme = readDoc('README.md');

  it('names the two commands a newcomer runs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  it('stays short enough to read at once (the rest is in docs/)', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  });

  it('leads to the configuration table and to every guide in docs/', () => {
    expect(readme).toContain('](docs/operations.md#configuration)');
    for (const doc of DOCS.filter((d) => d !== 'README.md')) expect(readme).toContain(`](${doc})`);
  });
});

describe('docs/operations.md', () => {
  const table = section(readDoc('docs/operations.md'), '## Configuration');

  it('documents every environment variable the server reads, with its default', () => {
    for (const [name, [fallback]] of Object.entries(ENV_VARS)) {
      expect(table).toContain(fallback ? `| \`${name}\` | \`${fallback}\` |` : `| \`${name}\` | (unset) |`);
    }
  });

  it('documents no variable the server does not read', () => {
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ENV_VARS).sort());
  });
});

describe('the README and docs/', () => {
  it('link only to files of this repository that exist, and to headings that exist', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = readDoc(doc);
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // https: and the like: outside by design
        const [path = '', hash] = target.split('#');
        const file = path ? normalize(join(dirname(doc), path)) : doc;
        if (relative(ROOT, join(ROOT, file)).startsWith('..') || !existsSync(join(ROOT, file))) {
          broken.push(`${doc}: ${target}`);
          continue;
        }
        if (hash && file.endsWith('.md')) {
          const headings = [...readDoc(file).matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1] ?? ''));
          if (!headings.includes(hash)) broken.push(`${doc}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('name no path outside the repository, which a clone does not have', () => {
    const outside = DOCS.filter((doc) => /\.\.\/shared\b|\.\.\/\.\.\//.test(readDoc(doc)));
    expect(outside).toEqual([]);
  });

  it('show only GraphQL documents that the schema accepts', () => {
    const schema = buildSchema(readDoc('schema/schema.graphql'));
    const blocks = DOCS.flatMap((doc) => docBlocks(doc, 'graphql').map((block) => [doc, block] as const));
    expect(blocks.length).toBeGreaterThan(10);
    const invalid = blocks.flatMap(([doc, block]) => validate(schema, parse(block)).map((e) => `${doc}: ${e.message}\n${block}`));
    expect(invalid).toEqual([]);
  });
});
