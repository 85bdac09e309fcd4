import { describe, expect, it } from 'vitest';
import {
  describeFumoResult,
  describeScomoResult,
  FUMO_ALERT_TYPE,
  formatScomoResultData,
  parseFumoAlertItem,
  parseScomoAlertItem,
  parseScomoOperationNode,
  parseScomoResultData,
} from '../../../../src/dm/mo/index.js';

describe('FUMO/SCOMO result codes', () => {
  it('classes FUMO 200 and 250-299 as success, table codes as failure, others as unknown', () => {
    expect(describeFumoResult(200).class).toBe('success');
    expect(describeFumoResult(255).class).toBe('success');
    expect(describeFumoResult(402)).toMatchObject({ class: 'failure', meaning: 'corrupted firmware update package' });
    expect(describeFumoResult(503).meaning).toBe('download failed: network error');
    expect(describeFumoResult(460).class).toBe('failure');
    expect(describeFumoResult(300).class).toBe('unknown');
    expect(describeFumoResult(1200).class).toBe('unknown');
  });

  it('classes SCOMO 1200 and 1250-1299 as success, 1402.. as failure, others as unknown', () => {
    expect(describeScomoResult(1200).class).toBe('success');
    expect(describeScomoResult(1299).class).toBe('success');
    expect(describeScomoResult(1405)).toMatchObject({ class: 'failure', meaning: 'install failed' });
    expect(describeScomoResult(1599).class).toBe('failure');
    expect(describeScomoResult(200).class).toBe('unknown');
    expect(describeScomoResult(1300).class).toBe('unknown');
  });
});

describe('FUMO Generic Alert parsing', () => {
  it('reads a prefixed Type, chr Data and a Source below the MO (the executed node)', () => {
    const r = parseFumoAlertItem(
      {
        source: { locUri: 'FUMO/fw1/DownloadAndUpdate' },
        meta: { type: ' Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.downloadandupdate', format: 'chr' },
        data: ' 402 ',
      },
      './FUMO/fw1',
    );
    expect(r).toMatchObject({ operation: 'DownloadAndUpdate', source: './FUMO/fw1/DownloadAndUpdate', resultCode: 402 });
    expect(r?.result?.class).toBe('failure');
  });

  it('ignores another MO’s alert and a non-FUMO type, and keeps a non-numeric Data as no code', () => {
    const item = { source: { locUri: './FUMO/fw2' }, meta: { type: FUMO_ALERT_TYPE.Update }, data: '200' };
    expect(parseFumoAlertItem(item, './FUMO/fw1')).toBeUndefined();
    expect(parseFumoAlertItem({ meta: { type: 'com.example.other' }, data: '200' })).toBeUndefined();
    expect(parseFumoAlertItem({ meta: { type: FUMO_ALERT_TYPE.Update }, data: 'ok' })?.resultCode).toBeUndefined();
  });
});

describe('SCOMO', () => {
  it('parses operation nodes, reading MediaTek’s "Deactive" as Deactivate', () => {
    expect(parseScomoOperationNode('./SCOMO/Inventory/Deployed/app1/Operations/Deactive')).toEqual({
      root: './SCOMO',
      area: 'Deployed',
      name: 'app1',
      operation: 'Deactivate',
    });
    expect(parseScomoOperationNode('SCM/Download/p1/Operations/DownloadInstallInactive')?.operation).toBe(
      'DownloadInstallInactive',
    );
    expect(parseScomoOperationNode('./SCOMO/Download/p1/Operations/Activate')).toBeUndefined();
  });

  it('round-trips OperationComplete Data and reads it leniently', () => {
    expect(parseScomoResultData(formatScomoResultData(1200, 'a<b'))).toEqual({ resultCode: 1200, identifier: 'a<b' });
    expect(parseScomoResultData('<resultcode> 1405 </resultcode>')).toEqual({ resultCode: 1405, identifier: undefined });
    expect(parseScomoResultData('&lt;ResultCode&gt;1402&lt;/ResultCode&gt;&lt;Identifier&gt;x&lt;/Identifier&gt;')).toEqual({
      resultCode: 1402,
      identifier: 'x',
    });
    expect(parseScomoResultData('1200').resultCode).toBe(1200);
  });

  it('matches an alert by Source or Target under the SCOMO root', () => {
    const item = {
      source: { locUri: './SCOMO/Download/p1/Operations/DownloadInstall' },
      target: { locUri: './SCOMO/Inventory/Deployed/p1' },
      meta: { type: 'urn:oma:at:scomo:1.0:OperationComplete', format: 'text/plain' },
      data: '<ResultCode>1200</ResultCode><Identifier>p1</Identifier>',
    };
    expect(parseScomoAlertItem(item, './SCOMO')).toMatchObject({ resultCode: 1200, identifier: 'p1' });
    expect(parseScomoAlertItem(item, './SCM')).toBeUndefined();
  });
});
