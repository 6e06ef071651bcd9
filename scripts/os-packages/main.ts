import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../agent/errors.js';
import { checkOsPackages } from './check.js';

/**
 * `npx tsx scripts/os-packages/main.ts [--script FILE] [--json]`: which Debian package
 * provides each OS part the project uses, and whether the install script brings it in.
 * Exits 1 when a part is not covered (the same check `npm test` runs).
 */
const ROOT = resolve(import.meta.dirname, '../..');

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { script: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const report = await checkOsPackages({
    root: ROOT,
    ...(values.script ? { script: resolve(values.script) } : {}),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const { part, owners, via } of report.parts) {
      const name = part.kind === 'typelib' ? `${part.name}-${part.version ?? '*'}` : part.name;
      const owner = owners.join(', ') || '(none)';
      process.stdout.write(
        `${part.kind.padEnd(14)} ${name.padEnd(26)} ${owner.padEnd(30)} ${via ?? 'MISSING'}\n`,
      );
    }
    for (const problem of report.problems) process.stderr.write(`os-packages: ${problem}\n`);
  }
  return report.problems.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`os-packages: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  },
);
