import { EventEmitter } from 'node:events';
import type { ShareJob } from './share/types.js';

/**
 * Fan-out of what changed inside the agent, for the owner's page (live updates) and the
 * indicator. Listeners must not throw; nothing waits for them.
 */
export interface AgentEventMap {
  /** A request arrived, was decided, expired or was withdrawn. */
  requests: [{ requestId: string }];
  /** A share job moved or made progress. */
  job: [ShareJob];
}

export class AgentEvents extends EventEmitter<AgentEventMap> {}
