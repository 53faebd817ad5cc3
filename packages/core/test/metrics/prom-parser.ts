/**
 * A small, strict parser for the Prometheus text exposition format 0.0.4,
 * written for these tests only: it rejects anything the format does not allow
 * (unknown comment forms, bad escapes, samples before their TYPE, a family
 * split in two, duplicate series, malformed values) so the exporter cannot
 * drift into output a real scraper would refuse.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: 'counter' | 'gauge' | 'summary' | 'histogram' | 'untyped';
  help?: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = new Set(['counter', 'gauge', 'summary', 'histogram', 'untyped']);

function fail(lineNo: number, msg: string): never {
  throw new Error(`prometheus text line ${lineNo}: ${msg}`);
}

function parseValue(text: string, lineNo: number): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(text)) fail(lineNo, `bad value "${text}"`);
  return Number(text);
}

function unescapeHelp(text: string, lineNo: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    return fail(lineNo, `bad escape "\\${c}" in HELP`);
  });
}

/** Which family a sample name belongs to, given the family's type. */
function belongsTo(family: PromFamily, sample: string): boolean {
  if (sample === family.name) return true;
  if (family.type === 'summary') {
    return sample === `${family.name}_sum` || sample === `${family.name}_count`;
  }
  if (family.type === 'histogram') {
    return ['_sum', '_count', '_bucket'].some((s) => sample === family.name + s);
  }
  return false;
}

function parseLabels(line: string, pos: number, lineNo: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  pos++; // '{'
  while (line[pos] !== '}') {
    const name = LABEL.exec(line.slice(pos))?.[0];
    if (!name) fail(lineNo, `bad label name at column ${pos}`);
    if (name in labels) fail(lineNo, `duplicate label "${name}"`);
    pos += name.length;
    if (line[pos] !== '=' || line[pos + 1] !== '"') fail(lineNo, `expected ="… after ${name}`);
    pos += 2;
    let value = '';
    for (;;) {
      const c = line[pos];
      if (c === undefined) fail(lineNo, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const next = line[pos + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(lineNo, `bad escape "\\${next ?? ''}" in label value`);
        pos += 2;
      } else {
        value += c;
        pos++;
      }
    }
    labels[name] = value;
    pos++; // closing quote
    if (line[pos] === ',') pos++;
    else if (line[pos] !== '}') fail(lineNo, `expected , or } at column ${pos}`);
  }
  return [labels, pos + 1];
}

export function parsePrometheus(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  if (text === '') return families;
  if (!text.endsWith('\n')) throw new Error('prometheus text must end with a newline');
  const seenSeries = new Set<string>();
  let current: PromFamily | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) (.*)$/.exec(line);
      if (!m) fail(lineNo, `unexpected comment "${line}"`);
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (NAME.exec(name)?.[0] !== name) fail(lineNo, `bad metric name "${name}"`);
      let family = families.get(name);
      if (family && family !== current) fail(lineNo, `family "${name}" appears twice`);
      if (!family) {
        family = { name, type: 'untyped', samples: [] };
        families.set(name, family);
        current = family;
      }
      if (kind === 'HELP') {
        if (family.help !== undefined) fail(lineNo, `second HELP for "${name}"`);
        family.help = unescapeHelp(rest, lineNo);
      } else {
        if (!TYPES.has(rest)) fail(lineNo, `bad type "${rest}"`);
        if (family.samples.length > 0) fail(lineNo, `TYPE after samples of "${name}"`);
        if ((family as { typed?: boolean }).typed) fail(lineNo, `second TYPE for "${name}"`);
        (family as { typed?: boolean }).typed = true;
        family.type = rest as PromFamily['type'];
      }
      return;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) fail(lineNo, 'sample line without a metric name');
    let pos = name.length;
    let labels: Record<string, string> = {};
    if (line[pos] === '{') [labels, pos] = parseLabels(line, pos, lineNo);
    if (line[pos] !== ' ') fail(lineNo, `expected a space before the value at column ${pos}`);
    const parts = line.slice(pos + 1).split(' ');
    if (parts.length > 2 || parts.some((p) => p === '')) fail(lineNo, 'bad value/timestamp');
    const value = parseValue(parts[0]!, lineNo);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(lineNo, 'bad timestamp');
    if (!current || !belongsTo(current, name)) {
      fail(
        lineNo,
        `sample "${name}" outside its family (declare HELP/TYPE first, keep it together)`,
      );
    }
    if (current.type === 'summary' && name === current.name && !('quantile' in labels)) {
      fail(lineNo, `summary sample "${name}" without a quantile label`);
    }
    const seriesKey = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(seriesKey)) fail(lineNo, `duplicate series ${seriesKey}`);
    seenSeries.add(seriesKey);
    current.samples.push({ name, labels, value });
  });
  for (const family of families.values()) delete (family as { typed?: boolean }).typed;
  return families;
}
