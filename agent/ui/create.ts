import type { Config } from '../config/schema.js';
import type { AgentEvents } from '../events.js';
import type { LivePort } from '../live/settings.js';
import type { Logger } from '../log.js';
import type { DeviceParts } from '../parts.js';
import type { PolicySource } from '../requests/policy-source.js';
import { audioAvailability } from './audio-available.js';
import type { ConsentPort } from './consent-port.js';
import { OwnerPage } from './owner-page.js';
import { PairingCodes } from './pairing.js';
import { Sessions } from './sessions.js';

/** The owner's page on the agent's parts: one call for the composition root. */
export function createOwnerPage(deps: {
  config: Config;
  parts: Pick<DeviceParts, 'db' | 'audit' | 'requests' | 'state' | 'segments' | 'floor'>;
  consent: ConsentPort;
  policy: PolicySource;
  events: AgentEvents;
  log: Logger;
  retry?: { baseMs: number; maxMs: number };
  live?: LivePort;
}): OwnerPage {
  const { config, parts } = deps;
  const pairing = new PairingCodes({ db: parts.db, audit: parts.audit });
  return new OwnerPage(
    {
      config,
      store: parts.requests,
      audit: parts.audit,
      policy: deps.policy,
      consent: deps.consent,
      events: deps.events,
      state: parts.state,
      sessions: new Sessions({ db: parts.db, audit: parts.audit, pairing }),
      clock: parts.floor,
      log: deps.log.child({ component: 'ui' }),
      audioAvailable: audioAvailability({
        segments: parts.segments,
        ffprobePath: config.ffmpeg.ffprobePath,
      }),
      ...(deps.live ? { live: deps.live } : {}),
    },
    deps.retry ? { retry: deps.retry } : {},
  );
}
