/**
 * What the outcome of a task's run request needs to know of its task, carried
 * with the request (ServerCommandRequest.facts) and handed back with its
 * outcome, so that handling a result takes no read of the task. Every fact is
 * fixed when the task is created, so the request's copy never goes stale.
 */
import { OPERATION_NAMES, type Task, type TaskOperationName } from '../../domain/tasks.js';
import type { RequestFacts } from '../../dm/session/server-commands.js';

const TASK_OPERATION_NAMES: ReadonlySet<string> = new Set<TaskOperationName>([...OPERATION_NAMES, 'BOOTSTRAP']);

/** What interpretRun reads of a task: a Task, or the facts its run request carried. */
export interface RunSubject {
  taskId: Task['taskId'];
  bOptin: Task['bOptin'];
  operation: Pick<Task['operation'], 'name' | 'awaitResult'>;
}

/** A type, not an interface: it must fit RequestFacts (flat values by key). */
export type RunFacts = {
  operation: TaskOperationName;
  bOptin: boolean;
  awaitResult: boolean;
};

export function runFactsOf(task: Task): RunFacts {
  return { operation: task.operation.name, bOptin: task.bOptin, awaitResult: task.operation.awaitResult === true };
}

/**
 * The run facts an outcome hands back; undefined when it has none (a request
 * queued before they were carried) or they are not a run's as this version
 * writes them: the task is then read, as before.
 */
export function readRunFacts(facts: RequestFacts | undefined): RunFacts | undefined {
  if (facts === undefined) return undefined;
  const { operation, bOptin, awaitResult } = facts;
  if (typeof operation !== 'string' || !TASK_OPERATION_NAMES.has(operation)) return undefined;
  if (typeof bOptin !== 'boolean' || typeof awaitResult !== 'boolean') return undefined;
  return { operation: operation as TaskOperationName, bOptin, awaitResult };
}

/** The task as interpretRun reads it, from the facts alone. */
export function runSubjectOf(taskId: string, facts: RunFacts): RunSubject {
  return { taskId, bOptin: facts.bOptin, operation: { name: facts.operation, ...(facts.awaitResult ? { awaitResult: true } : {}) } };
}
