import { describe, expect, it } from 'vitest';
import type { ContainerCommand, ItemCommand } from '../../../../src/dm/codec/types.js';
import { handleClientMessage } from '../../../../src/dm/session/engine.js';
import {
  checkServerCommandRequest,
  encodeUiOptions,
  type ServerCommandRequest,
} from '../../../../src/dm/session/server-commands.js';
import { standardTree } from '../../simulator/fixtures.js';
import {
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

const ids = { sessionId: '1A', deviceId: DEVICE_ID };

function vendorTree() {
  const tree = standardTree();
  tree.define('./Vendor', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
  tree.define('./Vendor/Existing', { format: 'chr', data: 'old', access: ['Get', 'Replace', 'Delete'] });
  return tree;
}

describe('Atomic requests', () => {
  const atomic: ServerCommandRequest = {
    requestId: 'atomic-1',
    container: 'Atomic',
    commands: [
      { verb: 'Add', uri: './Vendor/New', data: '1' },
      { verb: 'Replace', uri: './Vendor/Existing', data: '2' },
      { verb: 'Delete', uri: './Vendor/Missing' },
    ],
  };

  it('maps rollback statuses (507 for the Atomic, 216/516 and the failing code) back to the specs', () => {
    const driver = new Driver(context({ pending: [atomic] }));
    const out = driver.send(pkg1());
    const container = commandsOf(out.reply)[0] as ContainerCommand;
    expect(container.kind).toBe('Atomic');
    const [add, replace, del] = container.commands;
    const done = driver.send(
      clientMessage({
        msgId: 2,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, container.cmdId, 'Atomic', 507),
          status(3, 1, add!.cmdId, 'Add', 216),
          status(4, 1, replace!.cmdId, 'Replace', 516),
          status(5, 1, del!.cmdId, 'Delete', 404),
        ],
      }),
    );
    expect(ofType(done.effects, 'command-result')).toEqual([
      {
        type: 'command-result',
        ...ids,
        requestId: 'atomic-1',
        containerStatus: 507,
        results: [
          { index: 0, verb: 'Add', uri: './Vendor/New', status: 216 },
          { index: 1, verb: 'Replace', uri: './Vendor/Existing', status: 516 },
          { index: 2, verb: 'Delete', uri: './Vendor/Missing', status: 404 },
        ],
      },
    ]);
  });

  it('gets the rollback from the simulated client, which leaves the tree untouched', () => {
    const tree = vendorTree();
    const driver = new Driver(context({ pending: [atomic] }));
    runSession(driver, new SimClient(tree), pkg1());
    const [result] = ofType(driver.effects, 'command-result');
    expect(result?.containerStatus).toBe(507);
    expect(result?.results.map((r) => r.status)).toEqual([216, 216, 404]);
    expect(tree.read('./Vendor/Existing')?.data).toBe('old');
    expect(tree.read('./Vendor/New')).toBeUndefined();
  });

  it('rejects an Atomic holding an Exec or a Get before sending anything', () => {
    const bad: ServerCommandRequest = {
      requestId: 'bad-atomic',
      container: 'Atomic',
      commands: [{ verb: 'Exec', uri: './Vendor/Go' }],
    };
    const good: ServerCommandRequest = { requestId: 'good', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };
    const out = handleClientMessage(undefined, pkg1(), context({ pending: [bad, good] }));
    expect(ofType(out.effects, 'request-rejected')).toMatchObject([
      { requestId: 'bad-atomic', reason: 'commands[0]: Exec is not allowed in an Atomic' },
    ]);
    expect(ofType(out.effects, 'requests-taken')).toMatchObject([{ requestIds: ['good'] }]);
  });
});

