/** Which correlation id a task's background work runs under. */
import type { Task } from '../../domain/tasks.js';
import { correlationId, withCorrelation } from '../../observability/correlation.js';

/**
 * A job queued without a correlation id (the stalled-task sweep, the resume at
 * start) runs under its task's, so its lines and the DM requests it queues
 * still carry the id of the call that created the task.
 */
export function underTaskId<T>(task: Task | undefined, fn: () => Promise<T>): Promise<T> {
  return correlationId() === undefined && task?.correlationId ? withCorrelation(task.correlationId, fn) : fn();
}
