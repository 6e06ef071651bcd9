import type { Logger } from 'pino';
import { Agent, hardwareFor } from '../../agent/compose.js';
import type { Config } from '../../agent/config/schema.js';
import type { Database } from '../../agent/db/database.js';
import { agentPaths } from '../../agent/db/open.js';
import { Pins } from '../../agent/recording/pins.js';
import { SegmentIndex } from '../../agent/recording/segment-index.js';
import { type FootageIndex, footageIndexOf } from '../../agent/requests/footage.js';
import { startEmulatedCameras } from '../camera/emulated-camera.js';

/**
 * For the intake benchmark's `--record` mode: the agent's real recorder (composition
 * root, emulated 1080p RTSP camera, ffmpeg) in the benchmark's process, so intake floods
 * run on the same event loop and the same database connection as the segment index, as
 * they do on a device. `recordingDuring` then tells whether recording went on.
 */

export interface RecordingHarness {
  db: Database;
  footage: FootageIndex;
  /** Segments indexed with a start in [fromMs, toMs), the largest gap, recorder restarts. */
  recordingDuring(fromMs: number, toMs: number): Promise<RecordingReport>;
  stop(): Promise<void>;
}

export interface RecordingReport {
  segments: number;
  expectedSegments: number;
  maxGapMs: number;
  recorderRestarts: number;
}

export async function startRecording(config: Config, log: Logger): Promise<RecordingHarness> {
  const camera = await startEmulatedCameras({ cameras: 1, keyframeSeconds: 1 });
  const url = camera.urls[0] ?? '';
  // Motion detection is not what is measured here: recording alone. No mqtt: the
  // benchmark runs the request service under test itself; the agent's own would take the
  // same MQTT client id and the two would keep disconnecting each other.
  const { mqtt: _theBenchmarks, ...withoutMqtt } = config;
  const recordingConfig: Config = {
    ...withoutMqtt,
    camera: { source: 'rtsp', url },
    motion: { ...config.motion, source: 'none' },
  };
  const agent = await Agent.create(recordingConfig, hardwareFor(recordingConfig), log);
  const controller = new AbortController();
  await agent.start(controller.signal);
  const segments = new SegmentIndex(agent.db, agentPaths(config.dataDir).segments);
  // Recording for a few segments before anything is measured.
  const deadline = Date.now() + 30_000;
  while ((await segments.summary()).count < 4) {
    if (Date.now() > deadline) throw new Error('the recorder indexed no segments within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    db: agent.db,
    footage: footageIndexOf(segments, new Pins(agent.db)),
    recordingDuring: async (fromMs, toMs) => {
      const rows = (await segments.all()).filter((s) => s.startMs >= fromMs && s.startMs < toMs);
      let maxGapMs = 0;
      for (let i = 1; i < rows.length; i++) {
        maxGapMs = Math.max(maxGapMs, (rows[i]?.startMs ?? 0) - (rows[i - 1]?.endMs ?? 0));
      }
      const runs = await agent.db.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM recorder_runs WHERE started_at >= ? AND started_at < ?',
        [fromMs, toMs],
      );
      return {
        segments: rows.length,
        expectedSegments: Math.floor((toMs - fromMs) / (config.recording.segmentSeconds * 1000)),
        maxGapMs,
        recorderRestarts: runs?.n ?? 0,
      };
    },
    stop: async () => {
      controller.abort();
      await agent.stop();
      await camera.stop();
    },
  };
}
