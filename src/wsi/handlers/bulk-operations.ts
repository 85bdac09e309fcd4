/** IBulkOperationsManagerServices (jobs) and doBulkOperation: messages to the bulk service and back. */
import type { DeploymentOptions, Job } from '../../domain/tasks.js';
import type { BulkOperations } from '../../services/bulk/bulk-operations.js';
import { operationFromXml, taskDataXml } from './deployment-broker.js';
import { callContext, type OperationHandlers } from './types.js';

interface DeploymentOptionsXml {
  firstWaveSize?: number;
  waveSize?: number;
  notificationsPerSecond?: number;
  maxConcurrentSessions?: number;
  maxConcurrentDownloads?: number;
  errorThresholdPercent?: number;
  waveIntervalSeconds?: number;
  startAt?: Date;
  deadline?: Date;
  targetFilter?: Record<string, unknown>;
}

interface OperationRequestXml {
  operation: Parameters<typeof operationFromXml>[0];
  phoneNumber?: string;
  deviceId?: string;
  bOptin: boolean;
  acceptDevicePolicy: number;
  testCycle: boolean;
}

const defined = (x: object) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined));

function optionsFromXml(x: DeploymentOptionsXml | undefined): DeploymentOptions {
  if (!x) return {};
  const { targetFilter, ...rest } = x;
  // An empty <targetFilter/> is a filter with no condition (refused), not no filter.
  return { ...defined(rest), ...(targetFilter !== undefined ? { targetFilter: defined(targetFilter ?? {}) } : {}) } as DeploymentOptions;
}

export function jobDataXml(j: Job): Record<string, unknown> {
  return {
    jobId: j.jobId,
    status: j.status,
    operationName: j.operationName,
    createdAt: j.createdAt,
    createdBy: j.createdBy,
    total: j.total,
    queued: j.queued,
    notifying: j.notifying,
    inSession: j.inSession,
    scheduled: j.scheduled,
    inProgress: j.inProgress,
    completed: j.completed,
    failed: j.failed,
    missed: j.missed,
    cancelled: j.cancelled,
    expired: j.expired,
  };
}

const page = (a: Record<string, unknown>) => ({ offset: a.offset as number, limit: a.limit as number });

export function bulkOperationsHandlers(bulk: BulkOperations): OperationHandlers {
  return {
    createDeployments: async (ctx, a) => ({
      jobId: await bulk.createDeployments(
        callContext(ctx),
        operationFromXml(a.operation as Parameters<typeof operationFromXml>[0]),
        a.targets as string[],
        optionsFromXml(a.options as DeploymentOptionsXml | undefined),
      ),
    }),
    cancelJob: async (ctx, a) => {
      await bulk.cancelJob(callContext(ctx), a.jobId as string);
      return {};
    },
    pauseJob: async (ctx, a) => {
      await bulk.pauseJob(callContext(ctx), a.jobId as string);
      return {};
    },
    restartJob: async (ctx, a) => {
      await bulk.restartJob(callContext(ctx), a.jobId as string);
      return {};
    },
    getJobs: async (_ctx, a) => ({ jobData: (await bulk.getJobs(a.status as string | undefined, page(a))).map(jobDataXml) }),
    getJobsByDate: async (_ctx, a) => ({
      jobData: (await bulk.getJobsByDate(a.from as Date, a.to as Date, page(a))).map(jobDataXml),
    }),
    getJobById: async (_ctx, a) => ({ jobData: jobDataXml(await bulk.getJobById(a.jobId as string)) }),
    getJobHistory: async (_ctx, a) => ({
      jobHistoryEntry: (await bulk.getJobHistory(a.jobId as string, page(a))).map((h) => ({ ...h })),
    }),
    getTasks: async (_ctx, a) => ({
      taskData: (await bulk.getTasks(a.jobId as string, a.status as string | undefined, page(a))).map(taskDataXml),
    }),
  };
}

export function bulkRequestHandlers(bulk: BulkOperations): OperationHandlers {
  return {
    doBulkOperation: async (ctx, a) => ({
      jobId: await bulk.doBulkOperation(
        callContext(ctx),
        (a.requests as OperationRequestXml[]).map((r) => ({
          operation: operationFromXml(r.operation),
          ...(r.phoneNumber ? { phoneNumber: r.phoneNumber } : {}),
          ...(r.deviceId ? { deviceId: r.deviceId } : {}),
          bOptin: r.bOptin,
          acceptDevicePolicy: r.acceptDevicePolicy,
          testCycle: r.testCycle,
        })),
      ),
    }),
  };
}
