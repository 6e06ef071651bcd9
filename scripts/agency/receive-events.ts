import type { CustodyRecord } from '../../agent/seal/custody.js';

/** What the receiver reports: one event per clip delivered, quarantined or dropped. */
export type ReceiverEvent =
  | {
      readonly event: 'clip';
      readonly requestId: string;
      readonly clipIndex: number;
      readonly path: string;
      readonly bytes: number;
      readonly sha256: string;
      readonly custodyPath: string;
      readonly custody: CustodyFacts;
    }
  | {
      readonly event: 'quarantined';
      readonly requestId: string;
      readonly clipIndex: number;
      readonly reason: string;
      readonly message: string;
      readonly path: string;
    }
  | {
      readonly event: 'duplicate';
      readonly requestId: string;
      readonly clipIndex: number;
      readonly kind: string;
    };

/** The custody record's key facts, for the event line. */
export interface CustodyFacts {
  readonly custodyKey: string;
  readonly requestPayloadSha256: string;
  readonly start: string;
  readonly end: string;
  readonly cutMode: string;
  readonly audio: boolean;
  readonly decidedAt: string;
  readonly clockSync: string;
  readonly sourceSegments: number;
  readonly sealedSha256: string;
  readonly agentVersion: string;
  readonly ffmpegVersion: string;
}

export function custodyFacts(record: CustodyRecord): CustodyFacts {
  return {
    custodyKey: record.custodyKey,
    requestPayloadSha256: record.requestPayloadSha256,
    start: record.clip.start,
    end: record.clip.end,
    cutMode: record.cutMode,
    audio: record.audio,
    decidedAt: record.decidedAt,
    clockSync: record.clockSync,
    sourceSegments: record.sourceSegments.length,
    sealedSha256: record.sealed.sha256,
    agentVersion: record.agentVersion,
    ffmpegVersion: record.ffmpegVersion,
  };
}