describe('UI alerts', () => {
  it('sends a confirm in a Sequence; a "No" (304) skips the rest and comes back per spec', () => {
    const request: ServerCommandRequest = {
      requestId: 'confirm-then-delete',
      container: 'Sequence',
      commands: [
        { verb: 'Alert', code: 1101, text: 'Delete the log?', options: { maxDisplaySeconds: 30, defaultResponse: '0' } },
        { verb: 'Delete', uri: './Vendor/Existing' },
      ],
    };
    const tree = vendorTree();
    const driver = new Driver(context({ pending: [request] }));
    const first = driver.send(pkg1());
    const seq = commandsOf(first.reply)[0] as ContainerCommand;
    expect(seq.commands[0]).toMatchObject({
      kind: 'Alert',
      data: 1101,
      items: [{ data: 'MAXDT=30&DR=0' }, { data: 'Delete the log?' }],
    });
    const client = new SimClient(tree, { ui: () => ({ code: 304 }) });
    driver.send(client.answer(first.reply));
    expect(ofType(driver.effects, 'command-result')).toMatchObject([
      {
        containerStatus: 200,
        results: [
          { index: 0, verb: 'Alert', status: 304 },
          { index: 1, verb: 'Delete', status: 215 },
        ],
      },
    ]);
    expect(tree.read('./Vendor/Existing')?.data).toBe('old');
  });

  it('returns the text of a 1102 input and the picks of a 1104 choice as response', () => {
    const request: ServerCommandRequest = {
      requestId: 'ask',
      commands: [
        { verb: 'Alert', code: 1102, text: 'Your name?', options: { maxLength: 20, inputType: 'A' } },
        { verb: 'Alert', code: 1104, text: 'Pick', choices: ['red', 'green', 'blue'], options: { defaultResponse: '1-3' } },
      ],
    };
    const driver = new Driver(context({ pending: [request] }));
    const client = new SimClient(vendorTree(), {
      ui: (req) => (req.code === 1102 ? { code: 200, text: 'Ada' } : { code: 200, choices: [1, 3] }),
    });
    runSession(driver, client, pkg1());
    expect(ofType(driver.effects, 'command-result')[0]?.results).toEqual([
      { index: 0, verb: 'Alert', status: 200, response: ['Ada'] },
      { index: 1, verb: 'Alert', status: 200, response: ['1', '3'] },
    ]);
  });

  it('writes the options as URL-encoded Item 1', () => {
    expect(encodeUiOptions({ minDisplaySeconds: 5, maxDisplaySeconds: 60, maxLength: 8, inputType: 'N', echoType: 'P' })).toBe(
      'MINDT=5&MAXDT=60&MAXLEN=8&IT=N&ET=P',
    );
    expect(encodeUiOptions(undefined)).toBe('');
  });
});

