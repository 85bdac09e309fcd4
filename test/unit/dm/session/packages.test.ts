import { describe, expect, it } from 'vitest';
import { encodedSize } from '../../../../src/dm/codec/index.js';
import type { ItemCommand, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import type { ServerCommandRequest } from '../../../../src/dm/session/server-commands.js';
import { standardTree } from '../../simulator/fixtures.js';
import {
  alert,
  clientMessage,
  commandsOf,
  context,
  Driver,
  devInfoReplace,
  ofType,
  pkg1,
  results,
  SimClient,
  status,
  VECTOR_CRED,
} from './helpers.js';

function vendorTree() {
  const tree = standardTree();
  tree.define('./Vendor', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
  return tree;
}

const isAlert1222 = (m: SyncMlMessage) => m.body.some((c) => c.kind === 'Alert' && c.data === 1222);

describe('a server package split over several messages', () => {
  const values = Array.from({ length: 10 }, (_, i) => `value-${i}-${'v'.repeat(200)}`);
  const request: ServerCommandRequest = {
    requestId: 'many-adds',
    commands: values.map((data, i) => ({ verb: 'Add', uri: `./Vendor/N${i}`, data, format: 'chr' })),
  };

  it('honours a small MaxMsgSize: Final only on the last message, the client asking for more with 1222', () => {
    const tree = vendorTree();
    const driver = new Driver(context({ pending: [request] }), 1500);
    const client = new SimClient(tree, { maxMsgSize: 1500 });
    let out = driver.send(pkg1({ maxMsgSize: 1500 }));
    const serverMessages = [out.reply];
    while (!out.closed) {
      const answer = client.answer(out.reply);
      if (!out.reply.final) {
        expect(isAlert1222(answer)).toBe(true);
        expect(answer.final).toBe(false);
      }
      out = driver.send(answer);
      serverMessages.push(out.reply);
    }
    const withCommands = serverMessages.filter((m) => commandsOf(m).length > 0);
    expect(withCommands.length).toBeGreaterThan(2);
    expect(withCommands.slice(0, -1).every((m) => !m.final)).toBe(true);
    expect(withCommands.at(-1)?.final).toBe(true);
    // CmdIDs restart in every message and are unique in it.
    for (const m of serverMessages) expect(m.body.map((c) => c.cmdId)).toEqual(m.body.map((_, i) => i + 1));

    const [result] = ofType(driver.effects, 'command-result');
    expect(result?.results.map((r) => r.status)).toEqual(values.map(() => 200));
    for (const [i, v] of values.entries()) expect(tree.read(`./Vendor/N${i}`)?.data).toBe(v);
  });

  it('packs Add/Replace items with the same Meta into one command when they fit', () => {
    const tree = vendorTree();
    const driver = new Driver(context({ pending: [request] }));
    const out = driver.send(pkg1());
    const adds = commandsOf(out.reply) as ItemCommand[];
    expect(adds).toHaveLength(1);
    expect(adds[0]?.items).toHaveLength(10);
    const done = driver.send(new SimClient(tree).answer(out.reply));
    expect(ofType(done.effects, 'command-result')[0]?.results.every((r) => r.status === 200)).toBe(true);
  });
});

describe('commands that only fit a message without Statuses', () => {
  // 100 per SyncHdr and per top-level command, plus the data characters: exact boundaries.
  const unitSize = (m: SyncMlMessage) =>
    100 +
    m.body.length * 100 +
    m.body.reduce((n, c) => {
      const items = c.kind === 'Exec' ? [c.item] : 'items' in c ? c.items : [];
      return n + items.reduce((k, i) => k + (i.data?.length ?? 0), 0);
    }, 0);

  it('chunks a value that would fit a bare message but never one with the header and 1222 Statuses', () => {
    // 100 + 100 + 650 fits 1000; with the two Statuses every later message carries it never would.
    const data = 'q'.repeat(650);
    const request: ServerCommandRequest = { requestId: 'edge', commands: [{ verb: 'Replace', uri: './Vendor/E', data }] };
    const tree = vendorTree();
    tree.define('./Vendor/E', { format: 'chr', data: '', access: ['Get', 'Replace'] });
    const driver = new Driver(context({ pending: [request], sizeOf: unitSize }));
    const client = new SimClient(tree, { maxMsgSize: 1000 });
    let out = driver.send(pkg1({ maxMsgSize: 1000 }));
    for (let i = 0; i < 10 && !out.closed; i++) {
      expect(unitSize(out.reply)).toBeLessThanOrEqual(1000);
      out = driver.send(client.answer(out.reply));
    }
    expect(out.closed).toBe(true);
    expect(tree.read('./Vendor/E')?.data).toBe(data);
    expect(ofType(driver.effects, 'command-result')).toMatchObject([{ results: [{ status: 200 }] }]);
  });

  it('waits one message for a command that fits once the Pkg1 Statuses are gone', () => {
    // Pkg2 carries 3 Statuses (100 + 300 + 100 + 550 > 1000); the next message carries 2 (950).
    const request: ServerCommandRequest = { requestId: 'wait', commands: [{ verb: 'Exec', uri: './Vendor/Go', data: 'e'.repeat(550) }] };
    const driver = new Driver(context({ pending: [request], sizeOf: unitSize }));
    const first = driver.send(pkg1({ maxMsgSize: 1000 }));
    expect(commandsOf(first.reply)).toEqual([]);
    expect(first.reply.final).toBe(false);
    const second = driver.send(
      clientMessage({ msgId: 2, final: false, body: [status(1, 1, 0, 'SyncHdr', 200), alert(2, 1222)] }),
    );
    expect(commandsOf(second.reply)).toMatchObject([{ kind: 'Exec' }]);
    expect(second.reply.final).toBe(true);
  });
});

describe('a client package split over several messages', () => {
  it('answers a non-final client message with Statuses and Alert 1222, without Final or commands', () => {
    const request: ServerCommandRequest = { requestId: 'r1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] };
    const driver = new Driver(context({ pending: [request] }));
    const first = driver.send(
      clientMessage({ msgId: 1, cred: VECTOR_CRED, locName: 'Bruce2', body: [alert(1, 1201)], final: false }),
    );
    expect(first.reply.final).toBe(false);
    expect(first.reply.body.map((c) => c.kind)).toEqual(['Status', 'Status', 'Alert']);
    expect(first.reply.body[0]).toMatchObject({ data: 212 });
    expect(first.reply.body[2]).toMatchObject({ kind: 'Alert', data: 1222, cmdId: 3 });
    expect(ofType(first.effects, 'requests-taken')).toEqual([]);

    const second = driver.send(clientMessage({ msgId: 2, body: [devInfoReplace(1)] }));
    expect(second.reply.body[0]).toMatchObject({ cmdRef: 0, data: 200 });
    expect(second.reply.body[1]).toMatchObject({ cmd: 'Replace', cmdRef: 1, data: 200 });
    expect(commandsOf(second.reply)).toMatchObject([{ kind: 'Get' }]);
    expect(second.reply.final).toBe(true);
    expect(ofType(second.effects, 'devinfo')).toHaveLength(1);
  });
});

describe('Large Objects from server to client', () => {
  const big = Array.from({ length: 400 }, (_, i) => `line ${i} ✓`).join('\n');
  const request: ServerCommandRequest = {
    requestId: 'lo-out',
    commands: [{ verb: 'Replace', uri: './Vendor/Big', data: big, format: 'chr', type: 'text/plain' }],
  };

  it('sends a value bigger than a message in chunks: MoreData, Size on the first, 213 per chunk', () => {
    const tree = vendorTree();
    tree.define('./Vendor/Big', { format: 'chr', data: '', access: ['Get', 'Replace'] });
    const driver = new Driver(context({ pending: [request] }), 1200);
    const client = new SimClient(tree, { maxMsgSize: 1200 });
    let out = driver.send(pkg1({ maxMsgSize: 1200 }));
    const chunks: ItemCommand[] = [];
    const clientStatuses: number[] = [];
    while (!out.closed) {
      const cmds = commandsOf(out.reply) as ItemCommand[];
      expect(cmds.length).toBeLessThanOrEqual(1);
      chunks.push(...cmds);
      const answer = client.answer(out.reply);
      for (const c of answer.body) if (c.kind === 'Status' && c.cmd === 'Replace') clientStatuses.push(c.data);
      out = driver.send(answer);
    }
    expect(chunks.length).toBeGreaterThan(3);
    const items = chunks.map((c) => c.items[0]!);
    expect(items[0]?.meta?.size).toBe(Buffer.byteLength(big, 'utf8'));
    expect(items.slice(1).every((i) => i.meta?.size === undefined)).toBe(true);
    expect(items.slice(0, -1).every((i) => i.moreData === true)).toBe(true);
    expect(items.at(-1)?.moreData).toBeUndefined();
    expect(items.every((i) => i.meta?.format === 'chr' && i.meta.type === 'text/plain')).toBe(true);
    expect(chunks.every((c) => c.meta === undefined)).toBe(true);
    expect(items.map((i) => i.data).join('')).toBe(big);
    expect(clientStatuses).toEqual([...chunks.slice(1).map(() => 213), 200]);
    expect(tree.read('./Vendor/Big')?.data).toBe(big);
    expect(ofType(driver.effects, 'command-result')).toMatchObject([
      { requestId: 'lo-out', results: [{ index: 0, verb: 'Replace', uri: './Vendor/Big', status: 200 }] },
    ]);
  });

  it('stops sending chunks when the client refuses one, and reports that status', () => {
    const driver = new Driver(context({ pending: [request] }));
    const out1 = driver.send(pkg1({ maxMsgSize: 1200 }));
    const chunk = commandsOf(out1.reply)[0]!;
    expect(out1.reply.final).toBe(false);
    const out2 = driver.send(
      clientMessage({
        msgId: 2,
        final: false,
        body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, chunk.cmdId, 'Replace', 420), alert(3, 1222)],
      }),
    );
    expect(commandsOf(out2.reply)).toEqual([]);
    expect(out2.reply.final).toBe(true);
    expect(ofType(out2.effects, 'command-result')).toMatchObject([{ results: [{ status: 420 }] }]);
    const out3 = driver.send(clientMessage({ msgId: 3, body: [status(1, 2, 0, 'SyncHdr', 200)] }));
    expect(out3.closed).toBe(true);
  });

  it('sends binary data as OPAQUE bytes in WBXML, and the stored reply keeps them through JSON', () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const binary: ServerCommandRequest = {
      requestId: 'bin',
      commands: [{ verb: 'Replace', uri: './Vendor/Bin', data: bytes.toString('base64'), dataEncoding: 'base64', format: 'bin' }],
    };
    const wbxmlSize = (m: SyncMlMessage) => encodedSize(m, 'wbxml');
    const driver = new Driver(context({ pending: [binary], encoding: 'wbxml', sizeOf: wbxmlSize }));
    const out = driver.send(pkg1({ maxMsgSize: 1000 }));
    expect(wbxmlSize(out.reply)).toBeLessThanOrEqual(1000);
    const item = (commandsOf(out.reply)[0] as ItemCommand).items[0]!;
    expect(Buffer.isBuffer(item.data)).toBe(true);
    expect(item.meta?.size).toBe(3000);
    expect(item.moreData).toBe(true);
    const again = driver.send(pkg1({ maxMsgSize: 1000 }));
    expect(again.reply).toEqual(out.reply);
  });
});

