import { describe, expect, it } from 'vitest';
import { DmwsiError } from '../../../src/domain/errors.js';
import { readSoapEnvelope } from '../../../src/wsi/soap-envelope.js';
import { usernameToken } from '../../../src/wsi/ws-security.js';

const ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const TNS = 'urn:dmwsi-gateway:1.0';
const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';

const env = (body: string, header = '', prefix = 's') =>
  `<${prefix}:Envelope xmlns:${prefix}="${ENV}">${header ? `<${prefix}:Header>${header}</${prefix}:Header>` : ''}<${prefix}:Body>${body}</${prefix}:Body></${prefix}:Envelope>`;

function refusal(xml: string): string {
  try {
    readSoapEnvelope(xml);
  } catch (err) {
    expect(err).toBeInstanceOf(DmwsiError);
    expect((err as DmwsiError).code).toBe('InvalidArgument');
    return (err as DmwsiError).message;
  }
  throw new Error('expected the envelope to be refused');
}

describe('readSoapEnvelope', () => {
  it('finds the operation by namespace URI, whatever the prefixes', () => {
    const forms = [
      env(`<t:getJobs xmlns:t="${TNS}"><t:offset>1</t:offset></t:getJobs>`),
      env(`<getJobs xmlns="${TNS}"><offset>1</offset></getJobs>`, '', 'soapenv'),
      `<x:Envelope xmlns:x="${ENV}" xmlns:q="${TNS}"><x:Body><q:getJobs><q:offset>1</q:offset></q:getJobs></x:Body></x:Envelope>`,
      // A prefix rebound on an inner element, and restored after it.
      env(`<p:getJobs xmlns:p="${TNS}"><p:offset xmlns:p="${TNS}">1</p:offset></p:getJobs>`),
    ];
    for (const xml of forms) expect(readSoapEnvelope(xml)).toMatchObject({ operation: 'getJobs', args: { offset: '1' } });
  });

  it('refuses an operation or field outside the target namespace, and envelopes that are not SOAP 1.1', () => {
    expect(refusal(env('<getJobs><offset>1</offset></getJobs>'))).toMatch(/not in namespace urn:dmwsi-gateway:1.0/);
    expect(refusal(env(`<t:getJobs xmlns:t="urn:someone-else"/>`))).toMatch(/not in namespace/);
    expect(refusal(env(`<t:getJobs xmlns:t="${TNS}"><offset>1</offset></t:getJobs>`))).toMatch(/offset in the SOAP Body is not in namespace/);
    expect(refusal(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`)).toMatch(/SOAP 1.1 Envelope/);
    expect(refusal(`<Envelope><Body/></Envelope>`)).toMatch(/SOAP 1.1 Envelope/);
    expect(refusal(env(`<t:a xmlns:t="${TNS}"/><t:b xmlns:t="${TNS}"/>`))).toMatch(/exactly one operation/);
    expect(refusal(`<s:Envelope xmlns:s="${ENV}"><s:Body/></s:Envelope>`)).toMatch(/no Body with an operation/);
    expect(refusal(env(`<t:getJobs xmlns:t="${TNS}"><u:offset>1</u:offset></t:getJobs>`))).toMatch(/undeclared namespace prefix u/);
  });

  it('reads repeated children as a list in document order, and text with entities, character references and CDATA', () => {
    const e = readSoapEnvelope(
      env(`<t:op xmlns:t="${TNS}"><t:targets>a</t:targets><t:x>&lt;&#x41;&amp;<![CDATA[<b>]]></t:x><t:targets>b</t:targets><t:targets/><t:empty/></t:op>`),
    );
    expect(e.args).toEqual({ targets: ['a', 'b', ''], x: '<A&<b>', empty: '' });
  });

  it('gives the Header in the shape the WS-Security reader takes (local names, text, attributes)', () => {
    const header =
      `<wsse:Security xmlns:wsse="${WSSE}"><wsse:UsernameToken><wsse:Username>u</wsse:Username>` +
      '<wsse:Password Type="x#PasswordDigest">d</wsse:Password><wsse:Nonce>bm9uY2U=</wsse:Nonce><wsse:Created>2030-01-01T00:00:00Z</wsse:Created>' +
      `</wsse:UsernameToken></wsse:Security><a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">urn:uuid:1</a:MessageID>`;
    const e = readSoapEnvelope(env(`<t:op xmlns:t="${TNS}"/>`, header));
    expect(usernameToken(e.Header)).toEqual({ kind: 'digest', username: 'u', digest: 'd', nonce: 'bm9uY2U=', created: '2030-01-01T00:00:00Z' });
    expect((e.Header as Record<string, unknown>).MessageID).toBe('urn:uuid:1');
    // An empty Security header is read as empty text: a token that authenticates nobody.
    expect(usernameToken(readSoapEnvelope(env(`<t:op xmlns:t="${TNS}"/>`, `<w:Security xmlns:w="${WSSE}"/>`)).Header)).toBe('malformed');
  });

  it('keeps names of Object.prototype members as plain keys of prototype-less objects', () => {
    const e = readSoapEnvelope(
      env(`<t:op xmlns:t="${TNS}" id="__proto__" constructor="x"><t:__proto__><t:polluted>1</t:polluted></t:__proto__><t:constructor>c</t:constructor><t:toString>s</t:toString></t:op>`),
    );
    const args = e.args as Record<string, unknown>;
    expect(Object.getPrototypeOf(args)).toBeNull();
    expect(Object.keys(args)).toEqual(['__proto__', 'constructor', 'toString', 'attributes']);
    expect(args.attributes).toEqual({ id: '__proto__', constructor: 'x' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses declarations, malformed XML, duplicate attributes, reserved names and what passes the limits', () => {
    expect(refusal(`<!DOCTYPE x>${env(`<t:op xmlns:t="${TNS}"/>`)}`)).toMatch(/DOCTYPE/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}"><![CDATA[<!ENTITY x "y">]]></t:op>`))).toMatch(/DOCTYPE and ENTITY/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}"><t:a></t:op>`))).toMatch(/malformed SOAP envelope/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}" a="1" a="2"/>`))).toMatch(/attribute a repeated/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}"><t:attributes>x</t:attributes></t:op>`))).toMatch(/reserved element name/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}">&bogus;</t:op>`))).toMatch(/undefined entity/);
    expect(refusal(env(`<t:op xmlns:t="${TNS}">${'<t:a>'.repeat(70)}${'</t:a>'.repeat(70)}</t:op>`))).toMatch(/nesting deeper than 64/);
    expect(() => readSoapEnvelope(env(`<t:op xmlns:t="${TNS}">${'<t:a/>'.repeat(50)}</t:op>`), { maxDepth: 64, maxElements: 40 })).toThrow(/more than 40 elements/);
    expect(refusal('')).toMatch(/no SOAP envelope/);
  });
});