describe('Get requests and DevDetail', () => {
  it('reports Get values from Results with the default Format and Type filled in', () => {
    const request: ServerCommandRequest = {
      requestId: 'gets',
      commands: [
        { verb: 'Get', uri: './DevInfo/Man' },
        { verb: 'Get', uri: './DevDetail/LrgObj' },
        { verb: 'Get', uri: './Nope' },
      ],
    };
    const driver = new Driver(context({ pending: [request] }));
    runSession(driver, new SimClient(vendorTree()), pkg1());
    expect(ofType(driver.effects, 'command-result')[0]?.results).toEqual([
      { index: 0, verb: 'Get', uri: './DevInfo/Man', status: 200, data: 'Acme', format: 'chr', type: 'text/plain' },
      { index: 1, verb: 'Get', uri: './DevDetail/LrgObj', status: 200, data: 'true', format: 'bool', type: 'text/plain' },
      { index: 2, verb: 'Get', uri: './Nope', status: 404 },
    ]);
  });

  it('fetches the DevDetail leaves first when the model is unknown and reports them', () => {
    const other: ServerCommandRequest = { requestId: 'after', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };
    const driver = new Driver(context({ pending: [other], modelUnknown: true }));
    const first = driver.send(pkg1());
    const uris = (commandsOf(first.reply) as ItemCommand[]).map((c) => c.items[0]?.target?.locUri);
    expect(uris).toEqual([
      './DevDetail/FwV',
      './DevDetail/SwV',
      './DevDetail/HwV',
      './DevDetail/DevTyp',
      './DevDetail/OEM',
      './DevDetail/LrgObj',
      './DevInfo/Mod',
    ]);
    expect(ofType(first.effects, 'requests-taken')).toMatchObject([{ requestIds: ['after'] }]);
    const done = driver.send(new SimClient(vendorTree()).answer(first.reply));
    expect(ofType(done.effects, 'devdetail')).toEqual([
      { type: 'devdetail', ...ids, fwV: '1.0.0', swV: '2.0.0', hwV: 'rev-a', devTyp: 'phone', oem: 'Acme OEM', lrgObj: true },
    ]);
    expect(ofType(done.effects, 'command-result').map((e) => e.requestId)).toEqual(['after']);
    expect(driver.state?.client.largeObjects).toBe(true);
  });

  it('maps a multi-item packed Add answered with a single Status to every item', () => {
    const request: ServerCommandRequest = {
      requestId: 'packed',
      commands: [
        { verb: 'Add', uri: './Vendor/A', data: '1' },
        { verb: 'Add', uri: './Vendor/B', data: '2' },
      ],
    };
    const driver = new Driver(context({ pending: [request] }));
    const out = driver.send(pkg1());
    const add = commandsOf(out.reply)[0]!;
    const done = driver.send(
      clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, add.cmdId, 'Add', 418)] }),
    );
    expect(ofType(done.effects, 'command-result')[0]?.results.map((r) => r.status)).toEqual([418, 418]);
  });

  it('completes a Get answered 200 without Results when the client closes its package', () => {
    const driver = new Driver(context({ pending: [{ requestId: 'g', commands: [{ verb: 'Get', uri: './X' }] }] }));
    const out = driver.send(pkg1());
    const get = commandsOf(out.reply)[0]!;
    const done = driver.send(
      clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, get.cmdId, 'Get', 200)] }),
    );
    expect(ofType(done.effects, 'command-result')[0]?.results).toEqual([{ index: 0, verb: 'Get', uri: './X', status: 200 }]);
  });

  it('reports a request the client never answered as undelivered once its package is closed', () => {
    const driver = new Driver(context({ pending: [{ requestId: 'g', commands: [{ verb: 'Get', uri: './X' }] }] }));
    driver.send(pkg1());
    const done = driver.send(clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200)] }));
    expect(ofType(done.effects, 'command-undelivered')).toMatchObject([
      { requestId: 'g', reason: 'no-status', delivery: 'sent-no-status' },
    ]);
    expect(done.closed).toBe(true);
  });

  it('accepts Results without MsgRef as answering our last message', () => {
    const driver = new Driver(context({ pending: [{ requestId: 'g', commands: [{ verb: 'Get', uri: './X' }] }] }));
    const out = driver.send(pkg1());
    const get = commandsOf(out.reply)[0]!;
    const res = results(3, 1, get.cmdId, [{ source: { locUri: 'X' }, data: 'v' }]);
    delete res.msgRef;
    const done = driver.send(
      clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, get.cmdId, 'Get', 200), res] }),
    );
    expect(ofType(done.effects, 'command-result')[0]?.results[0]).toMatchObject({ status: 200, data: 'v' });
  });
});

