/** Task rows to domain tasks (shared by the task and job stores). */
import type { AcceptDevicePolicy, OperationDefinition, ResultItem, Task, TaskStatus } from '../domain/tasks.js';
import type { TaskRow } from './entities.js';

export function toTask(r: TaskRow): Task {
  return {
    taskId: r.taskId,
    ...(r.jobId ? { jobId: r.jobId } : {}),
    deviceId: r.deviceId,
    ...(r.phoneNumber ? { phoneNumber: r.phoneNumber } : {}),
    operation: JSON.parse(r.operation) as OperationDefinition,
    status: r.status as TaskStatus,
    ...(r.resultCode !== null ? { resultCode: r.resultCode } : {}),
    ...(r.dmStatus !== null ? { dmStatus: r.dmStatus } : {}),
    ...(r.correlator ? { correlator: r.correlator } : {}),
    results: r.results ? (JSON.parse(r.results) as ResultItem[]) : [],
    bOptin: Boolean(r.bOptin),
    acceptDevicePolicy: r.acceptDevicePolicy as AcceptDevicePolicy,
    testCycle: Boolean(r.testCycle),
    ...(r.deadline !== null ? { deadline: new Date(r.deadline) } : {}),
    ...(r.jobSeq !== null ? { jobSeq: r.jobSeq } : {}),
    ...(r.contentId ? { contentId: r.contentId } : {}),
    ...(r.correlationId ? { correlationId: r.correlationId } : {}),
    createdBy: r.createdBy,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}

