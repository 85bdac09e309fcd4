import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const biome = path.join(root, 'node_modules', '.bin', 'biome');
const LINTED = ['src', 'test', 'migrations', 'bench', 'scripts'];

function lintCycles(cwd: string, paths: string[]) {
  const r = spawnSync(biome, ['lint', '--only=suspicious/noImportCycles', '--colors=off', ...paths], {
    cwd,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('import cycles (part of npm run lint)', () => {
  const temp: string[] = [];
  afterEach(() => {
    for (const d of temp.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('npm run lint runs the Biome lint that holds the cycle rule', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { lint: string } };
    expect(pkg.scripts.lint).toContain(`biome lint ${LINTED.join(' ')}`);
  });

  it('finds no import cycle in the code base', () => {
    const r = lintCycles(root, LINTED);
    expect(r.output).not.toContain('noImportCycles');
    expect(r.status).toBe(0);
  });

  it("rejects a cycle of nodenext '.js' imports between two .ts files under the project's configuration", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-cycle-'));
    temp.push(dir);
    const config = JSON.parse(fs.readFileSync(path.join(root, 'biome.json'), 'utf8')) as Record<string, unknown>;
    delete config.$schema;
    fs.writeFileSync(path.join(dir, 'biome.json'), JSON.stringify(config));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n");
    fs.writeFileSync(path.join(dir, 'src', 'b.ts'), "import type { a } from './a.js';\nexport const b = (): number => 0;\nexport type A = typeof a;\n");
    const r = lintCycles(dir, ['src']);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('lint/suspicious/noImportCycles');
    expect(r.output).toContain('src/b.ts');
  });
});
