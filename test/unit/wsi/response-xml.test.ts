/**
 * Responses are written from the contract (message-codec writeFields) rather
 * than by the `soap` package's objectToDocumentXML: the bytes must stay the
 * ones the package wrote, for every operation of every service, except that
 * text shaped like a CDATA section is escaped instead of copied through raw.
 */
import fc from 'fast-check';
import soap from 'soap';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COMPLEX_TYPES,
  type FieldSpec,
  type ServiceName,
  serviceSpec,
  TARGET_NAMESPACE,
} from '../../../src/wsi/contract/schema.js';
import { PLACEHOLDER_BASE, renderWsdl } from '../../../src/wsi/contract/wsdl-generator.js';
import { escapeText, shapeFields, writeFields } from '../../../src/wsi/message-codec.js';

interface SoapSerialiser {
  objectToDocumentXML(name: string, params: unknown, nsPrefix: string, nsURI: string): string;
}

const SERVICES: ServiceName[] = ['DeviceManager', 'DeploymentBroker', 'BulkOperationsManager'];
const serialisers = new Map<ServiceName, SoapSerialiser>();

beforeAll(async () => {
  for (const name of SERVICES) {
    const spec = serviceSpec(name);
    const wsdl = new soap.WSDL(renderWsdl(spec, PLACEHOLDER_BASE + spec.path), PLACEHOLDER_BASE + spec.path, {} as never);
    await new Promise<void>((resolve, reject) => wsdl.onReady((err?: Error) => (err ? reject(err) : resolve())));
    serialisers.set(name, wsdl as unknown as SoapSerialiser);
  }
});

/** Text without CDATA-looking values (the one intended difference). */
const text = fc
  .string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '&', '<', '>', '"', "'", '\t', '\r', '\n', 'é', '€', '😀', ']', '[', '!') })
  .filter((s) => !(s.startsWith('<![CDATA[') && s.endsWith(']]>')));

function arbitraryValue(f: FieldSpec, depth: number): fc.Arbitrary<unknown> {
  if (f.type in COMPLEX_TYPES) return depth > 3 ? fc.constant({}) : structureOf(COMPLEX_TYPES[f.type as keyof typeof COMPLEX_TYPES], depth + 1);
  switch (f.type) {
    case 'int':
    case 'long':
      return fc.integer({ min: -2_000_000_000, max: 2_000_000_000 });
    case 'boolean':
      return fc.boolean();
    case 'dateTime':
      return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true });
    default:
      return text;
  }
}

function structureOf(fields: readonly FieldSpec[], depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) {
    const one = arbitraryValue(f, depth);
    model[f.name] = f.repeated ? fc.array(one, { maxLength: 3 }) : one;
  }
  const optional = fields.filter((f) => f.optional || f.repeated).map((f) => f.name);
  return fc.record(model, { requiredKeys: fields.map((f) => f.name).filter((n) => !optional.includes(n)) });
}

describe('response XML', () => {
  for (const name of SERVICES) {
    it(`matches the soap package's serialiser for every ${name} operation`, () => {
      const wsdl = serialisers.get(name)!;
      for (const op of serviceSpec(name).operations) {
        fc.assert(
          fc.property(structureOf(op.output), (result) => {
            const theirs = wsdl.objectToDocumentXML(`${op.name}Response`, shapeFields(op.output, result), 'tns', TARGET_NAMESPACE);
            const ours = `<${op.name}Response xmlns="${TARGET_NAMESPACE}">${writeFields(op.output, result)}</${op.name}Response>`;
            expect(ours).toBe(theirs);
          }),
          { numRuns: 40 },
        );
      }
    });
  }

  it('escapes text shaped like a CDATA section (the package copied it through, letting a value inject elements)', () => {
    const fields: FieldSpec[] = [{ name: 'v', type: 'string' }];
    expect(writeFields(fields, { v: '<![CDATA[x]]></v><evil/><v><![CDATA[y]]>' })).toBe(
      '<v>&lt;![CDATA[x]]&gt;&lt;/v&gt;&lt;evil/&gt;&lt;v&gt;&lt;![CDATA[y]]&gt;</v>',
    );
    expect(escapeText('a\tb\rc\nd')).toBe('a&#x9;b&#xD;c&#xA;d');
  });
});
