import { parseStringPromise, processors } from 'xml2js';

/**
 * A parsed XML element: its attributes, its text, and its child elements by local name
 * (namespace prefixes stripped). Built by xml2js; read only through the helpers below,
 * which check shapes at run time, since the XML comes from the network.
 */
export type XmlElement = { readonly [key: string]: unknown };

/** The header and body of a SOAP envelope (SOAP 1.2 §5; 1.1 shapes parse too). */
export interface SoapEnvelope {
  header: XmlElement | undefined;
  body: XmlElement;
}

/** At most this much XML is parsed: SOAP messages here are small. */
export const MAX_SOAP_BYTES = 256 * 1024;

/** Parses a SOAP envelope; rejects when it is not one. */
export async function parseSoap(xml: string): Promise<SoapEnvelope> {
  if (xml.length > MAX_SOAP_BYTES) throw new Error('SOAP message too large');
  const root: unknown = await parseStringPromise(xml, {
    tagNameProcessors: [processors.stripPrefix],
    attrNameProcessors: [processors.stripPrefix],
    explicitCharkey: true,
    explicitArray: true,
    // `<GetProfiles/>` parses to an element like any other, not to "".
    emptyTag: () => ({}),
  });
  const top = isElement(root) ? root.Envelope : undefined;
  const envelope = isElement(top) ? top : undefined;
  const body = envelope && child(envelope, 'Body');
  if (!envelope || !body) throw new Error('not a SOAP envelope');
  return { header: child(envelope, 'Header'), body };
}

function isElement(value: unknown): value is XmlElement {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The child elements of `node` with this local name. */
export function children(node: XmlElement | undefined, name: string): XmlElement[] {
  const value = node?.[name];
  return Array.isArray(value) ? value.filter(isElement) : [];
}

/** The first child element with this local name. */
export function child(node: XmlElement | undefined, name: string): XmlElement | undefined {
  return children(node, name)[0];
}

/** The text of the first child element with this local name, trimmed. */
export function textOf(node: XmlElement | undefined, name: string): string | undefined {
  const element = child(node, name);
  return element === undefined ? undefined : text(element);
}

/** The text of an element, trimmed ('' when it has none). */
export function text(node: XmlElement): string {
  const value = node._;
  return typeof value === 'string' ? value.trim() : '';
}

/** An attribute of an element, by local name. */
export function attr(node: XmlElement | undefined, name: string): string | undefined {
  const attrs = node?.$;
  if (!isElement(attrs)) return undefined;
  const value = attrs[name];
  return typeof value === 'string' ? value : undefined;
}

/** The local name of the first element in a SOAP body: the operation. */
export function operationOf(body: XmlElement): string | undefined {
  return Object.keys(body).find((key) => key !== '$' && key !== '_' && Array.isArray(body[key]));
}

/** Escapes text for an XML element or attribute value. */
export function xmlEscape(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
