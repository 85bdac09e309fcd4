import { describe, expect, it } from 'vitest';
import type { DeviceAlert } from '../../../src/dm/server/ports.js';
import {
  readExecFinalAlert,
  readFumoFinalAlert,
  readScomoFinalAlert,
  resultCodeOf,
  SCOMO_FINAL_TYPE,
  scheduledLongOperation,
  sourceConcerns,
} from '../../../src/services/broker/final-alerts.js';

const alert = (alertType: string, data: string | undefined): DeviceAlert =>
  ({ deviceId: 'IMEI:1', at: 0, alertType, mark: 'informational', items: [], ...(data !== undefined ? { data } : {}) }) as unknown as DeviceAlert;

describe('final alerts of long operations', () => {
  it('reads the result code bare or as SCOMO’s ResultCode element, and nothing else', () => {
    expect(resultCodeOf(' 200 ')).toBe(200);
    expect(resultCodeOf('<ResultCode>1200</ResultCode><Identifier>x</Identifier>')).toBe(1200);
    expect(resultCodeOf('ok')).toBeUndefined();
    expect(resultCodeOf(undefined)).toBeUndefined();
  });

  it('ends a generic Exec on any alert type: 2xx COMPLETED, other codes FAILED, no code nothing', () => {
    expect(readExecFinalAlert(alert('com.vendor.install', '204'))).toMatchObject({ ends: true, to: 'COMPLETED', resultCode: 204 });
    expect(readExecFinalAlert(alert('com.vendor.install', '500'))).toMatchObject({ ends: true, to: 'FAILED', resultCode: 500 });
    expect(readExecFinalAlert(alert('com.vendor.install', 'done'))).toMatchObject({ ends: false });
  });

  it('ends a FUMO operation only on a FUMO alert type with a code from its table', () => {
    const update = 'org.openmobilealliance.dm.firmwareupdate.update';
    expect(readFumoFinalAlert(alert(update, '200'))).toMatchObject({ ends: true, to: 'COMPLETED' });
    expect(readFumoFinalAlert(alert(update, '410'))).toMatchObject({ ends: true, to: 'FAILED', resultCode: 410 });
    expect(readFumoFinalAlert(alert(update, '999'))).toMatchObject({ ends: false });
    expect(readFumoFinalAlert(alert('org.openmobilealliance.dm.singleshotexec', '200'))).toMatchObject({ ends: false });
  });

  it('ends a SCOMO operation on OperationComplete with a 1xxx code from its table', () => {
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '<ResultCode>1200</ResultCode>'))).toMatchObject({ ends: true, to: 'COMPLETED' });
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '1405'))).toMatchObject({ ends: true, to: 'FAILED' });
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '200'))).toMatchObject({ ends: false });
  });

  it('names the FUMO and SCOMO result’s meaning from the src/dm/mo tables, and leaves a task alone for a code outside the tables', () => {
    const dau = 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate';
    expect(readFumoFinalAlert(alert(dau, '402'))).toMatchObject({ ends: true, to: 'FAILED', meaning: expect.stringMatching(/402 corrupted firmware update package/) });
    expect(readFumoFinalAlert(alert(` Reversed-Domain-Name: ${dau}`, '503'))).toMatchObject({ to: 'FAILED', meaning: expect.stringMatching(/network error/) });
    expect(readFumoFinalAlert(alert(dau, '413'))).toMatchObject({ ends: false, why: expect.stringMatching(/outside the FUMO/) });
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '1420'))).toMatchObject({ ends: false, why: expect.stringMatching(/outside the SCOMO/) });
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '&lt;ResultCode&gt;1405&lt;/ResultCode&gt;'))).toMatchObject({ to: 'FAILED', meaning: expect.stringMatching(/install failed/) });
    expect(readScomoFinalAlert(alert(SCOMO_FINAL_TYPE, '<ResultCode>1200</ResultCode>'))).toMatchObject({ to: 'COMPLETED', meaning: expect.stringMatching(/successful/) });
  });

  it('takes a FUMO root that is itself the FUMO node: its operation nodes are long', () => {
    expect(scheduledLongOperation('./FUMO/DownloadAndUpdate', { fumoRoot: './FUMO' })).toBe('fumo');
    expect(scheduledLongOperation('./FUMO/State', { fumoRoot: './FUMO' })).toBeUndefined();
  });

  it('treats a schedule’s target as long only under the FUMO or SCOMO root its capability declares', () => {
    const cap = { fumoRoot: './FUMO', scomoRoot: './SCOMO' };
    expect(scheduledLongOperation('./FUMO/fw1/Update', cap)).toBe('fumo');
    expect(scheduledLongOperation('FUMO/fw1/DownloadAndUpdate/', cap)).toBe('fumo');
    expect(scheduledLongOperation('./FUMO/fw1/PkgName', cap)).toBeUndefined();
    expect(scheduledLongOperation('./SCOMO/Inventory/Deployed/c1/Operations/Activate', cap)).toBe('scomo');
    expect(scheduledLongOperation('./Ext/Sim/Reboot', cap)).toBeUndefined();
    expect(scheduledLongOperation('./FUMO/fw1/Update', {})).toBeUndefined();
  });

  it('matches an alert’s Source to a target at, above or under it, never beside it', () => {
    expect(sourceConcerns('./FUMO/fw1', './FUMO/fw1/Update')).toBe(true);
    expect(sourceConcerns('FUMO/fw1/Update/', './FUMO/fw1/Update')).toBe(true);
    expect(sourceConcerns('./FUMO/fw1/Update/State', './FUMO/fw1/Update')).toBe(true);
    expect(sourceConcerns('./FUMO/fw10', './FUMO/fw1/Update')).toBe(false);
    expect(sourceConcerns(undefined, './FUMO/fw1/Update')).toBe(false);
  });
});
