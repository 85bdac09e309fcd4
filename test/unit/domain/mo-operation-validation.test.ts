import { describe, expect, it } from 'vitest';
import { DmwsiError } from '../../../src/domain/errors.js';
import { validateOperation } from '../../../src/domain/operation-validation.js';
import type { OperationDefinition } from '../../../src/domain/tasks.js';

const check = (op: Partial<OperationDefinition>) => () => validateOperation({ commands: [], ...op } as OperationDefinition, { now: new Date(), testCycle: false });
const fieldOf = (op: Partial<OperationDefinition>) => {
  try {
    check(op)();
  } catch (err) {
    return err instanceof DmwsiError ? `${err.code} ${err.field}` : String(err);
  }
  return 'accepted';
};

describe('firmware and software operations', () => {
  it('accepts each with what it names and nothing else', () => {
    expect(fieldOf({ name: 'FIRMWARE_UPDATE', contentId: 'c-1' })).toBe('accepted');
    expect(fieldOf({ name: 'SOFTWARE_INSTALL', contentId: 'c-1', activate: false })).toBe('accepted');
    expect(fieldOf({ name: 'SOFTWARE_REMOVE', componentId: 'com.example.maps' })).toBe('accepted');
    expect(fieldOf({ name: 'SOFTWARE_INVENTORY' })).toBe('accepted');
  });

  it('refuses a missing contentId or componentId, commands, and elements that belong to other operations', () => {
    expect(fieldOf({ name: 'FIRMWARE_UPDATE' })).toBe('InvalidArgument operation.contentId');
    expect(fieldOf({ name: 'SOFTWARE_ACTIVATE' })).toBe('InvalidArgument operation.componentId');
    expect(fieldOf({ name: 'SOFTWARE_ACTIVATE', componentId: 'a/b' })).toBe('InvalidArgument operation.componentId');
    expect(fieldOf({ name: 'SOFTWARE_INVENTORY', contentId: 'c-1' })).toBe('InvalidArgument operation.contentId');
    expect(fieldOf({ name: 'FIRMWARE_UPDATE', contentId: 'c-1', activate: true })).toBe('InvalidArgument operation.activate');
    expect(fieldOf({ name: 'FIRMWARE_UPDATE', contentId: 'c-1', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] })).toBe(
      'InvalidArgument operation.commands',
    );
    expect(fieldOf({ name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }], contentId: 'c-1' })).toBe('InvalidArgument operation.contentId');
  });
});
