import { ThresholdError } from '../../errors.js';

/**
 * Footage the in-process remux does not handle (another codec, frame reordering, tables it
 * does not expect). Not a failure of the export: the exporter gives the cut to ffmpeg.
 */
export class RemuxUnsupported extends ThresholdError {
  constructor(reason: string) {
    super('remux_unsupported', reason);
  }
}
