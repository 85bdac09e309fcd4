import { describe, expect, it } from 'vitest';
import type { ItemCommand } from '../../../src/dm/codec/types.js';
import { processCommands } from '../../../src/simulator/command-processor.js';
import type { ManagementTree } from '../../../src/simulator/tree/management-tree.js';
import {
  buildGenericAlert,
  fireSchedule,
  installSseClient,
  SSE_ALERT_TYPE,
  SSE_EXECFAILED_ALERT_TYPE,
  type SseClientOptions,
  type SseSchedule,
} from '../../../src/simulator/tree/sse.js';
import { addNode, counter, del, exec, itemCmd, replace, sequence, standardTree, target } from './fixtures.js';

const AT = '20250301T020000Z';
const AT_DATE = new Date('2025-03-01T02:00:00Z');
const BEFORE = new Date('2025-03-01T01:59:59Z');
const AFTER = new Date('2025-03-01T02:00:01Z');

function setup(opts: Partial<SseClientOptions> = {}) {
  const tree = standardTree();
  tree.define('./FUMO', { format: 'node', access: ['Get'] });
  tree.define('./FUMO/fw1', { format: 'node', access: ['Get'] });
  tree.define('./FUMO/fw1/Update', { access: ['Exec'] });
  tree.define('./FUMO/fw1/State', { data: '10', format: 'int', access: ['Get'] });
  const armed: SseSchedule[] = [];
  installSseClient(tree, { root: './SSE', arm: (s) => armed.push(s), ...opts });
  return { tree, armed };
}

/** The server's Sequence from notes example (b). */
function scheduleSequence(job: string, targetUri: string, atTime: string, correlator?: string) {
  const leaves: ItemCommand = itemCmd(
    'Add',
    6,
    [target(`./SSE/${job}/TargetURI`, targetUri), target(`./SSE/${job}/AtTime`, atTime)],
    { format: 'chr', type: 'text/plain' },
  );
  return sequence(4, addNode(5, `./SSE/${job}`), leaves, exec(7, `./SSE/${job}/Go`, correlator));
}

function send(tree: ManagementTree, ...commands: Parameters<typeof processCommands>[1]) {
  return processCommands(tree, commands, { msgId: 1, nextCmdId: counter() });
}

describe('SingleShotExec arming', () => {
  it('arms a schedule from the notes example Sequence and answers 200 to everything', () => {
    const { tree, armed } = setup();
    const out = send(tree, scheduleSequence('job1', './FUMO/fw1/Update', AT, 'sse-7f41'));
    expect(out.statuses.map((s) => [s.cmd, s.data])).toEqual([
      ['Sequence', 200],
      ['Add', 200],
      ['Add', 200],
      ['Add', 200],
      ['Exec', 200],
    ]);
    expect(armed).toEqual([
      { moUri: './SSE/job1', targetUri: './FUMO/fw1/Update', atTime: AT_DATE, correlator: 'sse-7f41', armId: 1 },
    ]);
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(0);
  });

  it('answers 202 to Go when configured to', () => {
    const { tree } = setup({ goStatus: 202 });
    const out = send(tree, scheduleSequence('job1', './FUMO/fw1/Update', AT));
    expect(out.statuses.at(-1)?.data).toBe(202);
  });

  it('leaves out the correlator when the Go Exec had none', () => {
    const { tree, armed } = setup();
    send(tree, scheduleSequence('job1', './FUMO/fw1/Update', AT));
    expect(armed[0]).not.toHaveProperty('correlator');
  });

  it('reads a local AtTime with the configured UTC offset', () => {
    const { tree, armed } = setup({ utcOffsetMinutes: 120 });
    send(tree, scheduleSequence('job1', './FUMO/fw1/Update', '2025-03-01T04:00:00'));
    expect(armed[0]?.atTime).toEqual(AT_DATE);
  });

  it('answers 404 when TargetURI names a missing node', () => {
    const { tree, armed } = setup();
    const out = send(tree, scheduleSequence('job1', './FUMO/fw9/Update', AT));
    expect(out.statuses.at(-1)?.data).toBe(404);
    expect(armed).toEqual([]);
  });

  it.each([
    ['a target without Exec rights', './FUMO/fw1/State', AT],
    ['a malformed TargetURI', './FUMO/../x', AT],
    ['an unparseable AtTime', './FUMO/fw1/Update', 'next tuesday'],
  ])('answers 400 to Go for %s', (_name, targetUri, atTime) => {
    const { tree, armed } = setup();
    const out = send(tree, scheduleSequence('job1', targetUri, atTime));
    expect(out.statuses.at(-1)?.data).toBe(400);
    expect(armed).toEqual([]);
  });

  it('answers 400 to Go when TargetURI or AtTime is missing', () => {
    const { tree, armed } = setup();
    const out = send(tree, addNode(1, './SSE/job1'), exec(2, './SSE/job1/Go'));
    expect(out.statuses.map((s) => s.data)).toEqual([200, 400]);
    expect(armed).toEqual([]);
  });

  it('answers 500 to an Exec on Go inside an Atomic (Exec goes only in SyncBody or Sequence)', () => {
    const { tree, armed } = setup();
    send(tree, addNode(1, './SSE/job1'));
    const out = send(tree, { kind: 'Atomic', cmdId: 2, commands: [exec(3, './SSE/job1/Go')] });
    expect(out.statuses.map((s) => s.data)).toEqual([507, 500]);
    expect(armed).toEqual([]);
  });
});

