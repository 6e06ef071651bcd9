import { pino } from 'pino';
import { MqttSubscriber } from '../../agent/mqtt/client.js';
import { REQUEST_TOPIC_PREFIX } from '../../agent/requests/protocol.js';
import { type Burst, wallNow } from './intake-agency.js';

/**
 * Helpers of the intake benchmark (scripts/bench/intake.ts): latency statistics, polling,
 * and the transport floor: the bench's bursts through the same broker and publisher to an
 * MQTT client that does nothing with them.
 */

export function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    n: sorted.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** Polls every 2 ms until `done`, for at most 120 s. */
export async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('intake did not finish within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export const ratioOf = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/**
 * The cheap bursts, positions as in `flood`, on a topic the device does not subscribe to,
 * to a second MqttSubscriber whose handler only notes arrivals: the latency of the marked
 * message is then publisher, broker and MQTT client alone.
 */
export async function measureTransport(input: {
  trials: number;
  floodMessages: number;
  url: string;
  mqtt5: boolean;
  publish: (burst: Omit<Burst, 'url'>) => Promise<number[]>;
  make: (i: number) => Buffer;
  validBytes: () => Buffer;
}) {
  const topic = `${REQUEST_TOPIC_PREFIX}zzzz`;
  let arrived = 0;
  let marked: Buffer | undefined;
  let markArrival = Number.NaN;
  const subscriber = new MqttSubscriber({
    url: input.url,
    clientId: `bench-transport-${process.pid}`,
    topics: [topic],
    log: pino({ level: 'silent' }),
    protocolVersion: input.mqtt5 ? 5 : 4,
    handler: async ({ payload }) => {
      arrived++;
      if (marked && payload.length === marked.length && payload.equals(marked)) {
        markArrival = wallNow();
      }
    },
  });
  await subscriber.start(new AbortController().signal);
  try {
    await until(() => subscriber.status().state === 'ready');
    const latencies: number[] = [];
    const { trials, floodMessages } = input;
    for (let trial = 0; trial < trials; trial++) {
      const payloads = Array.from({ length: floodMessages }, (_, i) =>
        input.make(trial * floodMessages + i),
      );
      const position = Math.round((trial / (trials - 1)) * floodMessages);
      marked = input.validBytes();
      payloads.splice(position, 0, marked);
      const before = arrived;
      const [markedAt = Number.NaN] = await input.publish({ topic, payloads, marks: [position] });
      await until(() => arrived >= before + payloads.length);
      latencies.push(markArrival - markedAt);
    }
    return { arrival: stats(latencies), trials, floodMessagesPerTrial: floodMessages };
  } finally {
    await subscriber.stop();
  }
}
