import { attr, child, children, parseSoap, text, textOf, type XmlElement } from './soap.js';

/**
 * One WS-BaseNotification message from an ONVIF event service, in our own terms (ONVIF
 * Core §9.2: a topic, a `tt:Message` with `UtcTime` and `PropertyOperation`, and
 * `Source` and `Data` as lists of SimpleItem name/value pairs).
 */
export interface OnvifNotification {
  /** The topic without its namespace prefix, e.g. `RuleEngine/CellMotionDetector/Motion`. */
  topic: string;
  /** The camera's time of the message, ms since the epoch; null when absent or unreadable. */
  utcTime: number | null;
  /** `Initialized` on subscribing, `Changed` on a change, `Deleted`; null when absent. */
  operation: 'Initialized' | 'Changed' | 'Deleted' | null;
  source: Readonly<Record<string, string>>;
  data: Readonly<Record<string, string>>;
}

/** The messages of a PullMessagesResponse (ONVIF Events WSDL), in document order. */
export async function parsePullMessagesResponse(xml: string): Promise<OnvifNotification[]> {
  const { body } = await parseSoap(xml);
  const response = child(body, 'PullMessagesResponse');
  if (!response) throw new Error('not a PullMessagesResponse');
  return children(response, 'NotificationMessage').map(parseNotificationMessage);
}

/** The `CurrentTime` and `TerminationTime` of a subscription response, ms. */
export async function parseTerminationTimes(
  xml: string,
  responseName: string,
): Promise<{ current: number; termination: number } | null> {
  const { body } = await parseSoap(xml);
  const response = child(body, responseName);
  const current = Date.parse(textOf(response, 'CurrentTime') ?? '');
  const termination = Date.parse(textOf(response, 'TerminationTime') ?? '');
  return Number.isFinite(current) && Number.isFinite(termination) ? { current, termination } : null;
}

function parseNotificationMessage(message: XmlElement): OnvifNotification {
  const topicElement = child(message, 'Topic');
  const topic = (topicElement ? text(topicElement) : '').replace(/^[^:/]*:/, '');
  // wsnt:Message wraps tt:Message; both have the local name Message.
  const outer = child(message, 'Message');
  const inner = child(outer, 'Message') ?? outer;
  const utcTime = Date.parse(attr(inner, 'UtcTime') ?? '');
  const operation = attr(inner, 'PropertyOperation');
  return {
    topic,
    utcTime: Number.isFinite(utcTime) ? utcTime : null,
    operation:
      operation === 'Initialized' || operation === 'Changed' || operation === 'Deleted'
        ? operation
        : null,
    source: simpleItems(child(inner, 'Source')),
    data: simpleItems(child(inner, 'Data')),
  };
}

function simpleItems(node: XmlElement | undefined): Record<string, string> {
  const items: Record<string, string> = {};
  for (const item of children(node, 'SimpleItem')) {
    const name = attr(item, 'Name');
    const value = attr(item, 'Value');
    if (name !== undefined && value !== undefined) items[name] = value;
  }
  return items;
}