describe('SingleShotExec firing', () => {
  function armed(opts: Partial<SseClientOptions> = {}, correlator: string | null = 'sse-7f41') {
    const ctx = setup(opts);
    send(ctx.tree, scheduleSequence('job1', './FUMO/fw1/Update', AT, correlator ?? undefined));
    return { ...ctx, schedule: ctx.armed[0]! };
  }

  it('runs the target once at the time and reports 200 with the correlator', () => {
    const { tree, schedule } = armed();
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({
      report: {
        type: SSE_ALERT_TYPE,
        resultCode: 200,
        source: './SSE/job1',
        correlator: 'sse-7f41',
        mark: 'informational',
      },
    });
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(1);
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({ report: null, reason: 'already-fired' });
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(1);
  });

  it('reports success for a target that accepts the Exec asynchronously (202)', () => {
    const { tree, schedule } = armed();
    tree.onExec('./FUMO/fw1/Update', () => 202);
    expect(fireSchedule(tree, schedule, AFTER).report?.resultCode).toBe(200);
  });

  it('does nothing before the time', () => {
    const { tree, schedule } = armed();
    expect(fireSchedule(tree, schedule, BEFORE)).toEqual({ report: null, reason: 'not-due' });
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(0);
    expect(fireSchedule(tree, schedule, AT_DATE).report?.resultCode).toBe(200);
  });

  it('reports 401 missed, without running the target, when the device was offline past the time', () => {
    const { tree, schedule } = armed();
    expect(fireSchedule(tree, schedule, AFTER, { missed: true })).toEqual({
      report: { type: SSE_ALERT_TYPE, resultCode: 401, source: './SSE/job1', correlator: 'sse-7f41', mark: 'warning' },
    });
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(0);
    expect(fireSchedule(tree, schedule, AFTER).report).toBeNull();
  });

  it('reports execfailed with the target status when the target Exec fails', () => {
    const { tree, schedule } = armed();
    tree.failExec('./FUMO/fw1/Update', 500);
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({
      report: {
        type: SSE_EXECFAILED_ALERT_TYPE,
        resultCode: 500,
        source: './SSE/job1',
        correlator: 'sse-7f41',
        mark: 'critical',
      },
    });
  });

  it('reports execfailed 404 when the target disappeared before the time', () => {
    const { tree, schedule } = armed();
    tree.setAccess('./FUMO/fw1', ['Get', 'Delete']);
    tree.setAccess('./FUMO', ['Get', 'Delete']);
    expect(tree.delete('./FUMO/fw1')).toBe(200);
    expect(fireSchedule(tree, schedule, AFTER).report).toMatchObject({ type: SSE_EXECFAILED_ALERT_TYPE, resultCode: 404 });
  });

  it('never runs a schedule whose MO was deleted, even if re-created under the same name', () => {
    const { tree, schedule } = armed();
    expect(send(tree, del(1, './SSE/job1')).statuses[0]?.data).toBe(200);
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({ report: null, reason: 'mo-deleted' });
    send(tree, addNode(2, './SSE/job1'));
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({ report: null, reason: 'not-armed' });
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(0);
  });

  it('replaces the schedule when the server re-arms the MO with a newer Go', () => {
    const { tree, schedule, armed: schedules } = armed();
    send(tree, replace(1, './SSE/job1/AtTime', '20250302T020000Z'), exec(2, './SSE/job1/Go', 'sse-2'));
    const newer = schedules[1]!;
    expect(newer).toMatchObject({ atTime: new Date('2025-03-02T02:00:00Z'), correlator: 'sse-2', armId: 2 });
    expect(fireSchedule(tree, schedule, AFTER)).toEqual({ report: null, reason: 'superseded' });
    expect(fireSchedule(tree, newer, new Date('2025-03-02T02:00:00Z')).report?.correlator).toBe('sse-2');
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(1);
  });

  it('can be re-armed and fired again after a run (server reuse)', () => {
    const { tree, schedule, armed: schedules } = armed();
    fireSchedule(tree, schedule, AFTER);
    send(tree, exec(1, './SSE/job1/Go', 'again'));
    expect(fireSchedule(tree, schedules[1]!, AFTER).report?.correlator).toBe('again');
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(2);
  });

  it('omits the correlator from the report when the Go had none', () => {
    const { tree, schedule } = armed({}, null);
    expect(fireSchedule(tree, schedule, AFTER).report).not.toHaveProperty('correlator');
  });
});

describe('SingleShotExec Generic Alert', () => {
  it('builds Alert 1226 with Correlator, Source/LocURI, Meta Type/Format int/Mark and Data', () => {
    const alert = buildGenericAlert(
      { type: SSE_ALERT_TYPE, resultCode: 200, source: './SSE/job1', correlator: 'sse-7f41', mark: 'informational' },
      3,
    );
    expect(alert).toEqual({
      kind: 'Alert',
      cmdId: 3,
      data: 1226,
      correlator: 'sse-7f41',
      items: [
        {
          source: { locUri: './SSE/job1' },
          meta: { type: 'org.openmobilealliance.dm.singleshotexec', format: 'int', mark: 'informational' },
          data: '200',
        },
      ],
    });
  });

  it('leaves out Correlator when the report has none', () => {
    const alert = buildGenericAlert(
      { type: SSE_EXECFAILED_ALERT_TYPE, resultCode: 405, source: './SSE/j', mark: 'critical' },
      1,
    );
    expect(alert).not.toHaveProperty('correlator');
    expect(alert.items[0]?.meta?.type).toBe('org.openmobilealliance.dm.singleshotexec.execfailed');
  });
});