describe('Large Objects from client to server (Results)', () => {
  const request: ServerCommandRequest = { requestId: 'lo-in', commands: [{ verb: 'Get', uri: './Vendor/Log' }] };
  const part1 = 'a'.repeat(500);
  const part2 = 'b'.repeat(300);

  function started() {
    const driver = new Driver(context({ pending: [request] }));
    const out = driver.send(pkg1());
    const get = commandsOf(out.reply)[0]!;
    return { driver, getId: get.cmdId };
  }

  it('answers each chunk with 213 and 1222, assembles it and reports the value', () => {
    const { driver, getId } = started();
    const mid = driver.send(
      clientMessage({
        msgId: 2,
        final: false,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, getId, 'Get', 200, { targetRefs: ['./Vendor/Log'] }),
          results(3, 1, getId, [
            { source: { locUri: './Vendor/Log' }, meta: { size: 800, format: 'chr', type: 'text/plain' }, data: part1, moreData: true },
          ]),
        ],
      }),
    );
    expect(mid.reply.final).toBe(false);
    expect(mid.reply.body.slice(1)).toEqual([
      expect.objectContaining({ kind: 'Status', cmd: 'Results', cmdRef: 3, msgRef: 2, data: 213, sourceRefs: ['./Vendor/Log'] }),
      expect.objectContaining({ kind: 'Alert', data: 1222 }),
    ]);
    expect(ofType(mid.effects, 'command-result')).toEqual([]);
    expect(driver.state?.incomingLo?.chunks).toHaveLength(1);

    const last = driver.send(
      clientMessage({ msgId: 3, body: [results(1, 1, getId, [{ source: { locUri: './Vendor/Log' }, data: part2 }])] }),
    );
    expect(ofType(last.effects, 'command-result')).toMatchObject([
      {
        requestId: 'lo-in',
        results: [{ index: 0, verb: 'Get', uri: './Vendor/Log', status: 200, data: part1 + part2, format: 'chr', type: 'text/plain' }],
      },
    ]);
    expect(last.reply.body.filter((c) => c.kind === 'Status' && c.cmd === 'Results')).toEqual([]);
    expect(last.closed).toBe(true);
  });

  it('answers a size mismatch with 424 and fails the Get with it', () => {
    const { driver, getId } = started();
    driver.send(
      clientMessage({
        msgId: 2,
        final: false,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, getId, 'Get', 200),
          results(3, 1, getId, [{ source: { locUri: './Vendor/Log' }, meta: { size: 9999 }, data: part1, moreData: true }]),
        ],
      }),
    );
    const last = driver.send(clientMessage({ msgId: 3, body: [results(1, 1, getId, [{ data: part2 }])] }));
    expect(last.reply.body[1]).toMatchObject({ cmd: 'Results', cmdRef: 1, data: 424 });
    expect(ofType(last.effects, 'command-result')).toMatchObject([{ results: [{ status: 424 }] }]);
  });

  it('keeps binary chunks as base64 in the state and reports them as base64', () => {
    const { driver, getId } = started();
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
    driver.send(
      clientMessage({
        msgId: 2,
        final: false,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, getId, 'Get', 200),
          results(3, 1, getId, [{ meta: { size: 7, format: 'bin' }, data: bytes.subarray(0, 4), moreData: true }]),
        ],
      }),
    );
    const last = driver.send(clientMessage({ msgId: 3, body: [results(1, 1, getId, [{ data: bytes.subarray(4) }])] }));
    expect(ofType(last.effects, 'command-result')).toMatchObject([
      { results: [{ status: 200, data: bytes.toString('base64'), dataEncoding: 'base64', format: 'bin' }] },
    ]);
  });
});

describe('a session with nothing to send', () => {
  it('closes in its first reply without measuring a message (each measure encodes a whole one)', () => {
    let measured = 0;
    const driver = new Driver(
      context({
        sizeOf: (m) => {
          measured++;
          return encodedSize(m, 'xml');
        },
      }),
    );
    const out = driver.send(pkg1());
    expect(out.closed).toBe(true);
    expect(out.reply.body[0]).toMatchObject({ kind: 'Status', cmd: 'SyncHdr', data: 212 });
    expect(measured).toBe(0);
  });
});
