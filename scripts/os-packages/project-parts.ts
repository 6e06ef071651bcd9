import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * The parts of the operating system the project loads, read from its own source so the
 * list cannot fall behind the code: the commands it spawns, the Python modules and GObject
 * typelibs its Python scripts import, and the GStreamer elements its pipelines are built
 * from. What the source does not name (elements GStreamer's RTSP server makes by itself)
 * is listed by hand below, each with its reason.
 */

export type OsPartKind = 'command' | 'python-module' | 'typelib' | 'gst-element';

export interface OsPart {
  kind: OsPartKind;
  /** A command name or absolute path, a module, a typelib namespace, an element. */
  name: string;
  /** Typelibs: the version `gi.require_version` asks for; null when any will do. */
  version?: string | null;
  /** Python modules: the interpreter that imports them (the script's `#!`). */
  interpreter?: string;
  /** The files that name it, relative to the repository, or why it is listed by hand. */
  where: string[];
}

/** Where the project's code lives; `node_modules` and build output are not the project. */
const SOURCE_DIRS = ['agent', 'hal', 'scripts', 'bin', 'test-fixtures', 'deploy'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'generated']);
const SOURCE_FILE = /\.(ts|js|mjs|py|sh)$/;

/**
 * Node's own tools: Node (>= 20.19) is installed from Node's releases, not from Debian 12
 * (whose nodejs is 18), so no Debian package is asked for them.
 */
const NODE_TOOLS = new Set(['node', 'npm', 'npx', 'tsx']);

/** The Python scripts are run with Debian's interpreter, which has the GObject bindings. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** The function whose string literals are the emulated camera's pipeline description. */
export const PIPELINE_FUNCTION = 'launch_line';

/**
 * Elements GStreamer's RTSP server (libgstrtspserver, rtsp-media.c and rtsp-stream.c)
 * makes itself for every stream it serves: RTP sessions, the TCP-interleaved path through
 * appsink, the UDP path. No launch line names them.
 */
const RTSP_SERVER_ELEMENTS = ['rtpbin', 'appsink', 'udpsrc', 'multiudpsink', 'queue', 'funnel'];

export const HAND_LISTED: readonly OsPart[] = RTSP_SERVER_ELEMENTS.map((name) => ({
  kind: 'gst-element',
  name,
  where: ["made by GStreamer's RTSP server for each stream"],
}));

export interface ProjectParts {
  parts: OsPart[];
  /** The code names a part where the guard cannot see it, or contradicts itself. */
  problems: string[];
}

/** Reads every source file under `root` and collects the OS parts they name. */
export async function projectParts(root: string): Promise<ProjectParts> {
  const parts = new PartSet();
  const problems: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const path of await sourceFiles(join(root, dir))) {
      const file = relative(root, path);
      const text = withoutCommentLines(await readFile(path, 'utf8'), file);
      for (const command of commandsNamed(text, file)) parts.add('command', command, file);
      if (file.endsWith('.py')) {
        const python = pythonParts(text, file);
        for (const part of python.parts) parts.add(part.kind, part.name, file, part);
        problems.push(...python.problems);
      }
    }
  }
  for (const part of HAND_LISTED)
    for (const why of part.where) parts.add(part.kind, part.name, why);
  return { parts: parts.list(), problems };
}

/**
 * Commands a source file runs: the first argument of a spawn-like call given an argument
 * array (`spawn('ffmpeg', [`, `run('openssl', [`), absolute paths of system binaries
 * (`'/usr/sbin/mosquitto'`), defaults of the config's tool paths (`ffmpegPath: z.string()
 * … .default('ffmpeg')`), and the interpreter of a `#!` line.
 */
