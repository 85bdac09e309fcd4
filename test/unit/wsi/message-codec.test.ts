import { describe, expect, it } from 'vitest';
import type { FieldSpec } from '../../../src/wsi/contract/schema.js';
import { COMPLEX_TYPES } from '../../../src/wsi/contract/schema.js';
import { decodeFields, shapeFields } from '../../../src/wsi/message-codec.js';

const fields: FieldSpec[] = [
  { name: 'n', type: 'int' },
  { name: 'b', type: 'boolean', optional: true },
  { name: 'when', type: 'dateTime', optional: true },
  { name: 'local', type: 'dateTimeText', optional: true },
  { name: 's', type: 'string', optional: true, maxLength: 3 },
  { name: 'list', type: 'string', optional: true, repeated: true },
];

describe('SOAP message decoding', () => {
  it('converts valid text to typed values and normalises a single repeated element to a list', () => {
    expect(decodeFields(fields, { n: ' 42 ', b: '1', when: '2026-01-02T03:04:05Z', local: '2026-01-02T03:04:05', list: 'x' })).toEqual({
      n: 42,
      b: true,
      when: new Date('2026-01-02T03:04:05Z'),
      local: '2026-01-02T03:04:05',
      list: ['x'],
    });
  });

  it.each([
    [{ n: 'abc' }, 'n: "abc" is not an int'],
    [{ n: '99999999999' }, 'is not an int'],
    [{ n: '1', b: 'yes' }, 'b: "yes" is not a boolean'],
    [{ n: '1', when: '2026-13-01T00:00:00Z' }, 'is not an xsd:dateTime'],
    [{ n: '1', s: 'abcd' }, 's: is longer than 3'],
    [{ n: '1', extra: 'x' }, 'extra: is not an element'],
    [{}, 'n: is required'],
    [{ n: ['1', '2'] }, 'n: may appear only once'],
    [{ n: { nested: '1' } }, 'must be a simple value'],
  ])('rejects %j', (input, message) => {
    expect(() => decodeFields(fields, input)).toThrow(message);
  });

  it('names the path of a bad nested field', () => {
    const di = COMPLEX_TYPES.DeviceInstance;
    expect(() =>
      decodeFields([{ name: 'device', type: 'DeviceInstance' }], {
        device: { deviceId: 'x', phoneNumber: 'y', capabilityOid: 'z', attribute: [{ name: 'a' }] },
      }),
    ).toThrow('device.attribute[1].value: is required');
    expect(di.length).toBeGreaterThan(5);
  });

  it('shapes results in schema order, dropping empty optionals and formatting dates', () => {
    const out = shapeFields(fields, { list: [], s: 'x', n: 1, when: new Date(0), b: undefined });
    expect(Object.keys(out)).toEqual(['n', 'when', 's']);
    expect(out.when).toBe('1970-01-01T00:00:00.000Z');
  });
});
