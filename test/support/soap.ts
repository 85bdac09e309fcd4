/**
 * SOAP clients built from the WSDL the gateway serves, as an integrator's
 * generated client would be, plus helpers to read typed faults.
 */
import soap from 'soap';
import type { ServiceName } from '../../src/wsi/contract/schema.js';

export type SoapClient = soap.Client & Record<string, (args: unknown) => Promise<[unknown, string]>>;

export type Credentials =
  | { kind: 'text' | 'digest'; username: string; password: string }
  | { kind: 'none' };

export async function soapClient(baseUrl: string, service: ServiceName, creds: Credentials): Promise<SoapClient> {
  const client = (await soap.createClientAsync(`${baseUrl}/dmwsi/${service}?wsdl`)) as SoapClient;
  if (creds.kind !== 'none') {
    client.setSecurity(
      new soap.WSSecurity(creds.username, creds.password, {
        passwordType: creds.kind === 'digest' ? 'PasswordDigest' : 'PasswordText',
        hasNonce: true,
        hasTimeStamp: false,
      }),
    );
  }
  return client;
}

/** Calls an operation and returns its result object. */
export async function call<T = Record<string, unknown>>(client: SoapClient, op: string, args: unknown): Promise<T> {
  const fn = client[`${op}Async`];
  if (!fn) throw new Error(`the WSDL has no operation ${op}`);
  const [result] = await fn.call(client, args);
  return (result ?? {}) as T;
}

interface FaultShape {
  root?: { Envelope?: { Body?: { Fault?: { faultcode?: string; detail?: { DmwsiFault?: { code?: string } } } } } };
}

/** The DmwsiFault code of a rejected call, e.g. 'NotFound'. */
export async function faultOf(promise: Promise<unknown>): Promise<{ code: string; faultcode: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    const fault = (err as FaultShape).root?.Envelope?.Body?.Fault;
    if (!fault) throw err;
    return {
      code: fault.detail?.DmwsiFault?.code ?? '(none)',
      faultcode: fault.faultcode ?? '',
      status: (err as { response?: { status?: number } }).response?.status,
    };
  }
  throw new Error('expected a SOAP Fault, but the call succeeded');
}

export const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';

/** A raw SOAP 1.1 envelope, for tests that must send exactly these bytes. */
export function envelope(bodyXml: string, headerXml = ''): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:dmwsi-gateway:1.0">' +
    (headerXml ? `<soapenv:Header>${headerXml}</soapenv:Header>` : '') +
    `<soapenv:Body>${bodyXml}</soapenv:Body></soapenv:Envelope>`
  );
}

export function passwordTextHeader(username: string, password: string): string {
  return (
    `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${username}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">${password}</wsse:Password>` +
    '</wsse:UsernameToken></wsse:Security>'
  );
}
