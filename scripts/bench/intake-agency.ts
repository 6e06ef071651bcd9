import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';

/**
 * The agency side of the intake benchmark (scripts/bench/intake.ts), in a process of its
 * own: it publishes each burst it is sent over IPC, in order, at QoS 1, over loopback
 * TCP, and replies with the wall-clock publish times of the burst's marked messages.
 *
 *   forked by intake.ts: node --import tsx scripts/bench/intake-agency.ts --publisher
 */

/** Wall-clock ms with sub-millisecond precision, comparable across processes. */
export const wallNow = () => performance.timeOrigin + performance.now();

export interface Burst {
  url: string;
  topic: string;
  /** The same Buffer may appear many times: the IPC channel sends it once. */
  payloads: Buffer[];
  /** Indexes in `payloads` whose publish times are reported back, in this order. */
  marks: number[];
  /** Published at this steady rate instead of all at once. */
  ratePerSecond?: number;
}

/** Publishes each burst it is sent, in order, at QoS 1. */
async function publisher(): Promise<void> {
  let client: mqtt.MqttClient | undefined;
  process.on('message', (burst: Burst) => {
    void (async () => {
      client ??= await mqtt.connectAsync(burst.url, { protocolVersion: 4, reconnectPeriod: 0 });
      const connected = client;
      const marks = new Map(burst.marks.map((index, k) => [index, k]));
      const markedAt = burst.marks.map(() => 0);
      const acks: Promise<unknown>[] = [];
      const send = (i: number) => {
        const k = marks.get(i);
        if (k !== undefined) markedAt[k] = wallNow();
        const payload = Buffer.from(burst.payloads[i] ?? Buffer.alloc(0));
        acks.push(connected.publishAsync(burst.topic, payload, { qos: 1 }));
      };
      const rate = burst.ratePerSecond;
      if (rate === undefined) for (let i = 0; i < burst.payloads.length; i++) send(i);
      const started = performance.now();
      for (let next = 0; rate !== undefined && next < burst.payloads.length; ) {
        const due = Math.floor(((performance.now() - started) * rate) / 1000) + 1;
        while (next < Math.min(due, burst.payloads.length)) send(next++);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await Promise.all(acks);
      process.send?.({ markedAt });
    })().catch((err: unknown) => {
      process.stderr.write(`publisher: ${String(err)}\n`);
      process.exit(1);
    });
  });
}

if (process.argv.includes('--publisher')) await publisher();
