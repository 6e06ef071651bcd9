import type { Storage } from '../interfaces.js';
import { LinuxStorage } from '../linux/storage.js';

/**
 * A real directory on a pretend medium of `capacityBytes`: free space is the capacity
 * less what `used` reports, so tests can fill the "card" without filling the disk.
 * fsync goes to the real filesystem.
 */
export class EmulatedStorage implements Storage {
  readonly #real = new LinuxStorage();

  constructor(
    private readonly capacityBytes: number,
    private readonly used: () => Promise<number>,
  ) {}

  async freeBytes(_path: string): Promise<number> {
    return Math.max(0, this.capacityBytes - (await this.used()));
  }

  fsyncFile(path: string): Promise<void> {
    return this.#real.fsyncFile(path);
  }

  fsyncDir(path: string): Promise<void> {
    return this.#real.fsyncDir(path);
  }
}
