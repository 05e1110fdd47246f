/**
 * What dmg and daos share: where the embedded system is, printing results as aligned tables or
 * JSON, DAOS-style errors and exit codes, `k:v,...` lists, rank lists, progress bars on a TTY.
 */
import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { DaosError } from '../core/common/errors.js';
import type { DaosClient } from '../core/daos/client.js';
import type { Container } from '../core/daos/container.js';

/** Options every command takes (defined on the program, read with optsWithGlobals). */
export interface GlobalOptions {
  embedded?: string;
  json?: boolean;
  engines?: string;
  targets?: string;
  /** daos_agent's socket (daos). */
  agentSocket?: string;
  /** daos_server hosts (host[:port],...). */
  hostList?: string;
  insecure?: boolean;
  caCert?: string;
  cert?: string;
  key?: string;
}

/** Where a daos_server is: `-l` (or env DAOS_CONTROL_HOSTS) and its TLS settings. */
export function serverOptions(opts: GlobalOptions): {
  hostList?: string[];
  transport: { allow_insecure: boolean; ca_cert?: string; cert?: string; key?: string };
} {
  const hosts = opts.hostList ?? process.env.DAOS_CONTROL_HOSTS;
  return {
    hostList: hosts ? hosts.split(',').filter(Boolean) : undefined,
    transport: {
      allow_insecure: opts.insecure === true,
      ...(opts.caCert && { ca_cert: opts.caCert }),
      ...(opts.cert && { cert: opts.cert }),
      ...(opts.key && { key: opts.key }),
    },
  };
}

/** A command's result: the JSON `response` and the readable text. */
export interface CommandOutput {
  json: unknown;
  text: string;
}

/** The embedded system's folder from --embedded or DAOS_EMBEDDED. */
export function embeddedDir(opts: GlobalOptions): string | undefined {
  const dir = opts.embedded ?? process.env.DAOS_EMBEDDED;
  return dir === undefined || dir === '' ? undefined : dir;
}

/** A non-negative integer option, or undefined when absent. */
export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new DaosError('DER_INVAL', `${name} "${value}" is not a non-negative integer`);
  return Number(value);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Run a command body and print its output: `{ response, error: null, status: 0 }` with --json,
 * the text otherwise. A failure prints `ERROR: <tool>: <message>` on stderr (with --json,
 * `{ response: null, error: { code, message }, status: errno }` on stdout) and exits 1.
 */
export async function runCommand(
  tool: string,
  opts: GlobalOptions,
  body: () => Promise<CommandOutput>,
): Promise<void> {
  try {
    const out = await body();
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ response: out.json, error: null, status: 0 }, jsonReplacer, 2)}\n`,
      );
    } else if (out.text !== '') {
      process.stdout.write(out.text.endsWith('\n') ? out.text : `${out.text}\n`);
    }
  } catch (err) {
    const e = err instanceof DaosError ? err : undefined;
    const message = err instanceof Error ? err.message : String(err);
    if (opts.json) {
      const error = { code: e?.code ?? 'DER_MISC', message };
      process.stdout.write(
        `${JSON.stringify({ response: null, error, status: e?.errno ?? -1025 }, null, 2)}\n`,
      );
    } else {
      process.stderr.write(`ERROR: ${tool}: ${message}\n`);
    }
    process.exitCode = 1;
  }
}

/** Rows under a header and a dashed rule, columns left-aligned and two spaces apart (as dmg prints). */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(headers.map((h) => '-'.repeat(h.length))), ...rows.map(line)].join('\n');
}

/** `key : value` lines with the keys padded, as dmg prints a single record. */
export function formatFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `  ${k.padEnd(width)} : ${v}`).join('\n');
}

/** `a:1,b:two` → { a: '1', b: 'two' } (DAOS's --properties form); the first ':' splits. */
export function parseKeyValues(text: string | undefined, what = 'properties'): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined || text === '') return out;
  for (const item of text.split(',')) {
    const at = item.indexOf(':');
    if (at <= 0) throw new DaosError('DER_INVAL', `${what}: "${item}" is not name:value`);
    out[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return out;
}

/** Rank lists as dmg takes them: `0,2-4` → [0, 2, 3, 4]. */
export function parseRanks(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.replace(/^\[|\]$/g, '').split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new DaosError('DER_INVAL', `rank list "${text}": "${part}" is not N or N-M`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new DaosError('DER_INVAL', `rank list "${text}": ${lo}-${hi} is empty`);
    for (let r = lo; r <= hi; r++) out.add(r);
  }
  return [...out].sort((a, b) => a - b);
}

/** The entries of an ACL file (the parser skips blank lines and comments). */
export function readAclFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DaosError('DER_NONEXIST', `cannot read ACL file ${path}: ${(err as Error).message}`);
  }
  return text.split('\n');
}

/** A progress callback drawing a bar on stderr when it is a terminal and output is not JSON. */
export function progressBar(opts: GlobalOptions): {
  onProgress?: (p: { done: number; total: number; what: string }) => void;
  stop(): void;
} {
  if (opts.json || !process.stderr.isTTY) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{bar} {value}/{total} {what}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      if (!started) {
        bar.start(p.total, 0, { what: p.what });
        started = true;
      }
      bar.update(p.done, { what: p.what });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Open a container of a pool, run `fn`, close both. */
export async function withCont<T>(
  client: DaosClient,
  pool: string,
  cont: string,
  mode: 'ro' | 'rw',
  fn: (c: Container) => Promise<T>,
  /** force: open an UNCLEAN container too (property get and set work on one, as in DAOS). */
  options: { force?: boolean } = {},
): Promise<T> {
  const p = await client.connectPool(pool, { mode });
  try {
    const c = await p.openContainer(cont, { mode, ...options });
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  } finally {
    await p.disconnect();
  }
}
