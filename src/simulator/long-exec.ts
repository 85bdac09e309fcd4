/**
 * A simulated long operation on one exec target: the device answers the Exec
 * 202 (accepted for later, notes §5) and, after a while, reports the result
 * in a Generic Alert (1226) echoing the Exec's Correlator, in a session it
 * opens itself. Generic on purpose (any node, any alert type): the FUMO and
 * SCOMO MOs simulate their own operations.
 */
import { genericAlert } from './generic-alert.js';
import type { SimulatedDevice } from './simulated-device.js';

export const LONG_EXEC_ALERT_TYPE = 'org.dmwsi.simulator.longexec';

export interface LongExecOptions {
  /** The executable node, e.g. `./Ext/Sim/Install`. */
  uri: string;
  /** Data of the final alert (default 200). */
  resultCode?: number;
  /** Meta Type of the final alert. */
  alertType?: string;
  /** How long after the Exec the device reports (default 0: at once, in a new session). */
  afterMs?: number;
}

/** Makes `uri` a long operation on this device; returns a function that ends the behaviour. */
export function enableLongExec(device: SimulatedDevice, o: LongExecOptions): () => void {
  device.addExecTarget(o.uri);
  // Handed out, the tree is kept for good, so the handler outlives sessions.
  return device.tree.onExec(o.uri, ({ correlator }) => {
    const code = o.resultCode ?? 200;
    const alert = genericAlert({
      source: o.uri,
      type: o.alertType ?? LONG_EXEC_ALERT_TYPE,
      format: 'int',
      mark: code < 300 ? 'informational' : 'critical',
      data: String(code),
      correlator,
    });
    const host = device.profile.host;
    host.schedule(host.now() + (o.afterMs ?? 0), () => {
      device.queueGenericAlert(alert);
      void device.runSession({ kind: 'client-initiated' });
    });
    return 202;
  });
}
