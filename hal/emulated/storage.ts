import type { Storage } from '../interfaces.js';
import { LinuxStorage } from '../linux/storage.js';

/**
 * A real directory on a pretend medium of `capacityBytes`: free space is the capacity
 * less what `used` reports, so tests can fill the "card" without filling the disk.
 * fsync goes to the real filesystem.
 */
export class EmulatedStorage implements Storage {
  readonly #real = new LinuxStorage();

  /**
   * @param capacityBytes the pretend medium's size; tests may change it at any time
   * @param used bytes the agent has stored on it
   */
  constructor(
    public capacityBytes: number,
    private readonly used: () => Promise<number> = async () => 0,
  ) {}

  async freeBytes(path: string): Promise<number> {
    await this.#real.freeBytes(path); // the path must exist, as on the real medium
    return Math.max(0, this.capacityBytes - (await this.used()));
  }

  fsyncFile(path: string): Promise<void> {
    return this.#real.fsyncFile(path);
  }

  fsyncDir(path: string): Promise<void> {
    return this.#real.fsyncDir(path);
  }
}
