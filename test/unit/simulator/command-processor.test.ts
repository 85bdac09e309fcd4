import { describe, expect, it } from 'vitest';
import type { Command, StatusCommand } from '../../../src/dm/codec/types.js';
import {
  type ProcessContext,
  processCommands,
  type UiAlertRequest,
  type UiAlertResponse,
} from '../../../src/simulator/command-processor.js';
import type { ManagementTree } from '../../../src/simulator/tree/management-tree.js';
import {
  add,
  addNode,
  alert,
  atomic,
  counter,
  del,
  exec,
  get,
  itemCmd,
  replace,
  sequence,
  standardTree,
  target,
} from './fixtures.js';

function setup() {
  const tree = standardTree();
  tree.define('./Vendor', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
  tree.define('./Vendor/Reboot', { access: ['Exec'] });
  return tree;
}

function runOn(tree: ManagementTree, commands: Command[], extra: Partial<ProcessContext> = {}) {
  return processCommands(tree, commands, { msgId: 3, nextCmdId: counter(2), ...extra });
}

/** [Cmd, CmdRef, code] triples, the shape most assertions care about. */
const codes = (statuses: StatusCommand[]) => statuses.map((s) => [s.cmd, s.cmdRef, s.data]);

describe('processCommands statuses', () => {
  it('answers every command with MsgRef, CmdRef, Cmd and the item TargetRef, numbering from the caller counter', () => {
    const tree = setup();
    const out = runOn(tree, [add(5, './Vendor/A', 'x'), replace(6, './Vendor/A', 'y')]);
    expect(out.replies).toEqual([
      {
        kind: 'Status',
        cmdId: 2,
        msgRef: 3,
        cmdRef: 5,
        cmd: 'Add',
        targetRefs: ['./Vendor/A'],
        sourceRefs: [],
        data: 200,
        items: [],
      },
      {
        kind: 'Status',
        cmdId: 3,
        msgRef: 3,
        cmdRef: 6,
        cmd: 'Replace',
        targetRefs: ['./Vendor/A'],
        sourceRefs: [],
        data: 200,
        items: [],
      },
    ]);
    expect(tree.read('./Vendor/A')?.data).toBe('y');
  });

  it('answers 418 when the SSE node already exists', () => {
    const tree = setup();
    const out = runOn(tree, [addNode(1, './SSE/job1'), addNode(2, './SSE/job1')]);
    expect(codes(out.statuses)).toEqual([
      ['Add', 1, 200],
      ['Add', 2, 418],
    ]);
  });

  it('answers 404, 405 and 414 from the tree', () => {
    const tree = setup();
    const out = runOn(tree, [
      replace(1, './Vendor/Missing', 'x'),
      del(2, './DevInfo/DevId'),
      add(3, `./Vendor/${'x'.repeat(80)}`, 'x'),
      del(4, '.'),
    ]);
    expect(out.statuses.map((s) => s.data)).toEqual([404, 405, 414, 405]);
  });

  it('uses the command Meta for Add and lets the item Meta override it', () => {
    const tree = setup();
    const cmd = itemCmd(
      'Add',
      1,
      [target('./Vendor/I', '5'), { ...target('./Vendor/B', 'true'), meta: { format: 'bool' } }],
      { format: 'int' },
    );
    runOn(tree, [cmd]);
    expect(tree.read('./Vendor/I')?.format).toBe('int');
    expect(tree.read('./Vendor/B')?.format).toBe('bool');
  });

  it('answers one Status per item, each with its own TargetRef', () => {
    const tree = setup();
    const out = runOn(tree, [itemCmd('Add', 1, [target('./Vendor/A', '1'), target('./DevInfo/X', '2')])]);
    expect(out.statuses.map((s) => [s.targetRefs, s.data])).toEqual([
      [['./Vendor/A'], 200],
      [['./DevInfo/X'], 405],
    ]);
  });

  it('answers 412 for an item without a Target', () => {
    const out = runOn(setup(), [itemCmd('Delete', 1, [{ data: 'x' }]), itemCmd('Add', 2, [])]);
    expect(out.statuses.map((s) => s.data)).toEqual([412, 412]);
  });

  it('answers a Copy with TargetRef and SourceRef', () => {
    const tree = setup();
    runOn(tree, [add(1, './Vendor/Src', 'v')]);
    const out = runOn(tree, [
      itemCmd('Copy', 2, [{ target: { locUri: './Vendor/Dst' }, source: { locUri: './Vendor/Src' } }]),
    ]);
    expect(out.statuses[0]).toMatchObject({ cmd: 'Copy', targetRefs: ['./Vendor/Dst'], sourceRefs: ['./Vendor/Src'] });
    expect(out.statuses[0]?.data).toBe(200);
    expect(tree.read('./Vendor/Dst')?.data).toBe('v');
  });

  it('executes an Exec target with data and correlator, and 405 when not executable', () => {
    const tree = setup();
    const cmd = exec(1, './Vendor/Reboot', 'corr-1');
    cmd.item.data = 'soft';
    const out = runOn(tree, [cmd, exec(2, './DevInfo/Man')]);
    expect(out.statuses.map((s) => [s.targetRefs, s.data])).toEqual([
      [['./Vendor/Reboot'], 200],
      [['./DevInfo/Man'], 405],
    ]);
    expect(tree.executions).toEqual([{ uri: './Vendor/Reboot', data: 'soft', correlator: 'corr-1', status: 200 }]);
  });

  it('reports the status of a failing Exec target', () => {
    const tree = setup();
    tree.failExec('./Vendor/Reboot', 500);
    expect(runOn(tree, [exec(1, './Vendor/Reboot')]).statuses[0]?.data).toBe(500);
  });

  it('passes server Statuses through and never answers them', () => {
    const serverStatus: StatusCommand = {
      kind: 'Status',
      cmdId: 1,
      msgRef: 1,
      cmdRef: 0,
      cmd: 'SyncHdr',
      targetRefs: [],
      sourceRefs: [],
      data: 212,
      items: [],
    };
    const out = runOn(setup(), [serverStatus, get(2, './DevInfo/Man')]);
    expect(out.serverStatuses).toEqual([serverStatus]);
    expect(codes(out.statuses)).toEqual([['Get', 2, 200]]);
  });

  it('never answers Results from a server', () => {
    const out = runOn(setup(), [{ kind: 'Results', cmdId: 1, cmdRef: 1, items: [] }]);
    expect(out.replies).toEqual([]);
    expect(out.serverResults).toHaveLength(1);
  });

  it('runs a NoResp command without answering it', () => {
    const tree = setup();
    const out = runOn(tree, [{ ...add(1, './Vendor/Quiet', 'q'), noResp: true }]);
    expect(out.replies).toEqual([]);
    expect(tree.exists('./Vendor/Quiet')).toBe(true);
  });

  it('answers 406 to an alert a server should not send', () => {
    expect(runOn(setup(), [alert(1, 1226)]).statuses[0]?.data).toBe(406);
  });
});

describe('processCommands Get and Results', () => {
  it('follows a successful Get with Results carrying Source/LocURI and no Meta for chr', () => {
    const out = runOn(setup(), [get(4, './DevInfo/Man')]);
    expect(out.replies).toEqual([
      expect.objectContaining({ kind: 'Status', cmdId: 2, cmdRef: 4, cmd: 'Get', data: 200 }),
      { kind: 'Results', cmdId: 3, msgRef: 3, cmdRef: 4, items: [{ source: { locUri: './DevInfo/Man' }, data: 'Acme' }] },
    ]);
  });

  it('puts Meta Format in Results for non-chr values and node listings', () => {
    const out = runOn(setup(), [get(1, './DevDetail/LrgObj', './DevDetail/URI')]);
    const results = out.replies.find((r) => r.kind === 'Results');
    expect(results?.items).toEqual([
      { source: { locUri: './DevDetail/LrgObj' }, meta: { format: 'bool' }, data: 'true' },
      { source: { locUri: './DevDetail/URI' }, meta: { format: 'node' }, data: 'MaxDepth/MaxTotLen/MaxSegLen' },
    ]);
  });

  it('puts Meta Type in Results when it is not text/plain', () => {
    const tree = setup();
    runOn(tree, [add(1, './Vendor/X', '<a/>', { format: 'xml', type: 'application/xml' })]);
    const results = runOn(tree, [get(2, './Vendor/X')]).replies[1];
    expect(results?.items[0]?.meta).toEqual({ format: 'xml', type: 'application/xml' });
  });

  it('sends no Results for a failed Get, e.g. 405 on ./Inbox', () => {
    const out = runOn(setup(), [get(1, './Inbox'), get(2, './Nope')]);
    expect(out.replies.map((r) => [r.kind, r.kind === 'Status' ? r.data : null])).toEqual([
      ['Status', 405],
      ['Status', 404],
    ]);
  });

  it('collects the successful items of a multi-item Get in one Results after the Statuses', () => {
    const out = runOn(setup(), [get(1, './DevInfo/Man', './Nope', './DevInfo/Mod')]);
    expect(out.replies.map((r) => r.kind)).toEqual(['Status', 'Status', 'Status', 'Results']);
    expect(out.replies[3]?.items.map((i) => i.source?.locUri)).toEqual(['./DevInfo/Man', './DevInfo/Mod']);
  });
});

describe('processCommands Sequence', () => {
  it('answers the Sequence 200 first and runs its children in order', () => {
    const tree = setup();
    const out = runOn(tree, [
      sequence(
        4,
        addNode(5, './SSE/job1'),
        add(6, './SSE/job1/TargetURI', './Vendor/Reboot'),
        replace(7, './SSE/job1/TargetURI', './Vendor/Reboot'),
        del(8, './SSE/job1'),
      ),
    ]);
    expect(codes(out.statuses)).toEqual([
      ['Sequence', 4, 200],
      ['Add', 5, 200],
      ['Add', 6, 200],
      ['Replace', 7, 200],
      ['Delete', 8, 200],
    ]);
    expect(out.statuses.map((s) => s.cmdId)).toEqual([2, 3, 4, 5, 6]);
  });

  it('keeps going after an ordinary failure inside a Sequence', () => {
    const out = runOn(setup(), [sequence(1, del(2, './Nope'), add(3, './Vendor/A', 'a'))]);
    expect(out.statuses.map((s) => s.data)).toEqual([200, 404, 200]);
  });

  it('skips the rest of a Sequence with 215 after the user says No', () => {
    const tree = setup();
    const ui = (req: UiAlertRequest): UiAlertResponse => ({ code: req.code === 1101 ? 304 : 200 });
    const out = runOn(
      tree,
      [
        sequence(1, alert(2, 1101, '', 'Update now?'), add(3, './Vendor/A', 'a'), exec(4, './Vendor/Reboot')),
        add(5, './Vendor/B', 'b'),
      ],
      { ui },
    );
    expect(codes(out.statuses)).toEqual([
      ['Sequence', 1, 200],
      ['Alert', 2, 304],
      ['Add', 3, 215],
      ['Exec', 4, 215],
      ['Add', 5, 200],
    ]);
    expect(tree.exists('./Vendor/A')).toBe(false);
    expect(tree.executions).toHaveLength(0);
    expect(tree.exists('./Vendor/B')).toBe(true);
  });

  it('runs the rest of a Sequence when the user says Yes', () => {
    const tree = setup();
    const out = runOn(tree, [sequence(1, alert(2, 1101, '', 'Update now?'), exec(3, './Vendor/Reboot'))], {
      ui: () => ({ code: 200 }),
    });
    expect(out.statuses.map((s) => s.data)).toEqual([200, 200, 200]);
    expect(tree.execCount('./Vendor/Reboot')).toBe(1);
  });

  it('applies NoResp on a Sequence to its children', () => {
    const tree = setup();
    const out = runOn(tree, [{ ...sequence(1, add(2, './Vendor/A', 'a')), noResp: true }, get(3, './Vendor/A')]);
    expect(codes(out.statuses)).toEqual([['Get', 3, 200]]);
  });
});

describe('processCommands UI alerts', () => {
  it('auto-accepts by default: 200 to a display and a confirm', () => {
    const out = runOn(setup(), [alert(1, 1100, 'MINDT=5', 'Hello'), alert(2, 1101, '', 'Sure?')]);
    expect(out.statuses.map((s) => [s.data, s.items])).toEqual([
      [200, []],
      [200, []],
    ]);
  });

  it('answers No to a confirm outside a Sequence without stopping the message', () => {
    const out = runOn(setup(), [alert(1, 1101, '', 'Sure?'), add(2, './Vendor/A', 'a')], {
      ui: () => ({ code: 304 }),
    });
    expect(out.statuses.map((s) => s.data)).toEqual([304, 200]);
  });

  it('hands the user decoded options, text and choices', () => {
    const seen: UiAlertRequest[] = [];
    runOn(setup(), [alert(7, 1103, 'MINDT=10&MAXDT=30&DR=2&IT=A&ET=T&MAXLEN=8', 'Pick one', 'Red', 'Green%20light')], {
      ui: (req) => {
        seen.push(req);
        return { code: 200, choices: [1] };
      },
    });
    expect(seen[0]).toEqual({
      code: 1103,
      cmdId: 7,
      text: 'Pick one',
      choices: ['Red', 'Green%20light'],
      options: {
        minDisplaySeconds: 10,
        maxDisplaySeconds: 30,
        defaultResponse: '2',
        maxLength: 8,
        inputType: 'A',
        echoType: 'T',
        raw: { MINDT: '10', MAXDT: '30', DR: '2', IT: 'A', ET: 'T', MAXLEN: '8' },
      },
    });
  });

  it('returns text input in the Status Item', () => {
    const out = runOn(setup(), [alert(1, 1102, 'MAXLEN=10', 'Name?')], { ui: () => ({ code: 200, text: 'Ada' }) });
    expect(out.statuses[0]?.items).toEqual([{ data: 'Ada' }]);
  });

  it('answers the default text and choices when no user is configured', () => {
    const out = runOn(setup(), [
      alert(1, 1102, 'DR=guest', 'Name?'),
      alert(2, 1103, 'DR=2', 'Pick', 'a', 'b'),
      alert(3, 1104, 'DR=1-3', 'Pick many', 'a', 'b', 'c'),
    ]);
    expect(out.statuses.map((s) => s.items)).toEqual([
      [{ data: 'guest' }],
      [{ data: '2' }],
      [{ data: '1' }, { data: '3' }],
    ]);
  });

  it('puts each multiple-choice pick in its own Status Item', () => {
    const out = runOn(setup(), [alert(1, 1104, '', 'Pick', 'a', 'b', 'c')], {
      ui: () => ({ code: 200, choices: [2, 3] }),
    });
    expect(out.statuses[0]?.items).toEqual([{ data: '2' }, { data: '3' }]);
  });

  it('answers a cancel 214 and skips every later command with 215', () => {
    const tree = setup();
    const out = runOn(
      tree,
      [alert(1, 1101, '', 'Sure?'), add(2, './Vendor/A', 'a'), sequence(3, get(4, './DevInfo/Man'))],
      { ui: () => ({ code: 214 }) },
    );
    expect(codes(out.statuses)).toEqual([
      ['Alert', 1, 214],
      ['Add', 2, 215],
      ['Sequence', 3, 215],
      ['Get', 4, 215],
    ]);
    expect(out.replies.some((r) => r.kind === 'Results')).toBe(false);
    expect(tree.exists('./Vendor/A')).toBe(false);
  });
});

describe('processCommands Atomic', () => {
  it('answers 200 and keeps every change when all children succeed', () => {
    const tree = setup();
    const out = runOn(tree, [atomic(1, add(2, './Vendor/A', 'a'), replace(3, './Vendor/A', 'b'), alert(4, 1100, '', 'hi'))]);
    expect(out.statuses.map((s) => s.data)).toEqual([200, 200, 200, 200]);
    expect(tree.read('./Vendor/A')?.data).toBe('b');
  });

  it('rolls back on a failing child: the child keeps its code, the others 216, the Atomic 507', () => {
    const tree = setup();
    tree.define('./Vendor/Old', { data: 'old', access: ['Get', 'Replace', 'Delete'] });
    const out = runOn(tree, [
      atomic(
        1,
        add(2, './Vendor/A', 'a'),
        replace(3, './Vendor/Old', 'new'),
        del(4, './Vendor/Nope'),
        add(5, './Vendor/C', 'c'),
      ),
    ]);
    expect(codes(out.statuses)).toEqual([
      ['Atomic', 1, 507],
      ['Add', 2, 216],
      ['Replace', 3, 216],
      ['Delete', 4, 404],
      ['Add', 5, 216],
    ]);
    expect(tree.exists('./Vendor/A')).toBe(false);
    expect(tree.read('./Vendor/Old')?.data).toBe('old');
    expect(tree.exists('./Vendor/C')).toBe(false);
  });

  it('answers an Exec inside Atomic 500 and the Atomic 507 without running anything', () => {
    const tree = setup();
    const out = runOn(tree, [atomic(1, add(2, './Vendor/A', 'a'), exec(3, './Vendor/Reboot'))]);
    expect(codes(out.statuses)).toEqual([
      ['Atomic', 1, 507],
      ['Add', 2, 216],
      ['Exec', 3, 500],
    ]);
    expect(tree.exists('./Vendor/A')).toBe(false);
    expect(tree.executions).toHaveLength(0);
  });

  it('answers a Get or a nested Atomic inside Atomic 500 and the Atomic 507', () => {
    const out = runOn(setup(), [atomic(1, get(2, './DevInfo/Man'), atomic(3, add(4, './Vendor/A', 'a')))]);
    expect(codes(out.statuses)).toEqual([
      ['Atomic', 1, 507],
      ['Get', 2, 500],
      ['Atomic', 3, 500],
      ['Add', 4, 215],
    ]);
    expect(out.replies.some((r) => r.kind === 'Results')).toBe(false);
  });

  it('rolls back when the user says No inside an Atomic', () => {
    const tree = setup();
    const out = runOn(tree, [atomic(1, add(2, './Vendor/A', 'a'), alert(3, 1101, '', 'Keep?'))], {
      ui: () => ({ code: 304 }),
    });
    expect(out.statuses.map((s) => s.data)).toEqual([507, 216, 304]);
    expect(tree.exists('./Vendor/A')).toBe(false);
  });

  it('rolls back every item of a multi-item command, keeping only the failing item code', () => {
    const tree = setup();
    const out = runOn(tree, [
      atomic(1, itemCmd('Add', 2, [target('./Vendor/A', 'a'), target('./DevInfo/Nope', 'x')])),
    ]);
    expect(out.statuses.map((s) => [s.targetRefs[0] ?? null, s.data])).toEqual([
      [null, 507],
      ['./Vendor/A', 216],
      ['./DevInfo/Nope', 405],
    ]);
    expect(tree.exists('./Vendor/A')).toBe(false);
  });

  it('runs an Atomic inside a Sequence', () => {
    const out = runOn(setup(), [sequence(1, atomic(2, add(3, './Vendor/A', 'a')))]);
    expect(out.statuses.map((s) => s.data)).toEqual([200, 200, 200]);
  });
});

describe('processCommands control alerts', () => {
  it('answers a server 1222 with 200 and hands it to the caller', () => {
    const out = runOn(setup(), [alert(1, 1222)]);
    expect(codes(out.statuses)).toEqual([['Alert', 1, 200]]);
    expect(out.controlAlerts.map((a) => a.data)).toEqual([1222]);
  });

  it('does not answer a 1223 abort and stops processing', () => {
    const tree = setup();
    const out = runOn(tree, [add(1, './Vendor/A', 'a'), alert(2, 1223), add(3, './Vendor/B', 'b')]);
    expect(out.aborted).toBe(true);
    expect(codes(out.statuses)).toEqual([['Add', 1, 200]]);
    expect(out.controlAlerts.map((a) => a.data)).toEqual([1223]);
    expect(tree.exists('./Vendor/B')).toBe(false);
  });
});
