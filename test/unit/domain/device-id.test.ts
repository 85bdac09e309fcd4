import { describe, expect, it } from 'vitest';
import {
  canonicalDeviceId,
  deviceIdProblem,
  luhnValid,
  phoneNumberProblem,
  typeAllocationCode,
} from '../../../src/domain/device-id.js';

describe('device identifiers', () => {
  it('accepts an IMEI with a valid check digit and rejects a wrong one', () => {
    expect(luhnValid('490154203237518')).toBe(true);
    expect(deviceIdProblem('IMEI:490154203237518')).toBeUndefined();
    expect(deviceIdProblem('IMEI:490154203237519')).toMatch(/check digit/);
    expect(deviceIdProblem('IMEI:49015420323751')).toMatch(/15 digits/);
  });

  it('accepts MEID and other scheme:value forms, and rejects junk', () => {
    expect(deviceIdProblem('MEID:A0000000002329')).toBeUndefined();
    expect(deviceIdProblem('MEID:A00000000023')).toMatch(/MEID/);
    expect(deviceIdProblem('urn:uuid:12345678-1234-1234-1234-123456789abc')).toBeUndefined();
    expect(deviceIdProblem('no scheme')).toBeDefined();
    expect(deviceIdProblem('')).toBe('is required');
  });

  it('canonicalises the IMEI/MEID scheme and reads the TAC', () => {
    expect(canonicalDeviceId('imei:490154203237518')).toBe('IMEI:490154203237518');
    expect(canonicalDeviceId('meid:a0000000002329')).toBe('MEID:A0000000002329');
    expect(typeAllocationCode('IMEI:490154203237518')).toBe('49015420');
    expect(typeAllocationCode('MEID:A0000000002329')).toBeUndefined();
  });

  it('requires E.164 phone numbers', () => {
    expect(phoneNumberProblem('+14155552671')).toBeUndefined();
    expect(phoneNumberProblem('14155552671')).toBeDefined();
    expect(phoneNumberProblem('+0123')).toBeDefined();
    expect(phoneNumberProblem('+1234567890123456')).toBeDefined();
  });
});
