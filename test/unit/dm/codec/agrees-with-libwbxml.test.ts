/**
 * Cross-check against libwbxml (Debian `libwbxml2-utils`: xml2wbxml, wbxml2xml).
 * Skipped when the tools are not installed; the committed hex fixtures keep the
 * main tests independent of them (this file also checks those fixtures are
 * exactly what libwbxml produces).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientPkg1, serverPkg2 } from '../../../../bench/codec.js';
import type { Command, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { exampleA, exampleB, exampleC, fixtureHex, fixtureText } from './messages.js';

const hasTool = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
const available = hasTool('xml2wbxml') && hasTool('wbxml2xml');

const dir = available ? mkdtempSync(join(tmpdir(), 'syncml-libwbxml-')) : '';
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function run(tool: string, args: string[]): void {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr}${r.stdout}`);
}

function xml2wbxml(xml: string | Buffer, noStringTable: boolean): Buffer {
  const inFile = join(dir, 'in.xml');
  const outFile = join(dir, 'out.wbxml');
  writeFileSync(inFile, xml);
  run('xml2wbxml', [...(noStringTable ? ['-n'] : []), '-o', outFile, inFile]);
  return readFileSync(outFile);
}

/** wbxml2xml output without its DOCTYPE line (our decoder rejects DOCTYPE by design). */
function wbxml2xml(wbxml: Buffer): string {
  const inFile = join(dir, 'in.wbxml');
  const outFile = join(dir, 'out.xml');
  writeFileSync(inFile, wbxml);
  run('wbxml2xml', ['-o', outFile, inFile]);
  return readFileSync(outFile, 'utf8').replace(/<!DOCTYPE[^>]*>/, '');
}

const models: [string, SyncMlMessage][] = [
  ['example (a)', exampleA],
  ['example (b)', exampleB],
  ['example (c)', exampleC],
  ['server Pkg2', serverPkg2()],
  ['client Pkg1', clientPkg1()],
];

describe.skipIf(!available)('libwbxml cross-check (skipped: install libwbxml2-utils for xml2wbxml/wbxml2xml)', () => {
  for (const name of ['a', 'b', 'c']) {
    it(`the committed fixtures for example (${name}) are exactly libwbxml's output`, () => {
      const xml = fixtureText(`example-${name}.xml`);
      expect(xml2wbxml(xml, true).toString('hex')).toBe(fixtureHex(`example-${name}.wbxml.hex`).toString('hex'));
      expect(xml2wbxml(xml, false).toString('hex')).toBe(fixtureHex(`example-${name}.strtbl.wbxml.hex`).toString('hex'));
    });
  }

  it('libwbxml reads the handset Pkg1 whose string-table FPI has no NUL, as we do', () => {
    const input = fixtureHex('example-a.fpi-no-nul.wbxml.hex');
    expect(decodeXml(wbxml2xml(input))).toEqual(decodeWbxml(input));
  });

  for (const [name, model] of models) {
    it(`libwbxml reads our WBXML for ${name}`, () => {
      expect(decodeXml(wbxml2xml(encodeWbxml(model)))).toEqual(model);
    });

    it(`we read libwbxml's WBXML of our XML for ${name} (with and without string table)`, () => {
      const xml = encodeXml(model);
      expect(decodeWbxml(xml2wbxml(xml, true))).toEqual(model);
      expect(decodeWbxml(xml2wbxml(xml, false))).toEqual(model);
    });
  }

  it('our WBXML equals libwbxml -n output except the version byte when libwbxml writes no OPAQUE', () => {
    // libwbxml writes <Data> inside Add/Replace Items as OPAQUE; drop that data so both sides use STR_I.
    const model = serverPkg2();
    const strip = (c: Command): Command =>
      c.kind === 'Sequence' || c.kind === 'Atomic'
        ? { ...c, commands: c.commands.map(strip) }
        : c.kind === 'Add' || c.kind === 'Replace'
          ? { ...c, items: c.items.map(({ data: _data, ...it }) => it) }
          : c;
    const noData = { ...model, body: model.body.map(strip) };
    const ours = encodeWbxml(noData);
    const lib = xml2wbxml(encodeXml(noData), true);
    expect(lib[0]).toBe(0x03);
    expect(ours[0]).toBe(0x02);
    expect(ours.subarray(1).toString('hex')).toBe(lib.subarray(1).toString('hex'));
  });
});
