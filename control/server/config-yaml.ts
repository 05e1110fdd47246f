/**
 * The validator that daos_server.yml and daos_agent.yml share: yaml's Document API with a
 * LineCounter, so that every problem names the file, line, column and key path. Readers record
 * problems instead of throwing, so that one run reports every mistake in a file.
 */
import { isAbsolute } from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type ParsedNode,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { assert, DaosError } from '../../core/common/errors.js';
import { parseBytes } from '../../core/common/units.js';

/** Longest config file we read: a config is a screen or two, not a data set. */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024;
/** Highest TCP port. */
export const PORT_MAX = 65535;

/** One mistake in a config file, at a 1-based line and column. */
export interface ConfigProblem {
  readonly line: number;
  readonly col: number;
  /** Key path, e.g. `engines[1].storage[0].class`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** A config file that did not validate: DER_INVAL, one problem per line of the message. */
export class ConfigError extends DaosError {
  readonly problems: readonly ConfigProblem[];

  constructor(fileName: string, problems: readonly ConfigProblem[]) {
    super('DER_INVAL', problems.map((p) => formatProblem(fileName, p)).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function formatProblem(fileName: string, p: ConfigProblem): string {
  return `${fileName}:${p.line}:${p.col}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`;
}

type AnyNode = Node | ParsedNode | null | undefined;

/** A parsed config file: the place problems are collected and positions are resolved. */
export class ConfigFile {
  private readonly lines = new LineCounter();
  private readonly problems: ConfigProblem[] = [];
  private readonly rootMap: ConfigMap | undefined;
  private readonly doc: Document | undefined;

  constructor(
    text: string,
    readonly fileName: string,
  ) {
    if (text.length > CONFIG_FILE_BYTES_MAX) {
      this.problems.push({
        line: 1,
        col: 1,
        path: '',
        message: `file is ${text.length} bytes, more than the ${CONFIG_FILE_BYTES_MAX} a config may have`,
      });
      return;
    }
    const doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: false, prettyErrors: false });
    this.doc = doc;
    for (const e of [...doc.errors, ...doc.warnings]) {
      const { line, col } = this.lines.linePos(e.pos[0]);
      this.problems.push({ line, col, path: '', message: `invalid YAML: ${e.message}` });
    }
    if (doc.errors.length > 0) return;
    const root = this.resolve(doc.contents);
    if (root === null || root === undefined || (isScalar(root) && root.value === null)) {
      this.problems.push({
        line: 1,
        col: 1,
        path: '',
        message: 'the file is empty: expected a mapping of keys',
      });
    } else if (!isMap(root)) {
      this.report(root, '', `expected a mapping of keys at the top level, found ${describe(root)}`);
    } else {
      this.rootMap = new ConfigMap(this, root, '');
    }
  }

  /** The top-level mapping; when the document is not one, throws the problems found so far. */
  root(): ConfigMap {
    if (this.rootMap) return this.rootMap;
    this.throwIfProblems();
    assert(false, 'a document without a root mapping has a recorded problem');
  }

  /** Record a problem at a node (its first character). */
  report(node: AnyNode, path: string, message: string): void {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ line, col, path, message });
  }

  /** `line N` of a node, for messages that point back at an earlier key. */
  lineOf(node: AnyNode): number {
    return this.lines.linePos(node?.range?.[0] ?? 0).line;
  }

  /** Follow an alias (`*name`) to the node it names; other nodes are returned as they are. */
  resolve(node: AnyNode): Node | null | undefined {
    if (isAlias(node) && this.doc) return this.resolve(node.resolve(this.doc) as Node | undefined);
    return node as Node | null | undefined;
  }

  /** Throw a ConfigError listing every problem, in file order, if there is any. */
  throwIfProblems(): void {
    if (this.problems.length === 0) return;
    const sorted = [...this.problems].sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(this.fileName, sorted);
  }
}

