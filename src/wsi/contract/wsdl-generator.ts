/**
 * Renders a service's WSDL 1.1 (SOAP 1.1, document/literal wrapped, WS-I
 * Basic Profile 1.1) from the contract description. `npm run wsdl` writes the
 * results into wsdl/; a test fails when those files are out of date.
 */
import {
  COMPLEX_TYPES,
  type ComplexTypeName,
  type FieldSpec,
  inputFields,
  type ServiceSpec,
  type SimpleType,
  TARGET_NAMESPACE,
} from './schema.js';

const XSD_TYPES: Record<SimpleType, string> = {
  string: 'xsd:string',
  int: 'xsd:int',
  long: 'xsd:long',
  boolean: 'xsd:boolean',
  dateTime: 'xsd:dateTime',
  dateTimeText: 'xsd:dateTime',
};

function isSimple(t: FieldSpec['type']): t is SimpleType {
  return t in XSD_TYPES;
}

function element(f: FieldSpec, indent: string): string {
  const type = isSimple(f.type) ? XSD_TYPES[f.type] : `tns:${f.type}`;
  const min = f.optional ? ' minOccurs="0"' : '';
  const max = f.repeated ? ' maxOccurs="unbounded"' : '';
  return `${indent}<xsd:element name="${f.name}" type="${type}"${min}${max}/>`;
}

function sequence(fields: readonly FieldSpec[], indent: string): string {
  if (fields.length === 0) return `${indent}<xsd:sequence/>`;
  return [`${indent}<xsd:sequence>`, ...fields.map((f) => element(f, indent + '  ')), `${indent}</xsd:sequence>`].join(
    '\n',
  );
}

/** The complex types an operation list needs, transitively, in a stable order. */
function typesUsed(service: ServiceSpec): ComplexTypeName[] {
  const seen = new Set<ComplexTypeName>(['DmwsiFault']);
  const visit = (fields: readonly FieldSpec[]) => {
    for (const f of fields) {
      if (!isSimple(f.type) && !seen.has(f.type)) {
        seen.add(f.type);
        visit(COMPLEX_TYPES[f.type]);
      }
    }
  };
  for (const op of service.operations) {
    visit(op.input);
    visit(op.output);
  }
  return (Object.keys(COMPLEX_TYPES) as ComplexTypeName[]).filter((t) => seen.has(t));
}

export function renderWsdl(service: ServiceSpec, address: string): string {
  const ops = service.operations;
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<!-- Generated from src/wsi/contract/schema.ts by \`npm run wsdl\`: do not edit by hand. -->`);
  out.push(
    `<wsdl:definitions name="${service.portType}" targetNamespace="${TARGET_NAMESPACE}"`,
    `    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"`,
    `    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"`,
    `    xmlns:xsd="http://www.w3.org/2001/XMLSchema"`,
    `    xmlns:tns="${TARGET_NAMESPACE}">`,
  );
  out.push('  <wsdl:types>');
  out.push(`    <xsd:schema targetNamespace="${TARGET_NAMESPACE}" elementFormDefault="qualified">`);
  for (const t of typesUsed(service)) {
    out.push(`      <xsd:complexType name="${t}">`);
    out.push(sequence(COMPLEX_TYPES[t], '        '));
    out.push('      </xsd:complexType>');
  }
  for (const op of ops) {
    out.push(`      <xsd:element name="${op.name}">`, '        <xsd:complexType>');
    out.push(sequence(inputFields(op), '          '));
    out.push('        </xsd:complexType>', '      </xsd:element>');
    out.push(`      <xsd:element name="${op.name}Response">`, '        <xsd:complexType>');
    out.push(sequence(op.output, '          '));
    out.push('        </xsd:complexType>', '      </xsd:element>');
  }
  out.push('      <xsd:element name="DmwsiFault" type="tns:DmwsiFault"/>');
  out.push('    </xsd:schema>', '  </wsdl:types>');

  for (const op of ops) {
    out.push(`  <wsdl:message name="${op.name}Request">`);
    out.push(`    <wsdl:part name="parameters" element="tns:${op.name}"/>`);
    out.push('  </wsdl:message>');
    out.push(`  <wsdl:message name="${op.name}Response">`);
    out.push(`    <wsdl:part name="parameters" element="tns:${op.name}Response"/>`);
    out.push('  </wsdl:message>');
  }
  out.push('  <wsdl:message name="DmwsiFault">', '    <wsdl:part name="fault" element="tns:DmwsiFault"/>', '  </wsdl:message>');

  out.push(`  <wsdl:portType name="${service.portType}">`);
  for (const op of ops) {
    out.push(`    <wsdl:operation name="${op.name}">`);
    out.push(`      <wsdl:documentation>${op.doc}</wsdl:documentation>`);
    out.push(`      <wsdl:input message="tns:${op.name}Request"/>`);
    out.push(`      <wsdl:output message="tns:${op.name}Response"/>`);
    out.push('      <wsdl:fault name="DmwsiFault" message="tns:DmwsiFault"/>');
    out.push('    </wsdl:operation>');
  }
  out.push('  </wsdl:portType>');

  out.push(`  <wsdl:binding name="${service.name}SoapBinding" type="tns:${service.portType}">`);
  out.push('    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>');
  for (const op of ops) {
    out.push(`    <wsdl:operation name="${op.name}">`);
    out.push(`      <soap:operation soapAction="${TARGET_NAMESPACE}#${op.name}" style="document"/>`);
    out.push('      <wsdl:input><soap:body use="literal"/></wsdl:input>');
    out.push('      <wsdl:output><soap:body use="literal"/></wsdl:output>');
    out.push('      <wsdl:fault name="DmwsiFault"><soap:fault name="DmwsiFault" use="literal"/></wsdl:fault>');
    out.push('    </wsdl:operation>');
  }
  out.push('  </wsdl:binding>');

  out.push(`  <wsdl:service name="${service.name}Service">`);
  out.push(`    <wsdl:port name="${service.name}Port" binding="tns:${service.name}SoapBinding">`);
  out.push(`      <soap:address location="${address}"/>`);
  out.push('    </wsdl:port>', '  </wsdl:service>', '</wsdl:definitions>', '');
  return out.join('\n');
}

/** The address written into the committed files; the served copy names the real host. */
export const PLACEHOLDER_BASE = 'http://localhost:8080';

export function wsdlFileName(service: ServiceSpec): string {
  return `${service.name}.wsdl`;
}
