/** IDeploymentBrokerServices (and the task operations of IBulkOperationsManagerServices): messages to the broker and back. */
import type { CommandVerb, OperationDefinition, OperationName, Task, TaskHistoryEntry } from '../../domain/tasks.js';
import type { BootstrapService } from '../../services/broker/bootstrap.js';
import type { DeploymentBroker } from '../../services/broker/deployment-broker.js';
import { callContext, type OperationHandlers } from './types.js';

interface OperationDefinitionXml {
  name: string;
  commands?: { command: { verb: string; uri: string; value?: string; format?: string; type?: string }[] };
  targetUri?: string;
  atTime?: string;
  awaitResult?: boolean;
  contentId?: string;
  componentId?: string;
  activate?: boolean;
}

export function operationFromXml(x: OperationDefinitionXml): OperationDefinition {
  return {
    name: x.name as OperationName,
    commands: (x.commands?.command ?? []).map((c) => ({
      verb: c.verb as CommandVerb,
      uri: c.uri,
      ...(c.value !== undefined ? { value: c.value } : {}),
      ...(c.format ? { format: c.format } : {}),
      ...(c.type ? { type: c.type } : {}),
    })),
    ...(x.targetUri ? { targetUri: x.targetUri } : {}),
    ...(x.atTime ? { atTime: x.atTime } : {}),
    ...(x.awaitResult ? { awaitResult: true } : {}),
    ...(x.contentId !== undefined ? { contentId: x.contentId } : {}),
    ...(x.componentId !== undefined ? { componentId: x.componentId } : {}),
    ...(x.activate !== undefined ? { activate: x.activate } : {}),
  };
}

export function taskDataXml(t: Task): Record<string, unknown> {
  return {
    taskId: t.taskId,
    jobId: t.jobId,
    deviceId: t.deviceId,
    phoneNumber: t.phoneNumber,
    operationName: t.operation.name,
    status: t.status,
    resultCode: t.resultCode,
    dmStatus: t.dmStatus,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    results: t.results.map((r) => ({ uri: r.uri, value: r.value, format: r.format })),
  };
}

function historyXml(h: TaskHistoryEntry): Record<string, unknown> {
  return { ...h };
}

export function deploymentBrokerHandlers(broker: DeploymentBroker, bootstrap: BootstrapService): OperationHandlers {
  return {
    doBootstrap: async (ctx, a) => ({
      taskId: await bootstrap.doBootstrap(callContext(ctx), a.phoneNumber as string, a.deviceId as string | undefined),
    }),
    doOperation: async (ctx, a) => ({
      taskId: await broker.doOperation(callContext(ctx), {
        operation: operationFromXml(a.operation as OperationDefinitionXml),
        phoneNumber: a.phoneNumber as string,
        bOptin: a.bOptin as boolean,
        acceptDevicePolicy: a.acceptDevicePolicy as number,
        testCycle: a.testCycle as boolean,
      }),
    }),
    getTaskById: async (_ctx, a) => ({ taskData: taskDataXml(await broker.getTask(a.taskId as string)) }),
    getStatus: async (_ctx, a) => ({ status: (await broker.getTask(a.taskId as string)).status }),
  };
}

export function taskManagementHandlers(broker: DeploymentBroker): OperationHandlers {
  return {
    cancelTask: async (ctx, a) => {
      await broker.cancelTask(callContext(ctx), a.taskId as string);
      return {};
    },
    getTaskHistory: async (_ctx, a) => ({
      taskHistoryEntry: (await broker.getTaskHistory(a.taskId as string)).map(historyXml),
    }),
  };
}
