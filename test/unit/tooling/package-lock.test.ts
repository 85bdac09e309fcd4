import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));

interface Manifest {
  name: string;
  version: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const pkg = readJson('package.json') as Manifest;
const lockRoot = (readJson('package-lock.json') as { packages: Record<string, Manifest> }).packages['']!;

// npm install rewrites the lock file's root entry whenever it differs from
// package.json, which leaves a fresh clone's tree dirty after `npm start`.
describe('package-lock.json root entry agrees with package.json', () => {
  it('has the same engines', () => {
    expect(lockRoot.engines).toEqual(pkg.engines);
  });

  it('has the same dependencies and devDependencies', () => {
    expect(lockRoot.dependencies).toEqual(pkg.dependencies);
    expect(lockRoot.devDependencies).toEqual(pkg.devDependencies);
  });

  it('has the same name and version', () => {
    expect({ name: lockRoot.name, version: lockRoot.version }).toEqual({ name: pkg.name, version: pkg.version });
  });
});