describe('taking requests into packages', () => {
  const requests: ServerCommandRequest[] = Array.from({ length: 6 }, (_, i) => ({
    requestId: `r${i}`,
    commands: [{ verb: 'Add', uri: `./Vendor/K${i}`, data: 'z'.repeat(600) }],
  }));

  it('takes only what fits the package budget and sends the rest in Pkg4 (loop) while requests remain', () => {
    const tree = vendorTree();
    const driver = new Driver(context({ pending: requests, limits: { maxPackageMessages: 1 } }), 2000);
    const client = new SimClient(tree, { maxMsgSize: 2000 });
    let out = driver.send(pkg1({ maxMsgSize: 2000 }));
    let pending = requests;
    while (!out.closed) {
      // The caller drops finished requests from its queue; the engine would skip them anyway.
      const finished = new Set(ofType(driver.effects, 'command-result').map((e) => e.requestId));
      pending = requests.filter((r) => !finished.has(r.requestId));
      out = driver.send(client.answer(out.reply), { pending });
    }
    const taken = ofType(driver.effects, 'requests-taken').map((e) => e.requestIds);
    expect(taken.length).toBeGreaterThan(1);
    expect(taken.flat()).toEqual(requests.map((r) => r.requestId));
    expect(ofType(driver.effects, 'command-result').map((e) => e.requestId)).toEqual(requests.map((r) => r.requestId));
    for (let i = 0; i < 6; i++) expect(tree.read(`./Vendor/K${i}`)?.data).toBe('z'.repeat(600));
  });

  it('never takes a request again after it finished in this session', () => {
    const driver = new Driver(context({ pending: requests.slice(0, 1) }));
    const out = driver.send(pkg1());
    const add = commandsOf(out.reply)[0]!;
    const done = driver.send(
      clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, add.cmdId, 'Add', 200)] }),
    );
    expect(ofType(done.effects, 'requests-taken')).toEqual([]);
    expect(done.closed).toBe(true);
  });

  it('rejects what the device limits rule out: MaxObjSize, a container larger than a message', () => {
    const tooBig: ServerCommandRequest = { requestId: 'obj', commands: [{ verb: 'Replace', uri: './V/A', data: 'x'.repeat(5000) }] };
    const bigSeq: ServerCommandRequest = {
      requestId: 'seq',
      container: 'Sequence',
      commands: [
        { verb: 'Replace', uri: './V/A', data: 'x'.repeat(3000) },
        { verb: 'Exec', uri: './V/Go' },
      ],
    };
    const msg = clientMessage({
      msgId: 1,
      body: pkg1().body,
      cred: pkg1().header.cred!,
      locName: 'Bruce2',
      maxMsgSize: 2000,
      maxObjSize: 4096,
    });
    const out = handleClientMessage(undefined, msg, context({ pending: [tooBig, bigSeq] }));
    expect(ofType(out.effects, 'request-rejected').map((e) => [e.requestId, e.reason])).toEqual([
      ['obj', "commands[0]: 5000 bytes exceed the device's MaxObjSize 4096"],
      ['seq', expect.stringMatching(/^the Sequence needs \d+ bytes, more than one message \(2000\)$/)],
    ]);
    expect(out.closed).toBe(true);
  });

  it('validates requests read from the queue', () => {
    expect(checkServerCommandRequest({ requestId: 'x', commands: [{ verb: 'Get', uri: './A' }] })).toBeUndefined();
    expect(checkServerCommandRequest({ requestId: '', commands: [] })).toBe('requestId must be a non-empty string');
    expect(checkServerCommandRequest({ requestId: 'x', commands: [] })).toBe('commands must be a non-empty array');
    expect(checkServerCommandRequest({ requestId: 'x', commands: [{ verb: 'Copy', uri: './A' }] })).toBe(
      'commands[0]: Copy needs a sourceUri',
    );
    expect(checkServerCommandRequest({ requestId: 'x', commands: [{ verb: 'Put', uri: './A' }] })).toBe(
      'commands[0]: unknown verb "Put"',
    );
    expect(checkServerCommandRequest({ requestId: 'x', commands: [{ verb: 'Alert', code: 1226, text: '' }] })).toBe(
      'commands[0]: code must be 1100..1104',
    );
  });

  it('takes a requester\'s facts of flat values only (they come back with the outcome as they went in)', () => {
    const get = [{ verb: 'Get', uri: './A' }];
    expect(checkServerCommandRequest({ requestId: 'x', commands: get, facts: { op: 'QUERY', n: 1, yes: false } })).toBeUndefined();
    expect(checkServerCommandRequest({ requestId: 'x', commands: get, facts: { nested: { a: 1 } } })).toBe(
      'facts must be an object of strings, numbers and booleans',
    );
    expect(checkServerCommandRequest({ requestId: 'x', commands: get, facts: ['QUERY'] })).toBe(
      'facts must be an object of strings, numbers and booleans',
    );
  });
});
