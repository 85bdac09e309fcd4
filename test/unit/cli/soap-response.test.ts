/** The CLI's reading of the gateway's SOAP answers: results typed by the contract, faults by their DmwsiFault code. */
import { describe, expect, it } from 'vitest';
import { readFields } from '../../../src/cli/soap-client.js';
import { MalformedResponseError, readSoapBody } from '../../../src/cli/soap-response.js';
import { timeArgument } from '../../../src/cli/times.js';
import { serviceSpec } from '../../../src/wsi/contract/schema.js';
import { faultEnvelope, resultEnvelope } from '../../../src/wsi/faults.js';
import { writeFields } from '../../../src/wsi/message-codec.js';

const op = (service: 'BulkOperationsManager' | 'DeviceManager', name: string) => serviceSpec(service).operations.find((o) => o.name === name)!;

describe('the CLI reads what the gateway writes', () => {
  it('reads a getTasks answer: repeated elements as a list, ints as numbers, escaped text back as written', () => {
    const getTasks = op('BulkOperationsManager', 'getTasks');
    const task = (n: number) => ({
      taskId: `t${n}`,
      deviceId: 'IMEI:1',
      operationName: 'QUERY',
      status: 'COMPLETED',
      resultCode: 200,
      createdAt: new Date(0),
      updatedAt: new Date(0),
      results: [{ uri: './DevInfo/Mod', value: `a <b> & "c"\n\tline ${n}` }],
    });
    const xml = resultEnvelope(`<getTasksResponse xmlns="urn:dmwsi-gateway:1.0">${writeFields(getTasks.output, { taskData: [task(1), task(2)] })}</getTasksResponse>`);
    const body = readSoapBody(xml);
    expect(body.name).toBe('getTasksResponse');
    const read = readFields(getTasks.output, body.content) as { taskData: { taskId: string; resultCode: number; results: { value: string }[] }[] };
    expect(read.taskData.map((t) => t.taskId)).toEqual(['t1', 't2']);
    expect(read.taskData[0]!.resultCode).toBe(200);
    expect(read.taskData[1]!.results[0]!.value).toBe('a <b> & "c"\n\tline 2');
  });

  it('reads one rejected row as a list of one, and none as an empty list', () => {
    const imp = op('DeviceManager', 'importDeviceInstances');
    const one = readSoapBody(resultEnvelope(`<importDeviceInstancesResponse xmlns="urn:dmwsi-gateway:1.0">${writeFields(imp.output, { importResult: { imported: 2, rejected: [{ row: 3, reason: 'x' }] } })}</importDeviceInstancesResponse>`));
    expect(readFields(imp.output, one.content)).toEqual({ importResult: { imported: 2, rejected: [{ row: 3, reason: 'x' }] } });
    const none = readSoapBody(resultEnvelope(`<importDeviceInstancesResponse xmlns="urn:dmwsi-gateway:1.0">${writeFields(imp.output, { importResult: { imported: 2, rejected: [] } })}</importDeviceInstancesResponse>`));
    expect(readFields(imp.output, none.content)).toEqual({ importResult: { imported: 2, rejected: [] } });
  });

  it('reads a fault with its DmwsiFault code and message', () => {
    const body = readSoapBody(faultEnvelope({ code: 'NotFound', message: 'job "x" does not exist' }));
    expect(body.name).toBe('Fault');
    expect(body.content).toMatchObject({ faultcode: 'soap:Client', detail: { DmwsiFault: { code: 'NotFound', message: 'job "x" does not exist' } } });
  });

  it('refuses what is not a SOAP answer, and any DOCTYPE', () => {
    expect(() => readSoapBody('<html><body>502 Bad Gateway</body></html>')).toThrow(MalformedResponseError);
    expect(() => readSoapBody('starting\n')).toThrow(MalformedResponseError);
    expect(() => readSoapBody('<!DOCTYPE x [<!ENTITY a "b">]><Envelope><Body><r>&a;</r></Body></Envelope>')).toThrow(MalformedResponseError);
  });
});

describe('times on the command line', () => {
  it('turns +30s, +5m, +2h into UTC seconds and keeps absolute times as written', () => {
    const now = () => Date.UTC(2030, 0, 1, 12, 0, 0, 500);
    expect(timeArgument('+30s', now)).toBe('2030-01-01T12:00:30Z');
    expect(timeArgument('+5m', now)).toBe('2030-01-01T12:05:00Z');
    expect(timeArgument('+2h', now)).toBe('2030-01-01T14:00:00Z');
    expect(timeArgument('2030-01-01T08:00:00')).toBe('2030-01-01T08:00:00');
    expect(() => timeArgument('tomorrow')).toThrow(/ISO date-time/);
  });
});
