import { execFile } from 'node:child_process';

/**
 * What Debian knows about the installed system, asked through its own tools: which package
 * owns a file (`dpkg-query -S`), what a package depends on (`apt-cache depends`), which
 * packages every Debian system has (Essential or Priority required), and which plugin file
 * holds a GStreamer element (`gst-inspect-1.0`).
 */

export interface DebianTools {
  dpkgQuery: string;
  aptCache: string;
  gstInspect: string;
}

export const DEBIAN_TOOLS: DebianTools = {
  dpkgQuery: 'dpkg-query',
  aptCache: 'apt-cache',
  gstInspect: 'gst-inspect-1.0',
};

export interface ToolResult {
  /** Exit code; null when the tool could not be started (`missing`) or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  missing: boolean;
}

/** Runs a tool to completion without a shell; never throws for a failing tool. */
export function runTool(command: string, args: readonly string[]): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, missing: err?.code === 'ENOENT' });
      },
    );
  });
}

/** `/lib/x` and `/usr/lib/x` are one file on a merged-/usr system, but dpkg knows one name. */
export function withUsrAlias(path: string): string[] {
  if (/^\/usr\/(s?bin|lib\w*)\//.test(path)) return [path, path.slice(4)];
  if (/^\/(s?bin|lib\w*)\//.test(path)) return [path, `/usr${path}`];
  return [path];
}

/** A `dpkg-query -S` pattern (`*` any text, the rest literal) as an anchored RegExp. */
function globRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * The installed packages owning files that match each pattern, in one `dpkg-query -S` call
 * (it prints what it finds and complains about the rest). Architecture qualifiers are
 * dropped: `gstreamer1.0-x:amd64` is `gstreamer1.0-x`.
 */
export function fileOwners(
  patterns: readonly string[],
  tools: DebianTools = DEBIAN_TOOLS,
): Promise<Map<string, Set<string>>> {
  const unique = [...new Set(patterns)].sort();
  return cached(`owners ${tools.dpkgQuery} ${unique.join(' ')}`, () => askOwners(unique, tools));
}

async function askOwners(
  unique: readonly string[],
  tools: DebianTools,
): Promise<Map<string, Set<string>>> {
  const owners = new Map(unique.map((pattern) => [pattern, new Set<string>()]));
  if (unique.length === 0) return owners;
  const result = await runTool(tools.dpkgQuery, ['-S', ...unique]);
  if (result.missing) throw new Error(`cannot run ${tools.dpkgQuery}`);
  const matchers = unique.map((pattern) => ({ pattern, regexp: globRegExp(pattern) }));
  for (const line of result.stdout.split('\n')) {
    // `pkg1:amd64, pkg2: /path`; diversions are reported on lines of their own.
    const colon = line.indexOf(': /');
    if (colon <= 0 || /diversion by /.test(line)) continue;
    const path = line.slice(colon + 2);
    const packages = line
      .slice(0, colon)
      .split(', ')
      .map((name) => name.replace(/:[\w-]+$/, ''));
    for (const { pattern, regexp } of matchers) {
      if (!regexp.test(path)) continue;
      for (const name of packages) owners.get(pattern)?.add(name);
    }
  }
  return owners;
}

/**
 * One dependency of a package: its alternatives in order (`a | b`), each with the packages
 * that provide it when it is virtual (`<name>` in apt-cache's output).
 */
interface DependencyGroup {
  alternatives: { name: string; virtual: boolean; providers: string[] }[];
}

/** Parses `apt-cache depends --recurse` output into each package's Depends/PreDepends. */
export function parseAptDepends(text: string): Map<string, DependencyGroup[]> {
  const graph = new Map<string, DependencyGroup[]>();
  let groups: DependencyGroup[] | undefined;
  let open: DependencyGroup | undefined;
  let last: DependencyGroup['alternatives'][number] | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      groups = graph.get(line.trim()) ?? [];
      graph.set(line.trim(), groups);
      open = undefined;
      last = undefined;
      continue;
    }
    // ` |Depends:` (a `|` in place of the second space) has another alternative after it.
    const dep = /^ ([ |])(Depends|PreDepends): (.+)$/.exec(line);
    if (dep && groups) {
      const target = dep[3] ?? '';
      const virtual = target.startsWith('<');
      last = { name: target.replace(/^<|>$/g, ''), virtual, providers: [] };
      if (!open) {
        open = { alternatives: [] };
        groups.push(open);
      }
      open.alternatives.push(last);
      if (dep[1] !== '|') open = undefined;
      continue;
    }
    const provider = /^ {4}(\S+)$/.exec(line);
    if (provider?.[1] && last) last.providers.push(provider[1]);
  }
  return graph;
}

/**
 * The packages that installing `roots` brings in (`--no-install-recommends`): Depends and
 * PreDepends, recursively. Of alternatives `a | b`, apt installs the first it can, so only
 * the first is followed; a virtual package stands for every package that provides it.
 */
