/** A task's state move inside a unit of work, as every broker flow records it. */
import { type Task, type TaskStatus, TERMINAL_TASK_STATES } from '../../domain/tasks.js';
import type { Stores, TaskChange } from '../ports.js';

/**
 * Moves the task if its state allows; returns the task as it is afterwards.
 * A move to an end state that no longer applies (the task already ended, or
 * another move came first) is still a history row, `<event>-ignored`, so the
 * history tells what arrived too late.
 */
export async function moveTask(s: Stores, taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<Task | undefined> {
  const r = await s.tasks.transition(taskId, to, change, at);
  if (!r.moved && r.task && !TERMINAL_TASK_STATES.has(to)) return r.task;
  if (!r.moved && r.task) {
    await s.tasks.note(taskId, { ...change, event: `${change.event}-ignored`, detail: `task was already ${r.task.status}${change.detail ? `; ${change.detail}` : ''}` }, at);
  }
  return r.task;
}