/** What a node is, for "expected X, found Y". */
export function describe(node: AnyNode): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return `an alias *${node.source}`;
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'an empty value';
    if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${v}`;
    return `a ${node.tag ?? 'tagged'} value`;
  }
  return 'an unknown node';
}

function isEmptyScalar(node: AnyNode): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

interface Field {
  readonly key: Scalar;
  readonly value: Node | null | undefined;
}

/** Options shared by the readers of one key. */
export interface ReadOptions {
  /** Report the key as missing when it is absent or empty. */
  readonly required?: boolean;
}

/**
 * One mapping of the file. Each reader marks its key as known; `finish()` then reports every
 * key that no reader asked for, listing the known ones. An empty value (`key:` with nothing
 * after it) counts as absent, as in DAOS's Go loader.
 */
export class ConfigMap {
  private readonly fields = new Map<string, Field>();
  private readonly known: string[] = [];
  private readonly refused = new Set<string>();

  constructor(
    readonly file: ConfigFile,
    readonly node: YAMLMap,
    readonly path: string,
  ) {
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
        file.report(key ?? node, path, `keys must be plain names, found ${describe(key)}`);
        continue;
      }
      const name = String(key.value);
      const first = this.fields.get(name);
      if (first) {
        file.report(key, this.sub(name), `duplicate key (first set at line ${file.lineOf(first.key)})`);
        continue;
      }
      this.fields.set(name, { key, value: file.resolve(pair.value as Node | null) });
    }
  }

  /** The path of a key of this mapping. */
  sub(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  /** Report a problem at a key's value (or the key itself when the value is empty). */
  reportAt(key: string, message: string): void {
    const f = this.fields.get(key);
    this.file.report(f ? (isEmptyScalar(f.value) ? f.key : f.value) : this.node, this.sub(key), message);
  }

  /** The line of a key, for messages that point back at it. */
  lineOf(key: string): number {
    const f = this.fields.get(key);
    return this.file.lineOf(f?.key ?? this.node);
  }

  /** The value node of a key that is present and not empty; records `required` misses. */
  private field(key: string, opts: ReadOptions): Node | undefined {
    this.known.push(key);
    const f = this.fields.get(key);
    if (!f || isEmptyScalar(f.value)) {
      if (opts.required)
        this.file.report(
          f?.key ?? this.node,
          this.sub(key),
          f ? 'is empty (required)' : 'missing (required)',
        );
      return undefined;
    }
    return f.value!;
  }

  private wrongType(key: string, expected: string, node: Node): undefined {
    this.file.report(node, this.sub(key), `expected ${expected}, found ${describe(node)}`);
    return undefined;
  }

  /** A string (a quoted or plain scalar that YAML did not read as a number or boolean). */
  string(key: string, opts: ReadOptions = {}): string | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'string') return this.wrongType(key, 'a string', node);
    if (node.value.length === 0) return this.wrongType(key, 'a non-empty string', node);
    return node.value;
  }

  /** One of a few words, compared without case; returned as spelled in `values`. */
  word<T extends string>(key: string, values: readonly T[], opts: ReadOptions = {}): T | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    const expected = `one of ${values.join(', ')}`;
    if (!isScalar(node) || typeof node.value !== 'string') return this.wrongType(key, expected, node);
    const s = node.value;
    const hit = values.find((v) => v.toLowerCase() === s.toLowerCase());
    return hit ?? this.wrongType(key, expected, node);
  }

  /** An absolute path. */
  absolutePath(key: string, opts: ReadOptions = {}): string | undefined {
    const s = this.string(key, opts);
    if (s === undefined) return undefined;
    if (!isAbsolute(s) || s.includes('\0')) {
      this.reportAt(key, `expected an absolute path, found ${JSON.stringify(s)}`);
      return undefined;
    }
    return s;
  }

  /** An integer in [min, max]. */
  int(key: string, min: number, max: number, opts: ReadOptions = {}): number | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    const expected = `an integer from ${min} to ${max}`;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value))
      return this.wrongType(key, expected, node);
    if (node.value < min || node.value > max) return this.wrongType(key, expected, node);
    return node.value;
  }

  /** A TCP port; `allowZero` for "any free port" / "off". */
  port(key: string, allowZero: boolean, opts: ReadOptions = {}): number | undefined {
    return this.int(key, allowZero ? 0 : 1, PORT_MAX, opts);
  }

  /** true or false (YAML 1.2: `yes`/`no`/`on`/`off` are strings, and are refused). */
  bool(key: string, opts: ReadOptions = {}): boolean | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'boolean') return this.wrongType(key, 'true or false', node);
    return node.value;
  }

  /** A size in bytes: a number, or a string such as `4GiB`, `512M` (binary units, parseBytes). */
  bytes(key: string, min: number, opts: ReadOptions = {}): number | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    const expected = 'a size such as 4GiB, 512MiB or a number of bytes';
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number'))
      return this.wrongType(key, expected, node);
    let n: number;
    try {
      n = parseBytes(node.value);
    } catch {
      return this.wrongType(key, expected, node);
    }
    if (n < min) {
      this.file.report(node, this.sub(key), `${n} bytes is less than the minimum of ${min}`);
      return undefined;
    }
    return n;
  }

  /** A nested mapping. */
  map(key: string, opts: ReadOptions = {}): ConfigMap | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    if (!isMap(node)) return this.wrongType(key, 'a mapping', node);
    return new ConfigMap(this.file, node, this.sub(key));
  }

  /** A list; each item comes with its node and path (`key[i]`). */
  list(key: string, opts: ReadOptions & { nonEmpty?: boolean } = {}): ConfigItem[] | undefined {
    const node = this.field(key, opts);
    if (node === undefined) return undefined;
    if (!isSeq(node)) return this.wrongType(key, 'a list', node);
    if (opts.nonEmpty && node.items.length === 0) return this.wrongType(key, 'a non-empty list', node);
    return node.items.map(
      (item, i) => new ConfigItem(this.file, this.file.resolve(item as Node), `${this.sub(key)}[${i}]`),
    );
  }

  /** Refuse keys that DAOS has and daos-ts does not use, with a clearer word than "unknown". */
  refuse(keys: readonly string[]): void {
    for (const k of keys) {
      this.refused.add(k);
      const f = this.fields.get(k);
      if (f) this.file.report(f.key, this.sub(k), 'is a DAOS setting that daos-ts does not use; remove it');
    }
  }

  /** Report every key no reader asked for. Call once, after all reads of this mapping. */
  finish(): void {
    for (const [name, f] of this.fields) {
      if (this.known.includes(name) || this.refused.has(name)) continue;
      const near = this.known.find((k) => editDistance(k, name) <= 2);
      const hint = near ? ` (did you mean ${near}?)` : '';
      this.file.report(
        f.key,
        this.sub(name),
        `unknown key${hint}; known keys here: ${this.known.join(', ')}`,
      );
    }
  }
}

/** One item of a list. */
export class ConfigItem {
  constructor(
    readonly file: ConfigFile,
    readonly node: Node | null | undefined,
    readonly path: string,
  ) {}

  report(message: string): void {
    this.file.report(this.node, this.path, message);
  }

  /** The item as a mapping. */
  map(): ConfigMap | undefined {
    if (isMap(this.node)) return new ConfigMap(this.file, this.node, this.path);
    this.report(`expected a mapping, found ${describe(this.node)}`);
    return undefined;
  }

  /** The item as a non-empty string. */
  string(): string | undefined {
    if (isScalar(this.node) && typeof this.node.value === 'string' && this.node.value.length > 0)
      return this.node.value;
    this.report(`expected a non-empty string, found ${describe(this.node)}`);
    return undefined;
  }

  /** The item as `host` or `host:port` (IPv6 in brackets); `port` fills in a missing port. */
  hostPort(defaultPort: number): { host: string; port: number } | undefined {
    const s = this.string();
    if (s === undefined) return undefined;
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d+))?$/.exec(s);
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || port < 1 || port > PORT_MAX) {
      this.report(`expected host or host:port (port 1 to ${PORT_MAX}), found ${JSON.stringify(s)}`);
      return undefined;
    }
    return { host: m[1]!, port };
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/**
 * Ports that must differ: `claim` each one (zero means "any"/"off" and is skipped); a second
 * claim of a port is reported at its node, naming the first owner and its line.
 */
export class PortClaims {
  private readonly owners = new Map<number, { path: string; line: number }>();

  claim(map: ConfigMap, key: string, port: number | undefined): void {
    if (port === undefined || port === 0) return;
    const first = this.owners.get(port);
    if (first) {
      map.reportAt(key, `${port} is already used by ${first.path} (line ${first.line})`);
      return;
    }
    this.owners.set(port, { path: map.sub(key), line: map.lineOf(key) });
  }
}