export function dependencyClosure(
  graph: ReadonlyMap<string, DependencyGroup[]>,
  roots: readonly string[],
): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = (queue.pop() ?? '').replace(/:any$/, '');
    if (seen.has(name)) continue;
    seen.add(name);
    for (const group of graph.get(name) ?? []) {
      const first = group.alternatives[0];
      if (!first) continue;
      if (first.virtual) queue.push(first.name, ...first.providers);
      else queue.push(first.name);
    }
  }
  return seen;
}

/** Answers kept for the process: a guard run asks each question once. */
const answers = new Map<string, Promise<unknown>>();

function cached<T>(key: string, ask: () => Promise<T>): Promise<T> {
  let answer = answers.get(key) as Promise<T> | undefined;
  if (!answer) {
    answer = ask();
    answers.set(key, answer);
    answer.catch(() => answers.delete(key));
  }
  return answer;
}

/**
 * Each package's dependencies as apt-cache told them, merged over calls: a package in it
 * came with everything it recursively depends on, so a later list of known packages needs
 * no new call.
 */
const dependencyGraphs = new Map<string, Map<string, DependencyGroup[]>>();

/**
 * `roots` and every package they depend on, from one `apt-cache depends --recurse` call
 * over the whole list (the packages not asked about before).
 */
export async function installedWith(
  roots: readonly string[],
  tools: DebianTools = DEBIAN_TOOLS,
): Promise<Set<string>> {
  let graph = dependencyGraphs.get(tools.aptCache);
  if (!graph) {
    graph = new Map();
    dependencyGraphs.set(tools.aptCache, graph);
  }
  const unknown = roots.filter((name) => !graph.has(name)).sort();
  if (unknown.length > 0) {
    const result = await runTool(tools.aptCache, [
      'depends',
      '--recurse',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...unknown,
    ]);
    if (result.code !== 0) {
      throw new Error(
        `${tools.aptCache} depends failed (${result.missing ? 'not installed' : `exit ${result.code}`}): ${result.stderr.trim()}`,
      );
    }
    for (const [name, groups] of parseAptDepends(result.stdout)) graph.set(name, groups);
  }
  return dependencyClosure(graph, roots);
}

/**
 * Installed packages that every Debian system has: Essential ones, which nothing declares
 * a dependency on (Debian policy 3.8), and those of Priority required, which the installer
 * and `debootstrap` always install.
 */
export function basePackages(tools: DebianTools = DEBIAN_TOOLS): Promise<Set<string>> {
  return cached(`base ${tools.dpkgQuery}`, () => askBasePackages(tools));
}

async function askBasePackages(tools: DebianTools): Promise<Set<string>> {
  const result = await runTool(tools.dpkgQuery, [
    '-W',
    '-f',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not JavaScript's
    '${Package}\t${Essential}\t${Priority}\t${db:Status-Abbrev}\n',
  ]);
  if (result.code !== 0) throw new Error(`${tools.dpkgQuery} -W failed: ${result.stderr.trim()}`);
  const base = new Set<string>();
  for (const line of result.stdout.split('\n')) {
    const [name, essential, priority, status] = line.split('\t');
    if (!name || !status?.startsWith('ii')) continue;
    if (essential === 'yes' || priority === 'required') base.add(name);
  }
  return base;
}

/** The plugin file holding a GStreamer element, or null when no installed plugin has it. */
export function elementPluginFile(
  element: string,
  tools: DebianTools = DEBIAN_TOOLS,
): Promise<string | null> {
  return cached(`plugin ${tools.gstInspect} ${element}`, () => askPluginFile(element, tools));
}

async function askPluginFile(element: string, tools: DebianTools): Promise<string | null> {
  const result = await runTool(tools.gstInspect, [element]);
  if (result.missing) throw new Error(`cannot run ${tools.gstInspect}`);
  if (result.code !== 0) return null;
  return /^\s*Filename\s+(\/\S+)$/m.exec(result.stdout)?.[1] ?? null;
}

/**
 * Where `python` finds each module: a file, `built-in` (inside the interpreter itself), or
 * null when it has none. `find_spec` locates a top-level module without running it.
 */
export function pythonModuleOrigins(
  python: string,
  modules: readonly string[],
): Promise<Map<string, string | null>> {
  return cached(`python ${python} ${modules.join(' ')}`, () => askModuleOrigins(python, modules));
}

async function askModuleOrigins(
  python: string,
  modules: readonly string[],
): Promise<Map<string, string | null>> {
  const program = [
    'import importlib.util, json, sys',
    'out = {}',
    'for name in sys.argv[1:]:',
    '    try:',
    '        spec = importlib.util.find_spec(name)',
    '    except (ImportError, ValueError):',
    '        spec = None',
    '    out[name] = None if spec is None else (spec.origin or "namespace")',
    'print(json.dumps(out))',
  ].join('\n');
  const result = await runTool(python, ['-c', program, ...modules]);
  if (result.code !== 0) {
    throw new Error(
      `cannot run ${python}${result.missing ? '' : `: ${result.stderr.trim().split('\n').at(-1)}`}`,
    );
  }
  const origins = JSON.parse(result.stdout) as Record<string, string | null>;
  return new Map(modules.map((name) => [name, origins[name] ?? null]));
}
