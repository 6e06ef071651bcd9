import type { AgentState } from '../state.js';
import type { LiveStatus, LiveViewer } from './live-view.js';

/** The owner's live view choices, kept with the agent's state: sound off unless turned on. */
export class LiveSettings {
  static readonly KEY = 'live';

  constructor(private readonly state: AgentState) {}

  async audio(): Promise<boolean> {
    const value = await this.state.get<{ audio?: unknown }>(LiveSettings.KEY);
    return value?.audio === true;
  }

  async setAudio(on: boolean): Promise<void> {
    await this.state.set(LiveSettings.KEY, { audio: on });
  }
}

/** What the owner's page uses of live view. */
export interface LivePort {
  attach(signal: AbortSignal): Promise<LiveViewer>;
  status(): LiveStatus;
  restartPublisher(): void;
  audio(): Promise<boolean>;
  setAudio(on: boolean): Promise<void>;
}
