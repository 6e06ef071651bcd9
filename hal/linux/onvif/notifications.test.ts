import { describe, expect, it } from 'vitest';
import { motionValue } from '../onvif-motion.js';
import { parsePullMessagesResponse } from './notifications.js';

/** A PullMessagesResponse as a camera of another make writes it: other prefixes, SOAP 1.2. */
const response = `<?xml version="1.0"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"
  xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ns1="http://www.onvif.org/ver10/topics">
<env:Body><tev:PullMessagesResponse>
  <tev:CurrentTime>2026-06-01T12:00:05Z</tev:CurrentTime>
  <tev:TerminationTime>2026-06-01T12:01:05Z</tev:TerminationTime>
  <wsnt:NotificationMessage>
    <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">ns1:VideoSource/MotionAlarm</wsnt:Topic>
    <wsnt:Message><tt:Message UtcTime="2026-06-01T12:00:04.250Z" PropertyOperation="Changed">
      <tt:Source><tt:SimpleItem Name="Source" Value="000"/></tt:Source>
      <tt:Data><tt:SimpleItem Name="State" Value="1"/></tt:Data>
    </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
  <wsnt:NotificationMessage>
    <wsnt:Topic>tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
    <wsnt:Message><tt:Message PropertyOperation="Deleted">
      <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>
    </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
  <wsnt:NotificationMessage>
    <wsnt:Topic>tns1:Device/Trigger/DigitalInput</wsnt:Topic>
    <wsnt:Message><tt:Message UtcTime="not a time"><tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data></tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
</tev:PullMessagesResponse></env:Body></env:Envelope>`;

describe('PullMessages notifications', () => {
  it('reads topic, time, operation, source and data whatever the prefixes', async () => {
    const [alarm, deleted, input] = await parsePullMessagesResponse(response);
    expect(alarm).toEqual({
      topic: 'VideoSource/MotionAlarm',
      utcTime: Date.parse('2026-06-01T12:00:04.250Z'),
      operation: 'Changed',
      source: { Source: '000' },
      data: { State: '1' },
    });
    expect(deleted).toMatchObject({ operation: 'Deleted', utcTime: null });
    expect(input).toMatchObject({
      topic: 'Device/Trigger/DigitalInput',
      utcTime: null,
      operation: null,
    });
  });

  it('turns the motion properties into on or off, and ignores the rest', async () => {
    const [alarm, deleted, input] = await parsePullMessagesResponse(response);
    expect(motionValue(alarm!)).toBe(true);
    expect(motionValue(deleted!)).toBeNull();
    expect(motionValue(input!)).toBeNull();
    expect(motionValue({ ...alarm!, data: { State: 'false' } })).toBe(false);
    expect(motionValue({ ...alarm!, data: { State: 'maybe' } })).toBeNull();
  });

  it('refuses what is not a PullMessagesResponse', async () => {
    await expect(parsePullMessagesResponse('<a/>')).rejects.toThrow();
    await expect(
      parsePullMessagesResponse(
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Other/></s:Body></s:Envelope>',
      ),
    ).rejects.toThrow('not a PullMessagesResponse');
  });
});
