import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { SERVICES } from '../../../src/wsi/contract/schema.js';
import { PLACEHOLDER_BASE, renderWsdl, wsdlFileName } from '../../../src/wsi/contract/wsdl-generator.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (_n: string, _p: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute });
const first = <T>(v: T[] | undefined): T => (v as T[])[0] as T;

describe.each(SERVICES)('$portType WSDL', (service) => {
  const text = renderWsdl(service, PLACEHOLDER_BASE + service.path);
  // biome-ignore lint/suspicious/noExplicitAny: walking a generic parsed XML tree
  const defs: any = first(parser.parse(text)['wsdl:definitions']);

  it('is the committed file in wsdl/ (run `npm run wsdl` after changing the contract)', () => {
    const file = path.join('wsdl', wsdlFileName(service));
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it('uses the contract namespace, document style and literal bodies (WS-I BP 1.1)', () => {
    expect(defs['@targetNamespace']).toBe('urn:dmwsi-gateway:1.0');
    const binding = first(defs['wsdl:binding']) as Record<string, unknown[]>;
    const soapBinding = first(binding['soap:binding']) as Record<string, string>;
    expect(soapBinding['@style']).toBe('document');
    expect(soapBinding['@transport']).toBe('http://schemas.xmlsoap.org/soap/http');
    for (const op of binding['wsdl:operation'] as Record<string, unknown[]>[]) {
      for (const dir of ['wsdl:input', 'wsdl:output']) {
        const body = first(first(op[dir] as Record<string, unknown[]>[])['soap:body'] as Record<string, string>[]);
        expect(body['@use']).toBe('literal');
      }
    }
  });

  it('wraps each operation: one part named parameters, element named after the operation', () => {
    const messages = new Map<string, string>(
      (defs['wsdl:message'] as Record<string, unknown[]>[]).map((m) => {
        const parts = m['wsdl:part'] as Record<string, string>[];
        expect(parts).toHaveLength(1);
        return [String(m['@name']), String(parts[0]!['@element'])];
      }),
    );
    const ops = (first(defs['wsdl:portType']) as Record<string, Record<string, unknown>[]>)['wsdl:operation'] ?? [];
    expect(ops.map((o) => o['@name'])).toEqual(service.operations.map((o) => o.name));
    for (const op of service.operations) {
      expect(messages.get(`${op.name}Request`)).toBe(`tns:${op.name}`);
      expect(messages.get(`${op.name}Response`)).toBe(`tns:${op.name}Response`);
    }
    expect(new Set(ops.map((o) => o['@name'])).size).toBe(ops.length);
  });

  it('puts userSession first in every operation but login', () => {
    for (const op of service.operations) {
      const m = new RegExp(`<xsd:element name="${op.name}">\\s*<xsd:complexType>\\s*<xsd:sequence>\\s*<xsd:element name="(\\w+)"`).exec(
        text,
      );
      expect(m?.[1]).toBe(op.name === 'login' ? 'username' : 'userSession');
    }
  });
});
