/**
 * Every reader of Item Data in the session, fed by a client that sends every
 * node value as WBXML OPAQUE (SyncML reference toolkit, issue 13): what it
 * reports must equal what the same client reports inline.
 */
import { describe, expect, it } from 'vitest';
import { encodedSize } from '../../../../src/dm/codec/index.js';
import type { Item, ItemCommand, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import type { ServerCommandRequest } from '../../../../src/dm/session/server-commands.js';
import { standardTree } from '../../simulator/fixtures.js';
import {
  alert,
  clientMessage,
  commandsOf,
  context,
  DEVICE_ID,
  Driver,
  ofType,
  pkg1,
  results,
  runSession,
  SimClient,
  status,
} from './helpers.js';

/** The message as a SyncML RTK client puts it on the wire, read back by the codec. */
const rtk = (m: SyncMlMessage): SyncMlMessage => decodeWbxml(encodeWbxml(m, { opaqueItemData: true }));

const wbxmlContext = (pending: ServerCommandRequest[] = [], extra = {}) =>
  context({ pending, encoding: 'wbxml', sizeOf: (m) => encodedSize(m, 'wbxml'), ...extra });

/** A SimClient whose answers travel as OPAQUE. */
class RtkClient extends SimClient {
  override answer(server: SyncMlMessage): SyncMlMessage {
    return rtk(super.answer(server));
  }
}

function vendorTree() {
  const tree = standardTree();
  tree.define('./Vendor', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
  tree.define('./Vendor/Text', { format: 'chr', data: 'Grüße', access: ['Get'] });
  tree.define('./Vendor/Count', { format: 'int', data: '42', access: ['Get'] });
  tree.define('./Vendor/Bin', { format: 'bin', data: Buffer.from([0, 1, 254, 255]), access: ['Get'] });
  return tree;
}

const ids = { sessionId: '1A', deviceId: DEVICE_ID };

describe('a client sending every node value as OPAQUE', () => {
  it('gets Get results equal to the same client inline: text as text, bin as base64 with its marker', () => {
    const request: ServerCommandRequest = {
      requestId: 'query',
      commands: ['./Vendor/Text', './Vendor/Count', './DevDetail/LrgObj', './Vendor/Bin'].map((uri) => ({ verb: 'Get', uri })),
    };
    const inline = new Driver(wbxmlContext([request]));
    runSession(inline, new SimClient(vendorTree()), pkg1());
    const opaque = new Driver(wbxmlContext([request]));
    runSession(opaque, new RtkClient(vendorTree()), rtk(pkg1()));
    const got = ofType(opaque.effects, 'command-result')[0]?.results;
    expect(got).toEqual([
      { index: 0, verb: 'Get', uri: './Vendor/Text', status: 200, data: 'Grüße', format: 'chr', type: 'text/plain' },
      { index: 1, verb: 'Get', uri: './Vendor/Count', status: 200, data: '42', format: 'int', type: 'text/plain' },
      { index: 2, verb: 'Get', uri: './DevDetail/LrgObj', status: 200, data: 'true', format: 'bool', type: 'text/plain' },
      {
        index: 3,
        verb: 'Get',
        uri: './Vendor/Bin',
        status: 200,
        data: Buffer.from([0, 1, 254, 255]).toString('base64'),
        dataEncoding: 'base64',
        format: 'bin',
        type: 'text/plain',
      },
    ]);
    expect(got).toEqual(ofType(inline.effects, 'command-result')[0]?.results);
  });

  it('has its DevDetail recorded, and its DevInfo read as text', () => {
    const driver = new Driver(wbxmlContext([], { modelUnknown: true }));
    const first = driver.send(rtk(pkg1()));
    expect(ofType(first.effects, 'devinfo')[0]).toMatchObject({ devId: DEVICE_ID, man: 'Acme', mod: 'Sim-1', dmV: '1.2' });
    const done = driver.send(new RtkClient(vendorTree()).answer(first.reply));
    expect(ofType(done.effects, 'devdetail')).toEqual([
      { type: 'devdetail', ...ids, fwV: '1.0.0', swV: '2.0.0', hwV: 'rev-a', devTyp: 'phone', oem: 'Acme OEM', lrgObj: true },
    ]);
  });

  it('has a SingleShotExec report (Generic Alert) read as its result code, and 1224 event data as text', () => {
    const driver = new Driver(wbxmlContext());
    const report = alert(3, 1226, {
      correlator: 'sse-7f41',
      items: [
        {
          source: { locUri: './SSE/job1' },
          meta: { type: 'Reversed-Domain-Name: org.openmobilealliance.dm.singleshotexec', format: 'int' },
          data: '200',
        },
        { meta: { type: 'org.example.untyped' }, data: 'no Format: chr' },
      ],
    });
    const event = alert(4, 1224, { items: [{ meta: { type: 'com.example.LoginStatus' }, data: 'user-logged-in' }] });
    const out = driver.send(rtk(pkg1({ extra: [report, event] })));
    const alerts = ofType(out.effects, 'generic-alert');
    expect(alerts.map((a) => [a.alertType, a.data, a.dataEncoding])).toEqual([
      ['org.openmobilealliance.dm.singleshotexec', '200', undefined],
      ['org.example.untyped', 'no Format: chr', undefined],
    ]);
    expect(ofType(out.effects, 'client-event')[0]?.items).toEqual([
      { eventType: 'com.example.LoginStatus', rawType: 'com.example.LoginStatus', data: 'user-logged-in' },
    ]);
  });

  describe('Large Objects in Results', () => {
    const request: ServerCommandRequest = { requestId: 'lo', commands: [{ verb: 'Get', uri: './Vendor/Log' }] };

    function exchange(chunks: Item[]) {
      const driver = new Driver(wbxmlContext([request]));
      const out = driver.send(rtk(pkg1()));
      const getId = (commandsOf(out.reply)[0] as ItemCommand).cmdId;
      let last = driver.send(
        rtk(
          clientMessage({
            msgId: 2,
            final: false,
            body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, getId, 'Get', 200), results(3, 1, getId, [chunks[0]!])],
          }),
        ),
      );
      for (const [i, chunk] of chunks.slice(1).entries()) {
        last = driver.send(rtk(clientMessage({ msgId: 3 + i, final: i === chunks.length - 2, body: [results(1, 2 + i, getId, [chunk])] })));
      }
      return ofType(last.effects, 'command-result')[0]?.results[0];
    }

    it('joins chr chunks by their bytes, whole even when a character is cut between two chunks', () => {
      const value = 'Grüße aus Köln, 日本';
      const bytes = Buffer.from(value);
      const cut1 = 3; // inside ü
      const cut2 = bytes.length - 2; // inside 本
      const result = exchange([
        { meta: { format: 'chr', size: bytes.length }, data: bytes.subarray(0, cut1), moreData: true },
        { data: bytes.subarray(cut1, cut2), moreData: true },
        { data: bytes.subarray(cut2) },
      ]);
      expect(result).toMatchObject({ status: 200, data: value, format: 'chr' });
      expect(result?.dataEncoding).toBeUndefined();
    });

    it('joins bin chunks into their bytes though the later chunks carry no Meta', () => {
      const bytes = Buffer.from('printable, still binary: \u0001\u0002');
      const result = exchange([
        { meta: { format: 'bin', size: bytes.length }, data: bytes.subarray(0, 10), moreData: true },
        { data: bytes.subarray(10) },
      ]);
      expect(result).toMatchObject({ status: 200, data: bytes.toString('base64'), dataEncoding: 'base64', format: 'bin' });
    });
  });
});
