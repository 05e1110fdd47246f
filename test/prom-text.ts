/**
 * A strict parser of Prometheus's text exposition format (version 0.0.4), written from the
 * format's description, for tests that scrape /metrics:
 *
 *   # HELP <name> <docstring>          (escapes \\ and \n)
 *   # TYPE <name> counter|gauge|histogram|summary|untyped   (once, before the family's samples)
 *   # any other comment
 *   <name>[{<label>="<value>",...[,]}] <value> [<timestamp ms>]   (label value escapes \\ \" \n)
 *
 * Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not starting "__");
 * values are Go floats (NaN, +Inf, -Inf included). A family's lines are contiguous; a series
 * (name and labels) appears once. A histogram's series are `_bucket` (with `le`), `_sum` and
 * `_count`: per label set its buckets are cumulative (non-decreasing with `le`), end with
 * `le="+Inf"`, and `_count` equals that bucket. Any violation throws, naming the line.
 */

export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (`x_bucket`, `x_sum`, ... for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface PromFamily {
  name: string;
  help?: string;
  type: MetricKind;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const KINDS: readonly MetricKind[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

class ParseError extends Error {
  constructor(line: number, message: string, text: string) {
    super(`line ${line}: ${message}: ${JSON.stringify(text)}`);
  }
}

/** A float as Go's strconv.ParseFloat (and so Prometheus) reads it. */
function parseFloatStrict(text: string): number | undefined {
  const t = text.toLowerCase();
  if (t === 'nan') return Number.NaN;
  if (t === '+inf' || t === 'inf') return Number.POSITIVE_INFINITY;
  if (t === '-inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return undefined;
  return Number(text);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Parse the whole text; families in order of appearance. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>(); // families whose lines ended (another family came after)
  const typed = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text does not end with a newline');

  const family = (name: string, lineNo: number, line: string): PromFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new ParseError(lineNo, `lines of family ${name} are not contiguous`, line);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };

  /** Which family a sample name belongs to (x_bucket → x when x is a histogram, ...). */
  const familyOf = (sample: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!sample.endsWith(suffix)) continue;
      const base = sample.slice(0, -suffix.length);
      const t = families.get(base)?.type;
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
    return sample;
  };

  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, keyword, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!) || METRIC_NAME.exec(name!)![0] !== name)
        throw new ParseError(lineNo, 'bad metric name', line);
      const f = family(name!, lineNo, line);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new ParseError(lineNo, `second HELP for ${name}`, line);
        f.help = unescapeHelp(rest);
      } else {
        const kind = rest.trim() as MetricKind;
        if (!KINDS.includes(kind)) throw new ParseError(lineNo, 'unknown TYPE', line);
        if (f.samples.length > 0) throw new ParseError(lineNo, `TYPE of ${name} after its samples`, line);
        if (typed.has(name!)) throw new ParseError(lineNo, `second TYPE for ${name}`, line);
        typed.add(name!);
        f.type = kind;
      }
      return;
    }
    // A sample.
    let pos = 0;
    const nameMatch = METRIC_NAME.exec(line);
    if (!nameMatch) throw new ParseError(lineNo, 'a sample must start with a metric name', line);
    const name = nameMatch[0];
    pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        while (line[pos] === ' ') pos++;
        if (line[pos] === '}') {
          pos++;
          break;
        }
        const ln = LABEL_NAME.exec(line.slice(pos));
        if (!ln) throw new ParseError(lineNo, `bad label name at column ${pos + 1}`, line);
        const labelName = ln[0];
        if (labelName.startsWith('__'))
          throw new ParseError(lineNo, `reserved label name ${labelName}`, line);
        if (labelName in labels) throw new ParseError(lineNo, `label ${labelName} twice`, line);
        pos += labelName.length;
        if (line.slice(pos, pos + 2) !== '="')
          throw new ParseError(lineNo, `expected =" after ${labelName}`, line);
        pos += 2;
        let value = '';
        for (;;) {
          const c = line[pos];
          if (c === undefined) throw new ParseError(lineNo, 'unterminated label value', line);
          pos++;
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos++];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new ParseError(lineNo, `bad escape \\${e ?? ''} in a label value`, line);
          } else value += c;
        }
        labels[labelName] = value;
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}')
          throw new ParseError(lineNo, `expected , or } at column ${pos + 1}`, line);
      }
    }
    const fields = line.slice(pos).trim().split(/\s+/);
    if (!/^\s/.test(line.slice(pos)) || fields.length < 1 || fields.length > 2 || fields[0] === '')
      throw new ParseError(lineNo, 'expected " <value> [<timestamp>]" after the name and labels', line);
    const value = parseFloatStrict(fields[0]!);
    if (value === undefined) throw new ParseError(lineNo, `bad value ${fields[0]}`, line);
    const sample: PromSample = { name, labels, value };
    if (fields[1] !== undefined) {
      if (!/^-?\d+$/.test(fields[1])) throw new ParseError(lineNo, `bad timestamp ${fields[1]}`, line);
      sample.timestampMs = Number(fields[1]);
    }
    const series = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seenSeries.has(series)) throw new ParseError(lineNo, `series ${series} appears twice`, line);
    seenSeries.add(series);
    const f = family(familyOf(name), lineNo, line);
    if (f.type === 'counter' && !(value >= 0))
      throw new ParseError(lineNo, 'a counter below 0 (or NaN)', line);
    if (f.type === 'histogram' && name === f.name)
      throw new ParseError(lineNo, 'a histogram sample without a suffix', line);
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined)
      throw new ParseError(lineNo, 'a histogram bucket without le', line);
    f.samples.push(sample);
  });

  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The labels of a sample without `le`, as a key. */
function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== 'le')
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  const group = (labels: Record<string, string>) => {
    const k = seriesKey(labels);
    let g = groups.get(k);
    if (!g) {
      g = { buckets: [] };
      groups.set(k, g);
    }
    return g;
  };
  for (const s of f.samples) {
    const g = group(s.labels);
    if (s.name === `${f.name}_bucket`) {
      const le = parseFloatStrict(s.labels.le!);
      if (le === undefined || Number.isNaN(le))
        throw new Error(`${f.name}: bad le ${JSON.stringify(s.labels.le)}`);
      g.buckets.push([le, s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [k, g] of groups) {
    const where = `${f.name}${k}`;
    if (g.buckets.length === 0) throw new Error(`${where}: no buckets`);
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![0] === sorted[i - 1]![0]) throw new Error(`${where}: le ${sorted[i]![0]} twice`);
      if (sorted[i]![1] < sorted[i - 1]![1])
        throw new Error(
          `${where}: bucket le=${sorted[i]![0]} (${sorted[i]![1]}) below le=${sorted[i - 1]![0]} (${sorted[i - 1]![1]})`,
        );
    }
    const inf = sorted[sorted.length - 1]!;
    if (inf[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no le="+Inf" bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: _sum or _count missing`);
    if (g.count !== inf[1]) throw new Error(`${where}: _count ${g.count} is not the +Inf bucket ${inf[1]}`);
  }
}

/** The samples named `name` whose labels include `match`. */
export function samples(
  families: Map<string, PromFamily>,
  name: string,
  match: Record<string, string> = {},
): PromSample[] {
  const out: PromSample[] = [];
  for (const f of families.values())
    for (const s of f.samples)
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
  return out;
}

/** The sum of the samples named `name` whose labels include `match`. */
export function total(
  families: Map<string, PromFamily>,
  name: string,
  match: Record<string, string> = {},
): number {
  return samples(families, name, match).reduce((n, s) => n + s.value, 0);
}
