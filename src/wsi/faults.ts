/**
 * The one place where an error becomes a SOAP 1.1 Fault: faultcode
 * soap:Client or soap:Server, a readable faultstring, and a namespaced
 * DmwsiFault detail; HTTP 500 as WS-I Basic Profile requires. Never a stack.
 */
import { DmwsiError, type ErrorCode, FAULT_SIDE } from '../domain/errors.js';
import { TARGET_NAMESPACE } from './contract/schema.js';
import { escapeXml } from './xml-escape.js';

export const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';

export interface FaultInfo {
  code: ErrorCode;
  message: string;
  field?: string;
}

/** Anything thrown becomes a fault; an unknown error is Internal with a generic message. */
export function faultInfo(err: unknown): FaultInfo {
  if (err instanceof DmwsiError) {
    return { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
  }
  return { code: 'Internal', message: 'internal error; the gateway logged the details' };
}

export function faultEnvelope(f: FaultInfo): string {
  const field = f.field ? `<tns:field>${escapeXml(f.field)}</tns:field>` : '';
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENV}"><soap:Body><soap:Fault>` +
    `<faultcode>soap:${FAULT_SIDE[f.code]}</faultcode>` +
    `<faultstring>${escapeXml(`${f.code}: ${f.message}`)}</faultstring>` +
    `<detail><tns:DmwsiFault xmlns:tns="${TARGET_NAMESPACE}">` +
    `<tns:code>${f.code}</tns:code><tns:message>${escapeXml(f.message)}</tns:message>${field}` +
    '</tns:DmwsiFault></detail></soap:Fault></soap:Body></soap:Envelope>'
  );
}

export function resultEnvelope(bodyXml: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENV}"><soap:Body>${bodyXml}</soap:Body></soap:Envelope>`
  );
}
