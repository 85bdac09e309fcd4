/**
 * The Generic Alert (1226) a simulated device sends to report a result: a
 * SingleShotExec report, a FUMO or SCOMO final result, a long Exec's result.
 * One builder, so every report carries Source, Meta (Type, Format, Mark) and
 * the Correlator in the same places, as real clients do (notes §5).
 */
import type { AlertCommand } from '../dm/codec/types.js';

export interface GenericAlertReport {
  /** The node the report comes from (the MO, or the executed node). */
  source: string;
  /** Where the result applies (SCOMO: the Deployed component). */
  target?: string;
  /** Meta Type: the alert type. */
  type: string;
  format: 'int' | 'chr';
  /** Meta Mark: informational for a success, otherwise a severity. */
  mark: string;
  data: string;
  /** The Exec's Correlator; absent when none was sent (seed 000 §6.3.3). */
  correlator?: string | undefined;
}

export function genericAlert(r: GenericAlertReport, cmdId = 0): AlertCommand {
  const alert: AlertCommand = {
    kind: 'Alert',
    cmdId,
    data: 1226,
    items: [
      {
        source: { locUri: r.source },
        ...(r.target !== undefined && { target: { locUri: r.target } }),
        meta: { type: r.type, format: r.format, mark: r.mark },
        data: r.data,
      },
    ],
  };
  if (r.correlator !== undefined) alert.correlator = r.correlator;
  return alert;
}
