/** Every migration, in order. The data source runs them; nothing uses synchronize. */
import { InitialSchema1763900000000 } from './1763900000000-InitialSchema.js';
import { DeviceAlerts1763900100000 } from './1763900100000-DeviceAlerts.js';
import { JobDispatch1763900200000 } from './1763900200000-JobDispatch.js';
import { ImmutableAudit1763900300000 } from './1763900300000-ImmutableAudit.js';
import { TaskRetry1763900400000 } from './1763900400000-TaskRetry.js';
import { Content1763900500000 } from './1763900500000-Content.js';
import { LongOperations1763900600000 } from './1763900600000-LongOperations.js';
import { FumoDelivery1763900700000 } from './1763900700000-FumoDelivery.js';
import { CorrelationIds1763900860000 } from './1763900860000-CorrelationIds.js';
import { JobCounterDeltas1763900950000 } from './1763900950000-JobCounterDeltas.js';
import { JobExpansion1763901500000 } from './1763901500000-JobExpansion.js';
import { Webhooks1763901607000 } from './1763901607000-Webhooks.js';
import { HotRowUpdates1763901700000 } from './1763901700000-HotRowUpdates.js';

export const MIGRATIONS = [
  InitialSchema1763900000000,
  DeviceAlerts1763900100000,
  JobDispatch1763900200000,
  ImmutableAudit1763900300000,
  TaskRetry1763900400000,
  Content1763900500000,
  LongOperations1763900600000,
  FumoDelivery1763900700000,
  CorrelationIds1763900860000,
  JobCounterDeltas1763900950000,
  JobExpansion1763901500000,
  Webhooks1763901607000,
  HotRowUpdates1763901700000,
];
