import { xmlEscape as x } from '../../../hal/linux/onvif/soap.js';

/**
 * The emulated camera's SOAP responses, as templates. Element names and namespaces are
 * those of the ONVIF WSDLs (device ver10, media ver10, events ver10) and WS-BaseNotification
 * (wsn b-2); every value from outside is escaped.
 */

const NAMESPACES = [
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope"',
  'xmlns:wsa="http://www.w3.org/2005/08/addressing"',
  'xmlns:tt="http://www.onvif.org/ver10/schema"',
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"',
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl"',
  'xmlns:tev="http://www.onvif.org/ver10/events/wsdl"',
  'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"',
  'xmlns:tns1="http://www.onvif.org/ver10/topics"',
  'xmlns:ter="http://www.onvif.org/ver10/error"',
  'xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2"',
].join(' ');

export function envelope(body: string, header = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NAMESPACES}><s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;
}

/** A SOAP 1.2 fault (SOAP 1.2 Part 1 §5.4) with an ONVIF subcode (ONVIF Core §5.11.2). */
export function fault(code: 'Sender' | 'Receiver', subcode: string, reason: string): string {
  return envelope(
    '<s:Fault>' +
      `<s:Code><s:Value>s:${code}</s:Value><s:Subcode><s:Value>${x(subcode)}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en">${x(reason)}</s:Text></s:Reason>` +
      '</s:Fault>',
  );
}

export function systemDateAndTime(now: Date): string {
  return envelope(
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
      '<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
      '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>' +
      '<tt:UTCDateTime>' +
      `<tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute><tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time>` +
      `<tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month><tt:Day>${now.getUTCDate()}</tt:Day></tt:Date>` +
      '</tt:UTCDateTime>' +
      '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
  );
}

/** Where each service of a camera answers. */
export interface ServiceAddresses {
  device: string;
  media: string;
  events: string;
}

export function services(addresses: ServiceAddresses): string {
  const service = (namespace: string, xaddr: string) =>
    `<tds:Service><tds:Namespace>${namespace}</tds:Namespace><tds:XAddr>${x(xaddr)}</tds:XAddr>` +
    '<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>';
  return envelope(
    '<tds:GetServicesResponse>' +
      service('http://www.onvif.org/ver10/device/wsdl', addresses.device) +
      service('http://www.onvif.org/ver10/media/wsdl', addresses.media) +
      service('http://www.onvif.org/ver10/events/wsdl', addresses.events) +
      '</tds:GetServicesResponse>',
  );
}

export function capabilities(addresses: ServiceAddresses): string {
  return envelope(
    '<tds:GetCapabilitiesResponse><tds:Capabilities>' +
      `<tt:Device><tt:XAddr>${x(addresses.device)}</tt:XAddr></tt:Device>` +
      `<tt:Events><tt:XAddr>${x(addresses.events)}</tt:XAddr>` +
      '<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>' +
      '<tt:WSPullPointSupport>true</tt:WSPullPointSupport>' +
      '<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>' +
      '</tt:Events>' +
      `<tt:Media><tt:XAddr>${x(addresses.media)}</tt:XAddr><tt:StreamingCapabilities>` +
      '<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>' +
      '</tt:StreamingCapabilities></tt:Media>' +
      '</tds:Capabilities></tds:GetCapabilitiesResponse>',
  );
}

export function deviceInformation(camera: number): string {
  return envelope(
    '<tds:GetDeviceInformationResponse>' +
      '<tds:Manufacturer>Threshold</tds:Manufacturer><tds:Model>Emulated Doorbell</tds:Model>' +
      '<tds:FirmwareVersion>1.0</tds:FirmwareVersion>' +
      `<tds:SerialNumber>EMU-${camera}</tds:SerialNumber><tds:HardwareId>emulated</tds:HardwareId>` +
      '</tds:GetDeviceInformationResponse>',
  );
}

/** What the one video source of a camera delivers. */
export interface VideoSettings {
  width: number;
  height: number;
  fps: number;
}

export const PROFILE_TOKEN = 'profile_main';
const SOURCE_TOKEN = 'video_source_1';

