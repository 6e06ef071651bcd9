import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { errorMessage } from '../../agent/errors.js';
import {
  basePackages,
  DEBIAN_TOOLS,
  type DebianTools,
  elementPluginFile,
  fileOwners,
  installedWith,
  pythonModuleOrigins,
  runTool,
  withUsrAlias,
} from './debian.js';
import { installedPackages } from './install-script.js';
import { DEFAULT_PYTHON, type OsPart, projectParts } from './project-parts.js';

/**
 * The guard that keeps `scripts/install-os-packages.sh` complete: every OS part the project
 * uses (project-parts.ts) must come from a Debian package that the script installs, that
 * one of those depends on, or that every Debian system has. A part whose package is not
 * among them, or that no installed package provides, is a problem naming it.
 */

export interface ResolvedPart {
  part: OsPart;
  /** The files dpkg was asked about (after plugin and module look-ups). */
  files: string[];
  /** Packages owning one of them. */
  owners: string[];
  /** Why it is fine, or null when it is a problem. */
  via: 'script' | 'dependency' | 'base' | null;
}

export interface OsPackageReport {
  script: string;
  scriptPackages: string[];
  parts: ResolvedPart[];
  problems: string[];
}

export interface CheckOptions {
  /** The repository root. */
  root: string;
  /** The install script to judge; the repository's own by default. */
  script?: string;
  tools?: DebianTools;
}

export async function checkOsPackages(options: CheckOptions): Promise<OsPackageReport> {
  const tools = options.tools ?? DEBIAN_TOOLS;
  const scriptPath = options.script ?? `${options.root}/scripts/install-os-packages.sh`;
  const inRepo = relative(options.root, scriptPath);
  const script = inRepo && !inRepo.startsWith('..') ? inRepo : scriptPath;
  const report: OsPackageReport = { script, scriptPackages: [], parts: [], problems: [] };
  try {
    report.scriptPackages = installedPackages(await readFile(scriptPath, 'utf8'));
  } catch (err) {
    report.problems.push(`${script}: ${errorMessage(err)}`);
    return report;
  }
  const derived = await projectParts(options.root);
  report.problems.push(...derived.problems);

  const missingTools = await missingDebianTools(tools);
  if (missingTools.length > 0) {
    // Not skipped: the packages are Debian's, and a machine that cannot be asked about
    // them is one on which nothing here can be shown to be installed.
    report.problems.push(
      `cannot run ${missingTools.join(' or ')}: this guard asks Debian's package tools which package provides each part; run it on Debian 12, where ${script} installs the packages`,
    );
    return report;
  }

  // The dependency closure is the slow question (seconds): it runs beside the others.
  const closure = installedWith(report.scriptPackages, tools).catch((err: unknown) => {
    report.problems.push(`${script}: ${errorMessage(err)}`);
    return new Set<string>();
  });
  const base = basePackages(tools);
  base.catch(() => undefined);
  const origins = moduleOrigins(derived.parts);
  const lookups = await Promise.all(derived.parts.map((part) => filesOf(part, tools, origins)));
  const owners = await fileOwners(
    lookups.flatMap((lookup) => lookup.files),
    tools,
  );
  const accepted = {
    script: new Set(report.scriptPackages),
    dependency: await closure,
    base: await base,
  };
  derived.parts.forEach((part, i) => {
    const lookup = lookups[i] ?? { files: [] };
    const found = [...new Set(lookup.files.flatMap((file) => [...(owners.get(file) ?? [])]))];
    const via = (['script', 'dependency', 'base'] as const).find((why) =>
      found.some((name) => accepted[why].has(name)),
    );
    report.parts.push({ part, files: lookup.files, owners: found, via: via ?? null });
    if (via) return;
    report.problems.push(
      found.length === 0
        ? `${describe(part)}: no installed Debian package provides it (${lookup.missing ?? `no owner of ${lookup.files.join(', ')}`}); add the package that does to ${script}`
        : `${describe(part)}: comes from ${found.join(' or ')}, which ${script} does not install, directly or as a dependency; add ${found[0]} to it`,
    );
  });
  return report;
}

async function missingDebianTools(tools: DebianTools): Promise<string[]> {
  const names = [tools.dpkgQuery, tools.aptCache];
  const runs = await Promise.all(names.map((tool) => runTool(tool, ['--version'])));
  return names.filter((_, i) => runs[i]?.missing);
}

/** The files (dpkg-query patterns) that make up a part on a Debian system. */
async function filesOf(
  part: OsPart,
  tools: DebianTools,
  origins: ReadonlyMap<string, Promise<Map<string, string | null>>>,
): Promise<{ files: string[]; missing?: string }> {
  switch (part.kind) {
    case 'command':
      return {
        files: part.name.includes('/')
          ? withUsrAlias(part.name)
          : ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].map((dir) => `${dir}/${part.name}`),
      };
    case 'typelib':
      return { files: [`*/girepository-1.0/${part.name}-${part.version ?? '*'}.typelib`] };
    case 'gst-element': {
      const file = await elementPluginFile(part.name, tools).catch((err: unknown) => {
        return errorMessage(err);
      });
      if (file === null || !file.startsWith('/')) {
        return { files: [], missing: file ?? `${tools.gstInspect} does not know it` };
      }
      return { files: withUsrAlias(file) };
    }
    case 'python-module': {
      const python = part.interpreter ?? DEFAULT_PYTHON;
      try {
        const origin = (await origins.get(python))?.get(part.name);
        if (!origin || origin === 'namespace') {
          return { files: [], missing: `${python} cannot find it` };
        }
        // Built-in and frozen modules are inside the interpreter.
        return { files: withUsrAlias(origin.startsWith('/') ? origin : python) };
      } catch (err) {
        return { files: [], missing: errorMessage(err) };
      }
    }
  }
}

/** Where each interpreter finds its modules: one interpreter start for all of them. */
function moduleOrigins(parts: readonly OsPart[]): Map<string, Promise<Map<string, string | null>>> {
  const byPython = new Map<string, string[]>();
  for (const part of parts) {
    if (part.kind !== 'python-module') continue;
    const python = part.interpreter ?? DEFAULT_PYTHON;
    byPython.set(python, [...(byPython.get(python) ?? []), part.name]);
  }
  const origins = new Map<string, Promise<Map<string, string | null>>>();
  for (const [python, names] of byPython) {
    const lookup = pythonModuleOrigins(python, names);
    // Each part awaits it; a failure is reported per module, never left unhandled.
    lookup.catch(() => undefined);
    origins.set(python, lookup);
  }
  return origins;
}

function describe(part: OsPart): string {
  const where = part.where.slice(0, 2).join(', ') + (part.where.length > 2 ? ', …' : '');
  switch (part.kind) {
    case 'command':
      return `command ${part.name} (${where})`;
    case 'python-module':
      return `Python module ${part.name} (${where})`;
    case 'typelib':
      return `GObject typelib ${part.name}-${part.version ?? '*'} (${where})`;
    case 'gst-element':
      return `GStreamer element ${part.name} (${where})`;
  }
}
