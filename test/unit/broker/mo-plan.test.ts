import { describe, expect, it } from 'vitest';
import type { Content } from '../../../src/domain/content.js';
import type { Task } from '../../../src/domain/tasks.js';
import type { CommandResult } from '../../../src/dm/session/server-commands.js';
import { discoveredRoot, moOperationSpecs, readComponents, scomoDownloadName } from '../../../src/services/broker/mo-plan.js';

const task = (operation: Partial<Task['operation']>): Task =>
  ({ taskId: 't1', deviceId: 'IMEI:1', operation: { commands: [], ...operation }, status: 'QUEUED', results: [] }) as unknown as Task;
const content = { contentId: 'c1', name: 'maps', version: '1.4', kind: 'software' } as Content;
const get = (uri: string, data: string, over: Partial<CommandResult> = {}): CommandResult => ({ index: 0, verb: 'Get', uri, status: 200, data, ...over });

describe('the plan of firmware and software operations', () => {
  it('replaces DownloadAndUpdate/PkgURL and executes DownloadAndUpdate with the task’s correlator for FIRMWARE_UPDATE', () => {
    expect(moOperationSpecs(task({ name: 'FIRMWARE_UPDATE', contentId: 'c1' }), 'FIRMWARE_UPDATE', { fumoRoot: './FUMO', pkgUrl: 'https://x/dl/1' }, 'exec-t1')).toEqual([
      { verb: 'Replace', uri: './FUMO/DownloadAndUpdate/PkgURL', data: 'https://x/dl/1', format: 'chr', type: 'text/plain' },
      { verb: 'Exec', uri: './FUMO/DownloadAndUpdate', correlator: 'exec-t1' },
    ]);
  });

  it('replaces Download/PkgURL and executes Download (not Update) for fumoDelivery downloadThenUpdate', () => {
    const ctx = { fumoRoot: './FUMO', pkgUrl: 'https://x/dl/1', fumoDelivery: 'downloadThenUpdate' as const };
    expect(moOperationSpecs(task({ name: 'FIRMWARE_UPDATE', contentId: 'c1' }), 'FIRMWARE_UPDATE', ctx, 'exec-t1')).toEqual([
      { verb: 'Replace', uri: './FUMO/Download/PkgURL', data: 'https://x/dl/1', format: 'chr', type: 'text/plain' },
      { verb: 'Exec', uri: './FUMO/Download', correlator: 'exec-t1' },
    ]);
  });

  it('replaces Update/PkgData with the package bytes (Format bin) and executes Update for fumoDelivery inline', () => {
    const ctx = { fumoRoot: './FUMO', pkgData: 'AAEC', fumoDelivery: 'inline' as const };
    expect(moOperationSpecs(task({ name: 'FIRMWARE_UPDATE', contentId: 'c1' }), 'FIRMWARE_UPDATE', ctx, 'exec-t1')).toEqual([
      { verb: 'Replace', uri: './FUMO/Update/PkgData', data: 'AAEC', dataEncoding: 'base64', format: 'bin', type: 'application/octet-stream' },
      { verb: 'Exec', uri: './FUMO/Update', correlator: 'exec-t1' },
    ]);
  });

  it('adds Download/<X> with PkgID, Name and PkgURL and executes DownloadInstallInactive when activate is false', () => {
    const specs = moOperationSpecs(task({ name: 'SOFTWARE_INSTALL', activate: false }), 'SOFTWARE_INSTALL', { scomoRoot: './SCOMO', content, pkgUrl: 'u' }, 'exec-t1');
    const x = scomoDownloadName('t1');
    expect(specs.map((s) => `${s.verb} ${'uri' in s ? s.uri : ''}`)).toEqual([
      `Add ./SCOMO/Download/${x}`,
      `Add ./SCOMO/Download/${x}/PkgID`,
      `Add ./SCOMO/Download/${x}/Name`,
      `Add ./SCOMO/Download/${x}/PkgURL`,
      `Exec ./SCOMO/Download/${x}/Operations/DownloadInstallInactive`,
    ]);
  });

  it('executes the deployed component’s Activate, Deactivate or Remove', () => {
    expect(moOperationSpecs(task({ name: 'SOFTWARE_DEACTIVATE', componentId: 'maps' }), 'SOFTWARE_DEACTIVATE', { scomoRoot: './SCOMO' }, 'c')).toEqual([
      { verb: 'Exec', uri: './SCOMO/Inventory/Deployed/maps/Operations/Deactivate', correlator: 'c' },
    ]);
  });
});

describe('readings', () => {
  it('reads components from their leaves: State 20 ACTIVE, else INACTIVE; missing leaves fall back to the node name', () => {
    const results = [
      get('./SCOMO/Inventory/Deployed/a/ID', 'app-a'),
      get('./SCOMO/Inventory/Deployed/a/Name', 'A'),
      get('./SCOMO/Inventory/Deployed/a/Version', '2'),
      get('./SCOMO/Inventory/Deployed/a/State', '20'),
      get('./SCOMO/Inventory/Deployed/b/ID', '', { status: 404 }),
      get('./SCOMO/Inventory/Deployed/b/State', '10'),
    ];
    expect(readComponents('./SCOMO', results)).toEqual([
      { componentId: 'app-a', name: 'A', version: '2', state: 'ACTIVE' },
      { componentId: 'b', name: 'b', version: '', state: 'INACTIVE' },
    ]);
  });

  it('finds the MO root by its Type among the answered candidates, and none when no Type matches', () => {
    const answers = [
      get('./FUMO', '', { status: 404 }),
      get('./FwUpdate', 'DownloadAndUpdate/State', { type: 'urn:oma:mo:oma-fumo:1.0' }),
    ];
    expect(discoveredRoot('fumo', answers)).toBe('./FwUpdate');
    expect(discoveredRoot('scomo', answers)).toBeUndefined();
    expect(discoveredRoot('fumo', [get('./FUMO', 'x', { type: 'text/plain' })])).toBeUndefined();
  });
});
