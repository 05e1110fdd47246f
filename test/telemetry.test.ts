/**
 * Telemetry: a DaosServer (two ram engines as child processes) after some I/O, scraped over HTTP
 * at /metrics, parsed as Prometheus text (test/prom-text.ts), and checked against what was done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../control/server/config.js';
import { DaosServer } from '../control/server/server.js';
import { serveTelemetry, type TelemetryServer } from '../control/server/telemetry.js';
import { DaosClient } from '../core/daos/client.js';
import { ENGINE_OPS, OP_LATENCY_BUCKETS_S } from '../core/daos/engine-counters.js';
import { parsePrometheusText, samples, total } from './prom-text.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function yamlFor(dir: string): string {
  const engine = (i: number) => `  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram${i}
        scm_size: 64MiB
`;
  return `name: tele_sys
port: 10001
telemetry_port: 9191
transport_config:
  allow_insecure: true
socket_dir: ${dir}/sock
engines:
${engine(0)}${engine(1)}`;
}

async function scrape(port: number, path = '/metrics'): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`);
}

const KEYS = 30;
const VALUE_BYTES = 100;
const POOL_BYTES = 32 * 1024 * 1024;

describe('telemetry', () => {
  it('serves /metrics as Prometheus text: engine ops, bytes and latency, pool space, rank states', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtele-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const config = parseServerConfig(yamlFor(dir), 'daos_server.yml');
    expect(config.telemetry_port).toBe(9191);
    const server = await DaosServer.start(config, { log: () => undefined });
    cleanups.push(() => server.shutdown());
    let telemetry: TelemetryServer = await serveTelemetry(server, { port: 0, host: '127.0.0.1' });
    cleanups.push(() => telemetry.close());
    expect(telemetry.port).toBeGreaterThan(0);

    // Before format: ranks AwaitFormat, no engine answers, no pools.
    let res = await scrape(telemetry.port);
    expect(res.status).toBe(200);
    let m = parsePrometheusText(await res.text());
    expect(samples(m, 'daos_rank_state', { state: 'AwaitFormat' }).map((s) => s.value)).toEqual([1, 1]);
    expect(total(m, 'daos_engine_up')).toBe(0);
    expect(samples(m, 'daos_pool_space_bytes')).toEqual([]);

    await server.storageFormat();
    await server.poolCreate({ label: 'p', size: String(POOL_BYTES) });
    const pool = await new DaosClient(server.link()).connectPool('p');
    await pool.createContainer({ label: 'c' });
    const cont = await pool.openContainer('c');
    const oid = await cont.newOid({ oclass: 'SX' });
    const value = 'x'.repeat(VALUE_BYTES);
    for (let i = 0; i < KEYS; i++) await cont.kv(oid).put(`k${i}`, value);
    for (let i = 0; i < KEYS; i++) expect((await cont.kv(oid).get(`k${i}`))?.byteLength).toBe(VALUE_BYTES);

    res = await scrape(telemetry.port);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    m = parsePrometheusText(text);

    // Families, typed.
    const types = Object.fromEntries([...m.values()].map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      daos_engine_up: 'gauge',
      daos_engine_ops_total: 'counter',
      daos_engine_op_errors_total: 'counter',
      daos_engine_bytes_total: 'counter',
      daos_engine_op_latency_seconds: 'histogram',
      daos_engine_csum_errors_total: 'counter',
      daos_target_csum_errors_total: 'counter',
      daos_engine_restarts_total: 'counter',
      daos_rank_state: 'gauge',
      daos_pool_space_bytes: 'gauge',
      daos_pool_targets: 'gauge',
      daos_pool_map_version: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      nodejs_heap_size_used_bytes: 'gauge',
    });
    for (const f of m.values()) expect(f.help, f.name).toBeTruthy();

    // Ranks: both Joined (1), every other state 0; both engines answered; no restarts.
    for (const rank of ['0', '1']) {
      const states = samples(m, 'daos_rank_state', { rank });
      expect(states.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['Joined']);
      expect(states.length).toBeGreaterThan(5);
      expect(total(m, 'daos_engine_up', { rank })).toBe(1);
      expect(total(m, 'daos_engine_restarts_total', { rank })).toBe(0);
      expect(total(m, 'daos_engine_csum_errors_total', { rank })).toBe(0);
      expect(samples(m, 'daos_target_csum_errors_total', { rank })).toHaveLength(2);
      for (const op of ENGINE_OPS) expect(samples(m, 'daos_engine_ops_total', { rank, op })).toHaveLength(1);
    }

    // Operations and bytes: at least what this test did (the client may do more, e.g. oid ranges).
    const writes =
      total(m, 'daos_engine_ops_total', { op: 'update' }) +
      total(m, 'daos_engine_ops_total', { op: 'tx_commit' });
    expect(writes).toBeGreaterThanOrEqual(KEYS);
    expect(total(m, 'daos_engine_ops_total', { op: 'fetch' })).toBeGreaterThanOrEqual(KEYS);
    expect(total(m, 'daos_engine_op_errors_total')).toBe(0);
    expect(total(m, 'daos_engine_bytes_total', { dir: 'write' })).toBeGreaterThanOrEqual(KEYS * VALUE_BYTES);
    expect(total(m, 'daos_engine_bytes_total', { dir: 'read' })).toBeGreaterThanOrEqual(KEYS * VALUE_BYTES);
    // SX spreads the keys: both ranks served some.
    for (const rank of ['0', '1'])
      expect(total(m, 'daos_engine_ops_total', { rank, op: 'update' })).toBeGreaterThan(0);

    // Latency histograms: the parser checked buckets and _count; here, the bounds and that the
    // counts agree with the ops counters.
    const fetch0 = samples(m, 'daos_engine_op_latency_seconds_bucket', { rank: '0', op: 'fetch' });
    expect(fetch0.map((s) => s.labels.le)).toEqual([...OP_LATENCY_BUCKETS_S.map(String), '+Inf']);
    for (const rank of ['0', '1'])
      for (const op of ENGINE_OPS) {
        const count = total(m, 'daos_engine_op_latency_seconds_count', { rank, op });
        expect(count).toBe(total(m, 'daos_engine_ops_total', { rank, op }));
        const sum = total(m, 'daos_engine_op_latency_seconds_sum', { rank, op });
        expect(sum).toBeGreaterThanOrEqual(0);
        if (count > 0) expect(sum).toBeGreaterThan(0);
      }

    // Pool space and targets.
    const [info] = await server.poolList();
    expect(total(m, 'daos_pool_space_bytes', { pool: info!.uuid, label: 'p', kind: 'total' })).toBe(
      POOL_BYTES,
    );
    const free = total(m, 'daos_pool_space_bytes', { label: 'p', kind: 'free' });
    expect(free).toBeLessThanOrEqual(POOL_BYTES - KEYS * VALUE_BYTES);
    expect(free).toBeGreaterThan(0);
    expect(total(m, 'daos_pool_targets', { label: 'p', state: 'UPIN' })).toBe(4);
    expect(total(m, 'daos_pool_targets', { label: 'p' })).toBe(4);
    expect(total(m, 'daos_pool_map_version', { label: 'p' })).toBe(info!.map.version);

    // Counters only grow between scrapes.
    await cont.kv(oid).put('one-more', value);
    const m2 = parsePrometheusText(await (await scrape(telemetry.port)).text());
    expect(total(m2, 'daos_engine_bytes_total', { dir: 'write' })).toBe(
      total(m, 'daos_engine_bytes_total', { dir: 'write' }) + VALUE_BYTES,
    );

    // Elsewhere: 404; another method: 405.
    expect((await scrape(telemetry.port, '/')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${telemetry.port}/metrics`, { method: 'POST' })).status).toBe(405);

    // A stopped rank: its state says so, it does not answer (up 0), its engine series are left out.
    await server.systemStop({ ranks: [1] });
    await telemetry.close();
    telemetry = await serveTelemetry(server, { port: 0, host: '127.0.0.1', timeoutMs: 500 });
    const m3 = parsePrometheusText(await (await scrape(telemetry.port)).text());
    expect(samples(m3, 'daos_rank_state', { rank: '1', state: 'Stopped' }).map((s) => s.value)).toEqual([1]);
    expect(total(m3, 'daos_engine_up', { rank: '1' })).toBe(0);
    expect(samples(m3, 'daos_engine_ops_total', { rank: '1' })).toEqual([]);
    expect(total(m3, 'daos_engine_up', { rank: '0' })).toBe(1);
    expect(total(m3, 'daos_engine_ops_total', { rank: '0' })).toBeGreaterThan(0);
  });

  it('the parser refuses what is not Prometheus text', () => {
    const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
    expect(parsePrometheusText(ok).get('a_total')?.samples[0]).toEqual({
      name: 'a_total',
      labels: { x: '1' },
      value: 3,
    });
    expect(() => parsePrometheusText('a{x="1} 3\n')).toThrow(/unterminated/);
    expect(() => parsePrometheusText('a 3\nb 1\na{y="2"} 4\n')).toThrow(/not contiguous/);
    expect(() => parsePrometheusText('a three\n')).toThrow(/bad value/);
    const h = (inf: number, count: number, b2 = 2) =>
      `# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} ${b2}\nh_bucket{le="+Inf"} ${inf}\nh_sum 1.5\nh_count ${count}\n`;
    expect(parsePrometheusText(h(3, 3)).get('h')?.samples).toHaveLength(5);
    expect(() => parsePrometheusText(h(3, 4))).toThrow(/_count 4 is not the \+Inf bucket 3/);
    expect(() => parsePrometheusText(h(3, 3, 0))).toThrow(/below/);
  });
});
