/** `dmwsi task show ID`: a task and its history as a table. */
import { Command } from 'commander';
import { connect, type ConnectionOptions, withConnectionOptions } from './connection.js';
import { printJson, printLine } from './output.js';
import { table } from './table.js';

export function buildTaskCommand(): Command {
  const task = new Command('task').description('look at single tasks on a running gateway (SOAP API)');
  withConnectionOptions(
    task.command('show <taskId>').description('a task, its results and its history (every state change)').option('--json', '{task, history} as JSON'),
  ).action(async (taskId: string, o: ConnectionOptions & { json?: boolean }) => {
    const api = await connect(o);
    const data = await api.getTask(taskId);
    const history = await api.getTaskHistory(taskId);
    if (o.json) {
      printJson({ task: data, history });
      return;
    }
    const facts: [string, string | number | undefined][] = [
      ['task', data.taskId],
      ['job', data.jobId],
      ['device', data.deviceId],
      ['phone', data.phoneNumber],
      ['operation', data.operationName],
      ['status', data.status],
      ['result code', data.resultCode],
      ['DM status', data.dmStatus],
      ['created', data.createdAt],
      ['updated', data.updatedAt],
    ];
    for (const [k, v] of facts) if (v !== undefined && v !== '') printLine(`${`${k}:`.padEnd(13)}${v}`);
    if (data.results.length > 0) {
      printLine('');
      printLine(table(['uri', 'value', 'format'], data.results.map((r) => [r.uri, r.value, r.format])));
    }
    printLine('');
    printLine(
      table(
        ['seq', 'at', 'from', 'to', 'event', 'code', 'detail'],
        history.map((h) => [h.seq, h.at, h.fromStatus, h.toStatus, h.event, h.code, h.detail]),
      ),
    );
  });
  return task;
}