export function profiles(video: VideoSettings): string {
  return envelope(
    `<trt:GetProfilesResponse><trt:Profiles token="${PROFILE_TOKEN}" fixed="true">` +
      '<tt:Name>mainStream</tt:Name>' +
      '<tt:VideoSourceConfiguration token="video_source_config_1">' +
      `<tt:Name>video source</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>${SOURCE_TOKEN}</tt:SourceToken>` +
      `<tt:Bounds x="0" y="0" width="${video.width}" height="${video.height}"/>` +
      '</tt:VideoSourceConfiguration>' +
      '<tt:VideoEncoderConfiguration token="video_encoder_config_1">' +
      '<tt:Name>main encoder</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>' +
      `<tt:Resolution><tt:Width>${video.width}</tt:Width><tt:Height>${video.height}</tt:Height></tt:Resolution>` +
      '<tt:Quality>5</tt:Quality>' +
      `<tt:RateControl><tt:FrameRateLimit>${video.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl>` +
      '<tt:H264><tt:GovLength>25</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264>' +
      '<tt:SessionTimeout>PT60S</tt:SessionTimeout>' +
      '</tt:VideoEncoderConfiguration>' +
      '</trt:Profiles></trt:GetProfilesResponse>',
  );
}

export function videoSources(video: VideoSettings): string {
  return envelope(
    `<trt:GetVideoSourcesResponse><trt:VideoSources token="${SOURCE_TOKEN}">` +
      `<tt:Framerate>${video.fps}</tt:Framerate>` +
      `<tt:Resolution><tt:Width>${video.width}</tt:Width><tt:Height>${video.height}</tt:Height></tt:Resolution>` +
      '</trt:VideoSources></trt:GetVideoSourcesResponse>',
  );
}

export function streamUri(uri: string): string {
  return envelope(
    '<trt:GetStreamUriResponse><trt:MediaUri>' +
      `<tt:Uri>${x(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
      '<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>' +
      '</trt:MediaUri></trt:GetStreamUriResponse>',
  );
}

export function createPullPointSubscription(
  address: string,
  current: number,
  termination: number,
): string {
  return envelope(
    '<tev:CreatePullPointSubscriptionResponse>' +
      `<tev:SubscriptionReference><wsa:Address>${x(address)}</wsa:Address></tev:SubscriptionReference>` +
      `<wsnt:CurrentTime>${iso(current)}</wsnt:CurrentTime>` +
      `<wsnt:TerminationTime>${iso(termination)}</wsnt:TerminationTime>` +
      '</tev:CreatePullPointSubscriptionResponse>',
  );
}

/** One notification: a topic and a `tt:Message` (ONVIF Core §9.2.2). */
export interface Notification {
  topic: string;
  utcTime: number;
  operation: 'Initialized' | 'Changed';
  source: Readonly<Record<string, string>>;
  data: Readonly<Record<string, string>>;
}

export function pullMessages(
  current: number,
  termination: number,
  messages: readonly Notification[],
): string {
  return envelope(
    '<tev:PullMessagesResponse>' +
      `<tev:CurrentTime>${iso(current)}</tev:CurrentTime>` +
      `<tev:TerminationTime>${iso(termination)}</tev:TerminationTime>` +
      messages.map(notificationMessage).join('') +
      '</tev:PullMessagesResponse>',
  );
}

function notificationMessage(message: Notification): string {
  const items = (values: Readonly<Record<string, string>>) =>
    Object.entries(values)
      .map(([name, value]) => `<tt:SimpleItem Name="${x(name)}" Value="${x(value)}"/>`)
      .join('');
  return (
    '<wsnt:NotificationMessage>' +
    '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">' +
    `${x(message.topic)}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${iso(message.utcTime)}" PropertyOperation="${message.operation}">` +
    `<tt:Source>${items(message.source)}</tt:Source><tt:Data>${items(message.data)}</tt:Data>` +
    '</tt:Message></wsnt:Message></wsnt:NotificationMessage>'
  );
}

export function renew(current: number, termination: number): string {
  return envelope(
    '<wsnt:RenewResponse>' +
      `<wsnt:TerminationTime>${iso(termination)}</wsnt:TerminationTime>` +
      `<wsnt:CurrentTime>${iso(current)}</wsnt:CurrentTime>` +
      '</wsnt:RenewResponse>',
  );
}

export function unsubscribe(): string {
  return envelope('<wsnt:UnsubscribeResponse/>');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