export function commandsNamed(text: string, file: string): string[] {
  const found = new Set<string>();
  const isScript = /\.(ts|js|mjs)$/.test(file);
  if (isScript) {
    for (const m of text.matchAll(
      /\b\w*(?:spawn|exec|run)\w*\s*\(\s*(['"`])([^'"`\s$]+)\1\s*,\s*\[/gi,
    )) {
      found.add(m[2] ?? '');
    }
    for (const m of text.matchAll(
      /\w+Path\s*:\s*z\s*\.string\(\)[^\n]*?\.default\(\s*(['"])([^'"]+)\1\s*\)/g,
    )) {
      found.add(m[2] ?? '');
    }
  }
  for (const m of text.matchAll(/(['"`])((?:\/usr)?\/s?bin\/[\w.+-]+)\1/g)) found.add(m[2] ?? '');
  const shebang = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(text);
  if (shebang?.[1]) found.add(shebang[1].endsWith('/env') ? (shebang[2] ?? '') : shebang[1]);
  return [...found].filter((name) => {
    if (name === '' || NODE_TOOLS.has(name)) return false;
    // A path elsewhere is a project file or a deliberately missing tool in a test.
    return !name.includes('/') || /^(\/usr)?\/s?bin\/[^/]+$/.test(name);
  });
}

/** The modules, typelibs and GStreamer elements one Python script uses. */
export function pythonParts(text: string, file: string): { parts: OsPart[]; problems: string[] } {
  const interpreter = pythonInterpreter(text);
  const parts: OsPart[] = [];
  for (const name of pythonImports(text)) {
    parts.push({ kind: 'python-module', name, interpreter, where: [file] });
  }
  for (const [name, version] of typelibsImported(text)) {
    parts.push({ kind: 'typelib', name, version, where: [file] });
  }
  const listed = elementLists(text);
  for (const name of listed) parts.push({ kind: 'gst-element', name, where: [file] });
  const problems: string[] = [];
  if (/\b(set_launch|parse_launch)\s*\(/.test(text)) {
    const used = pipelineElements(text, PIPELINE_FUNCTION);
    if (used === null) {
      problems.push(
        `${file}: builds a GStreamer pipeline, but not in a function named ${PIPELINE_FUNCTION}, where the OS package guard reads its elements`,
      );
    } else {
      for (const name of used) {
        parts.push({ kind: 'gst-element', name, where: [file] });
        if (!listed.includes(name)) {
          problems.push(
            `${file}: ${PIPELINE_FUNCTION} uses the GStreamer element ${name}, which no *_ELEMENTS list names, so the script's start-up check would not miss it`,
          );
        }
      }
    }
  }
  return { parts, problems };
}

function pythonInterpreter(text: string): string {
  const shebang = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(text);
  if (!shebang?.[1]) return DEFAULT_PYTHON;
  return shebang[1].endsWith('/env') ? (shebang[2] ?? DEFAULT_PYTHON) : shebang[1];
}

/** Top-level modules of `import a.b, c as d` and `from a.b import x` (relative ones left out). */
export function pythonImports(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/^[ \t]*import[ \t]+([\w. \t,]+)$/gm)) {
    for (const item of (m[1] ?? '').split(',')) names.add(item.trim().split(/\s+/)[0] ?? '');
  }
  for (const m of text.matchAll(/^[ \t]*from[ \t]+([\w.]+)[ \t]+import\b/gm)) {
    names.add(m[1] ?? '');
  }
  return [...names]
    .map((name) => name.split('.')[0] ?? '')
    .filter((name, i, all) => name !== '' && name !== '__future__' && all.indexOf(name) === i);
}

/** `from gi.repository import A, B`, each with the version `gi.require_version` asks for. */
export function typelibsImported(text: string): Map<string, string | null> {
  const versions = new Map<string, string>();
  for (const m of text.matchAll(
    /gi\.require_version\(\s*['"](\w+)['"]\s*,\s*['"]([\w.]+)['"]\s*\)/g,
  )) {
    versions.set(m[1] ?? '', m[2] ?? '');
  }
  const typelibs = new Map<string, string | null>();
  for (const m of text.matchAll(
    /^[ \t]*from[ \t]+gi\.repository[ \t]+import[ \t]+(?:\(([^)]*)\)|([\w \t,]+)$)/gm,
  )) {
    for (const name of (m[1] ?? m[2] ?? '').split(',').map((item) => item.trim())) {
      if (name) typelibs.set(name, versions.get(name) ?? null);
    }
  }
  return typelibs;
}

/** The names in module-level lists such as `REQUIRED_ELEMENTS = ["videotestsrc", …]`. */
export function elementLists(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/^[A-Z][A-Z0-9_]*ELEMENTS\s*=\s*\[([^\]]*)\]/gm)) {
    for (const literal of (m[1] ?? '').matchAll(/['"]([\w-]+)['"]/g)) names.push(literal[1] ?? '');
  }
  return names;
}

/**
 * The element names in the pipeline description a Python function returns, read from the
 * string literals of its body in order (gst-launch syntax: elements, `name=value`
 * properties, caps with a `/`, `!` links, `( … )` bins); f-string fields are left out.
 * Null when the file has no such function.
 */
export function pipelineElements(text: string, functionName: string): string[] | null {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`def ${functionName}(`));
  if (start < 0) return null;
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line) && !line.startsWith('#')) break;
    if (!line.trim().startsWith('#')) body.push(line);
  }
  const code = body.join('\n').replace(/("""|''')[\s\S]*?\1/g, '');
  const literals = [
    ...code.matchAll(/(?:\b[rRfFbBuU]{1,2})?("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')/g),
  ].map((m) => (m[1] ?? '').slice(1, -1));
  const elements = new Set<string>();
  for (const token of literals.join(' ').match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    if (/^[a-z][a-z0-9_-]*$/.test(token)) elements.add(token);
  }
  return [...elements];
}

/**
 * The text with its whole-line comments blanked (`//`, `/* … *\/` and `*` lines in
 * TypeScript, `#` lines in Python and shell, the `#!` line kept): what a comment names is
 * not run.
 */
export function withoutCommentLines(text: string, file: string): string {
  const comment =
    file.endsWith('.py') || file.endsWith('.sh') ? /^\s*#(?!!)/ : /^\s*(\/\/|\/\*|\*)/;
  return text
    .split('\n')
    .map((line) => (comment.test(line) ? '' : line))
    .join('\n');
}

async function sourceFiles(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) files.push(...(await sourceFiles(path)));
    else if (entry.isFile() && SOURCE_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

/** Parts keyed by kind and name; the files naming one part are merged. */
class PartSet {
  readonly #parts = new Map<string, OsPart>();

  add(kind: OsPartKind, name: string, where: string, extra: Partial<OsPart> = {}): void {
    const key = `${kind}\u0000${name}\u0000${extra.version ?? ''}\u0000${extra.interpreter ?? ''}`;
    const known = this.#parts.get(key);
    if (known) {
      if (!known.where.includes(where)) known.where.push(where);
      return;
    }
    this.#parts.set(key, { ...extra, kind, name, where: [where] });
  }

  list(): OsPart[] {
    return [...this.#parts.values()];
  }
}
