/**
 * Reads the package list of `scripts/install-os-packages.sh`: the words of its
 * `apt-get install` commands, continuation lines joined, options left out. The script stays
 * the one place the list is written; the guard reads it rather than keeping a copy.
 */

/** Debian policy 5.6.1: lower case letters, digits, `+ - .`, at least two characters. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export class InstallScriptError extends Error {
  readonly code = 'install_script_unreadable';
}

export function installedPackages(scriptText: string): string[] {
  const lines = scriptText
    .split('\n')
    // A comment runs from a `#` that starts a word to the end of the line.
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n');
  const packages = new Set<string>();
  for (const line of lines) {
    const command = /\bapt(?:-get)?\s+(?:\S+\s+)*?install\b(.*)$/.exec(line);
    if (!command) continue;
    // The command ends where the shell's next one starts.
    const words = (command[1] ?? '').split(/;|&&|\|/)[0] ?? '';
    for (const word of words.split(/\s+/)) {
      if (word === '' || word.startsWith('-')) continue;
      if (!PACKAGE_NAME.test(word)) {
        // A variable or a version pin would need a shell to read: say so rather than guess.
        throw new InstallScriptError(`cannot read the package name ${JSON.stringify(word)}`);
      }
      packages.add(word);
    }
  }
  if (packages.size === 0) throw new InstallScriptError('no apt-get install command found');
  return [...packages];
}
