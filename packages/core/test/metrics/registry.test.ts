import { ErrorCode, HubError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/metrics/registry.js';
import { parsePrometheus } from './prom-parser.js';

describe('MetricsRegistry', () => {
  it('caches metric objects per (name, labels), whatever the label order', () => {
    const r = new MetricsRegistry();
    const a = r.counter('sent', { adapter: 'redis', type: 'order' });
    const b = r.counter('sent', { type: 'order', adapter: 'redis' });
    expect(b).toBe(a);
    expect(r.counter('sent', { adapter: 'ws', type: 'order' })).not.toBe(a);
    expect(r.counter('sent')).toBe(r.counter('sent', {}));
    expect(r.histogram('lat', { a: '1' })).toBe(r.histogram('lat', { a: '1' }));
    expect(r.gauge('inflight')).toBe(r.gauge('inflight'));
  });

  it('counters and gauges count', () => {
    const r = new MetricsRegistry();
    const c = r.counter('sent');
    c.inc();
    c.inc(4);
    expect(c.value).toBe(5);
    const g = r.gauge('inflight');
    g.inc(3);
    g.dec();
    expect(g.value).toBe(2);
    g.set(-1);
    expect(g.value).toBe(-1);
  });

  it('keeps its own copy of the labels', () => {
    const r = new MetricsRegistry();
    const labels: Record<string, string> = { adapter: 'redis' };
    r.counter('sent', labels).inc();
    labels.adapter = 'changed';
    expect(r.snapshot().counters).toEqual([
      { name: 'sent', labels: { adapter: 'redis' }, value: 1 },
    ]);
  });

  it('snapshot is plain JSON', () => {
    const r = new MetricsRegistry();
    r.counter('sent', { adapter: 'memory' }).inc(3);
    r.counter('acked').inc();
    r.gauge('circuit_state', { adapter: 'redis' }).set(2);
    const h = r.histogram('send_latency_ms', { adapter: 'memory' });
    for (const v of [1, 2, 3, 4]) h.record(v);
    r.histogram('empty_ms');
    const snap = r.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.counters).toEqual([
      { name: 'sent', labels: { adapter: 'memory' }, value: 3 },
      { name: 'acked', labels: {}, value: 1 },
    ]);
    expect(snap.gauges).toEqual([
      { name: 'circuit_state', labels: { adapter: 'redis' }, value: 2 },
    ]);
    expect(snap.histograms).toEqual([
      {
        name: 'send_latency_ms',
        labels: { adapter: 'memory' },
        count: 4,
        min: 1,
        max: 4,
        mean: 2.5,
        p50: h.percentile(50),
        p95: h.percentile(95),
        p99: h.percentile(99),
      },
      { name: 'empty_ms', labels: {}, count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 },
    ]);
  });

  it('Prometheus text round trip, label and HELP escaping included', () => {
    const r = new MetricsRegistry();
    const nasty = 'back\\slash "quoted"\nnew line, {braces}=ünï';
    r.describe('sent', 'Messages sent.\nPer adapter \\ type.');
    r.counter('sent', { adapter: 'redis', type: nasty }).inc(7);
    r.counter('sent', { adapter: 'ws', type: 'plain' }).inc(2);
    r.counter('dlq_total').inc(1);
    r.gauge('circuit_state', { adapter: 'redis' }).set(1);
    const h = r.histogram('send_latency_ms', { adapter: 'redis' });
    for (let i = 1; i <= 1_000; i++) h.record(i / 10); // 0.1 .. 100 ms
    r.histogram('empty');

    const text = r.toPrometheus();
    const families = parsePrometheus(text);
    expect([...families.keys()]).toEqual([
      'hub_sent_total',
      'hub_dlq_total',
      'hub_circuit_state',
      'hub_send_latency_seconds',
      'hub_empty_seconds',
    ]);

    const sent = families.get('hub_sent_total')!;
    expect(sent.type).toBe('counter');
    expect(sent.help).toBe('Messages sent.\nPer adapter \\ type.');
    expect(sent.samples).toEqual([
      { name: 'hub_sent_total', labels: { adapter: 'redis', type: nasty }, value: 7 },
      { name: 'hub_sent_total', labels: { adapter: 'ws', type: 'plain' }, value: 2 },
    ]);
    // `_total` is not doubled.
    expect(families.get('hub_dlq_total')!.samples).toEqual([
      { name: 'hub_dlq_total', labels: {}, value: 1 },
    ]);
    expect(families.get('hub_circuit_state')).toMatchObject({
      type: 'gauge',
      samples: [{ name: 'hub_circuit_state', labels: { adapter: 'redis' }, value: 1 }],
    });

    const lat = families.get('hub_send_latency_seconds')!;
    expect(lat.type).toBe('summary');
    const byName = (n: string, q?: string) =>
      lat.samples.find((s) => s.name === n && s.labels.quantile === q)!.value;
    expect(byName('hub_send_latency_seconds', '0.5')).toBeCloseTo(h.percentile(50) / 1000, 12);
    expect(byName('hub_send_latency_seconds', '0.95')).toBeCloseTo(h.percentile(95) / 1000, 12);
    expect(byName('hub_send_latency_seconds', '0.99')).toBeCloseTo(0.099, 3);
    expect(byName('hub_send_latency_seconds_sum')).toBeCloseTo(h.sum / 1000, 9);
    expect(byName('hub_send_latency_seconds_count')).toBe(1_000);
    for (const s of lat.samples) expect(s.labels.adapter).toBe('redis');

    // No observations: quantiles are NaN as Prometheus expects, count 0.
    const empty = families.get('hub_empty_seconds')!;
    expect(empty.samples.filter((s) => s.labels.quantile).every((s) => Number.isNaN(s.value))).toBe(
      true,
    );
    expect(empty.samples.find((s) => s.name === 'hub_empty_seconds_count')!.value).toBe(0);
  });

  it('honours a custom or empty prefix and rejects a bad one', () => {
    const r = new MetricsRegistry();
    r.counter('sent').inc();
    expect([...parsePrometheus(r.toPrometheus('app_')).keys()]).toEqual(['app_sent_total']);
    expect([...parsePrometheus(r.toPrometheus('')).keys()]).toEqual(['sent_total']);
    expect(() => r.toPrometheus('bad-prefix')).toThrow(/prefix/);
  });

  it('an empty registry exposes nothing', () => {
    expect(new MetricsRegistry().toPrometheus()).toBe('');
    expect(new MetricsRegistry().snapshot()).toEqual({ counters: [], gauges: [], histograms: [] });
  });

  it('rejects invalid names, labels and clashes with INVALID_CONFIG', () => {
    const r = new MetricsRegistry();
    r.counter('sent');
    r.histogram('latency_ms');
    const bad: Array<[() => unknown, RegExp]> = [
      [() => r.counter('bad-name'), /metric name "bad-name"/],
      [() => r.counter('ok', { 'bad-label': 'x' }), /label name "bad-label"/],
      [() => r.counter('ok2', { __reserved: 'x' }), /label name "__reserved"/],
      [() => r.histogram('lat2', { quantile: 'x' }), /"quantile" is reserved/],
      [() => r.histogram('sent'), /"sent" is a counter, not a histogram/],
      [() => r.counter('sent_total'), /exposed as "sent_total", already used by "sent"/],
      [() => r.histogram('latency'), /already used by "latency_ms"/],
      [() => r.gauge('latency_seconds_count'), /already used by "latency_ms"/],
    ];
    for (const [fn, message] of bad) {
      try {
        fn();
        expect.unreachable(String(message));
      } catch (err) {
        expect(err).toBeInstanceOf(HubError);
        expect((err as HubError).code).toBe(ErrorCode.INVALID_CONFIG);
        expect((err as HubError).message).toMatch(message);
        expect((err as HubError).message).toMatch(/^\[hub:metrics\] /);
      }
    }
  });
});

describe('the strict test parser', () => {
  // The round trip above is only worth something if the parser refuses bad text.
  const bad: Array<[string, string]> = [
    ['no trailing newline', '# TYPE a counter\na 1'],
    ['sample before TYPE', 'a 1\n'],
    ['unescaped quote', '# TYPE a counter\na{x="a"b"} 1\n'],
    ['bad escape', '# TYPE a counter\na{x="\\t"} 1\n'],
    ['bad value', '# TYPE a counter\na 1,5\n'],
    ['duplicate series', '# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n'],
    ['family split', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a again\n'],
    ['summary without quantile', '# TYPE s summary\ns 1\n'],
    ['stray comment', '# just a comment\n'],
    ['sample of another family', '# TYPE a counter\nb 1\n'],
  ];
  it.each(bad)('rejects %s', (_name, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });

  it('accepts valid text', () => {
    const f = parsePrometheus(
      '# HELP s x\n# TYPE s summary\ns{quantile="0.5"} 1e-3\ns_sum +Inf\ns_count 2 1700000000\n',
    );
    expect(f.get('s')!.samples).toHaveLength(3);
  });
});
