import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import { errorMessage } from '../../errors.js';
import type { ClipOffer } from '../../share/types.js';
import { type CliContext, parseRequestId, withConfigOption } from '../context.js';
import { formatBytes, iso, table } from '../format.js';

/** One offered clip as `threshold clips --json` prints it. */
export interface ListedClip {
  index: number;
  start: string;
  end: string;
  motion: boolean;
  bytes: number;
  /** A JPEG made on this device (never sent), or null when it could not be made. */
  thumbnail: string | null;
}

export function registerClips(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('clips')
      .description(
        'list the clips offered for a pending request: one per motion event in its window, or the whole window (nothing is sent)',
      )
      .argument('<id>', 'the request id, as `threshold requests` lists it')
      .option('--json', 'print a JSON array'),
  ).action(async (id: string, options: { config: string; json?: boolean }) => {
    const requestId = parseRequestId(id);
    const config = await ctx.config(options.config);
    const log = ctx.logger(config.log.level);
    const listed = await withDeviceParts(config, { log }, async ({ consent }) => {
      const offers = await consent.offers(requestId);
      const clips: ListedClip[] = [];
      for (const offer of offers) {
        clips.push({ ...listOffer(offer), thumbnail: await thumbnailOf(offer) });
      }
      return clips;

      async function thumbnailOf(offer: ClipOffer): Promise<string | null> {
        try {
          return await consent.thumbnail(requestId, offer.index);
        } catch (err) {
          log.warn({ clip: offer.index, err: errorMessage(err) }, 'no thumbnail');
          return null;
        }
      }
    });
    if (options.json) {
      ctx.out(JSON.stringify(listed, null, 2));
      return;
    }
    ctx.out(
      table([
        ['CLIP', 'START', 'END', 'SECONDS', 'MOTION', 'SIZE', 'THUMBNAIL'],
        ...listed.map((clip) => [
          String(clip.index),
          clip.start,
          clip.end,
          ((Date.parse(clip.end) - Date.parse(clip.start)) / 1000).toFixed(1),
          clip.motion ? 'yes' : 'no (whole window)',
          formatBytes(clip.bytes),
          clip.thumbnail ?? '-',
        ]),
      ]),
    );
  });
}

function listOffer(offer: ClipOffer): Omit<ListedClip, 'thumbnail'> {
  return {
    index: offer.index,
    start: iso(offer.start),
    end: iso(offer.end),
    motion: offer.motion,
    bytes: offer.bytes,
  };
}
