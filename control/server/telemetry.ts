/**
 * Telemetry: the server's metrics in Prometheus text format, gathered at each scrape from the
 * running engines (their counters, over the data plane, with a short timeout) and from the
 * management service (pools), plus prom-client's default metrics of the server process.
 * `serveTelemetry` serves them over HTTP at GET /metrics on `telemetry_port`.
 * See control/README.md "Telemetry" for the metric names, labels and meanings.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValue,
  Registry,
} from 'prom-client';
import { DaosError } from '../../core/common/errors.js';
import { ENGINE_OPS, type EngineCounters, OP_LATENCY_BUCKETS_S } from '../../core/daos/engine-counters.js';
import type { PoolQuery } from '../../core/daos/link.js';
import type { TargetState } from '../../core/placement/pool-map.js';
import type { ControlPlane, RankState } from '../plane.js';

/** How long a scrape waits for one engine's counters (or the pools' space) before skipping it. */
export const TELEMETRY_ENGINE_TIMEOUT_MS = 2_000;

/** What telemetry reads: a DaosServer, or any control plane that can ask engines their counters. */
export type TelemetrySource = Pick<ControlPlane, 'systemQuery' | 'poolList' | 'poolQuery'> & {
  engineCounters(rank: number, options: { timeoutMs?: number }): Promise<EngineCounters>;
};

export interface TelemetryOptions {
  /** Per-engine (and pool space) wait of one scrape; default TELEMETRY_ENGINE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** prom-client's default metrics of this process (CPU, memory, event loop, ...); default true. */
  processMetrics?: boolean;
}

// Every value of the unions, checked complete by the compiler (a missing or extra key fails).
const RANK_STATES = Object.keys({
  AwaitFormat: 0,
  Starting: 0,
  Ready: 0,
  Joined: 0,
  Stopping: 0,
  Stopped: 0,
  Excluded: 0,
  Errored: 0,
  Unresponsive: 0,
  AdminExcluded: 0,
} satisfies Record<RankState, 0>) as RankState[];
const TARGET_STATES = Object.keys({
  NEW: 0,
  UP: 0,
  UPIN: 0,
  DOWN: 0,
  DOWNOUT: 0,
  DRAIN: 0,
} satisfies Record<TargetState, 0>) as TargetState[];

type Labels = Record<string, string>;

/**
 * prom-client's type names at run time are strings ('histogram'); its typings declare a numeric
 * enum that does not exist at run time, hence the cast.
 */
const HISTOGRAM = 'histogram' as unknown as MetricType;

interface HistogramSeries {
  labels: Labels;
  /** Per bucket, not cumulative; one more than the bounds (the +Inf bucket). */
  buckets: number[];
  sum: number;
  count: number;
}

/** A sample of the text output: prom-client renders `metricName` with `labels`. */
type Sample = MetricValue<string> & { metricName: string };

/**
 * A histogram whose buckets were counted elsewhere (by the engines): prom-client's Histogram
 * observes values itself, so this one renders the series it is given at each scrape instead,
 * as `_bucket{le=...}` (cumulative, ending with `le="+Inf"` = `_count`), `_sum` and `_count`.
 */
class CollectedHistogram extends Histogram<string> {
  series: HistogramSeries[] = [];
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(config: HistogramConfiguration<string> & { registers: Registry[] }) {
    super(config);
    this.metricName = config.name;
    this.metricHelp = config.help;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    return this.getForPromString();
  }

  /** What Registry.metrics() renders (prom-client calls it when a metric has it). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const values: Sample[] = [];
    for (const s of this.series) {
      let acc = 0;
      OP_LATENCY_BUCKETS_S.forEach((le, i) => {
        acc += s.buckets[i] ?? 0;
        values.push({ metricName: `${this.metricName}_bucket`, labels: { ...s.labels, le }, value: acc });
      });
      values.push({
        metricName: `${this.metricName}_bucket`,
        labels: { ...s.labels, le: '+Inf' },
        value: s.count,
      });
      values.push({ metricName: `${this.metricName}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.metricName}_count`, labels: s.labels, value: s.count });
    }
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: HISTOGRAM,
      values,
      aggregator: 'sum',
      collect: () => undefined,
    };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DaosError('DER_TIMEDOUT', `${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The metrics of one server, in their own prom-client Registry (not the global one). */
export class Telemetry {
  readonly registry = new Registry();
  private readonly timeoutMs: number;
  private scraping: Promise<unknown> = Promise.resolve();

  private readonly engineUp: Gauge<string>;
  private readonly ops: Counter<string>;
  private readonly opErrors: Counter<string>;
  private readonly bytes: Counter<string>;
  private readonly latency: CollectedHistogram;
  private readonly csumErrors: Counter<string>;
  private readonly targetCsumErrors: Counter<string>;
  private readonly restarts: Counter<string>;
  private readonly rankState: Gauge<string>;
  private readonly poolSpace: Gauge<string>;
  private readonly poolTargets: Gauge<string>;
  private readonly poolMapVersion: Gauge<string>;
  private readonly rebuildState: Gauge<string>;
  private readonly rebuildObjects: Gauge<string>;
  private readonly rebuildBytes: Gauge<string>;

  constructor(
    private readonly source: TelemetrySource,
    options: TelemetryOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? TELEMETRY_ENGINE_TIMEOUT_MS;
    const registers = [this.registry];
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers });
    const gauge = (name: string, help: string, labelNames: string[]) =>
      new Gauge({ name, help, labelNames, registers });
    this.engineUp = gauge(
      'daos_engine_up',
      'Whether the engine answered this scrape (1) or not (0: not running, or no answer in time; its other engine metrics are left out)',
      ['rank'],
    );
    this.ops = counter(
      'daos_engine_ops_total',
      'Object service calls the engine finished, by kind, since it started',
      ['rank', 'op'],
    );
    this.opErrors = counter(
      'daos_engine_op_errors_total',
      'Object service calls that failed, by kind, since the engine started',
      ['rank', 'op'],
    );
    this.bytes = counter(
      'daos_engine_bytes_total',
      'Bytes clients wrote (update, tx_commit) and read (fetch) through the engine since it started',
      ['rank', 'dir'],
    );
    this.latency = new CollectedHistogram({
      name: 'daos_engine_op_latency_seconds',
      help: 'Latency of the engine object service calls, by kind, since it started',
      labelNames: ['rank', 'op'],
      buckets: [...OP_LATENCY_BUCKETS_S],
      registers,
    });
    this.csumErrors = counter(
      'daos_engine_csum_errors_total',
      'Checksum errors the engine targets found on reads since it started',
      ['rank'],
    );
    this.targetCsumErrors = counter(
      'daos_target_csum_errors_total',
      'Checksum errors found on reads, per target, since the engine started',
      ['rank', 'target'],
    );
    this.restarts = counter(
      'daos_engine_restarts_total',
      'Times daos_server restarted the engine after it died or stopped answering',
      ['rank'],
    );
    this.rankState = gauge('daos_rank_state', 'The rank state: 1 for the current one, 0 for the others', [
      'rank',
      'state',
    ]);
    this.poolSpace = gauge('daos_pool_space_bytes', 'Pool space: its size (total) and what is free', [
      'pool',
      'label',
      'kind',
    ]);
    this.poolTargets = gauge('daos_pool_targets', 'Pool targets in each state of the pool map', [
      'pool',
      'label',
      'state',
    ]);
    this.poolMapVersion = gauge('daos_pool_map_version', 'Version of the pool map', ['pool', 'label']);
    this.rebuildState = gauge(
      'daos_pool_rebuild_state',
      "The pool's latest rebuild (or rebalance): 1 for its state (idle, busy, done), 0 for the others",
      ['pool', 'label', 'state'],
    );
    this.rebuildObjects = gauge(
      'daos_pool_rebuild_objects',
      'Objects the latest rebuild of the pool moved or rebuilt shards of, so far',
      ['pool', 'label'],
    );
    this.rebuildBytes = gauge(
      'daos_pool_rebuild_bytes',
      'Bytes the latest rebuild of the pool wrote to the shards new homes, so far',
      ['pool', 'label'],
    );
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Gather every value now and render the Prometheus text. Scrapes run one at a time. */
  metrics(): Promise<string> {
    const run = this.scraping.then(async () => {
      await this.gather();
      return this.registry.metrics();
    });
    this.scraping = run.catch(() => undefined);
    return run;
  }

  private async gather(): Promise<void> {
    const [system, pools] = await Promise.all([
      this.source.systemQuery(),
      withTimeout(this.gatherPools(), this.timeoutMs, 'pool space').catch(() => undefined),
    ]);
    const counters = await Promise.all(
      system.members.map((m) =>
        withTimeout(
          this.source.engineCounters(m.rank, { timeoutMs: this.timeoutMs }),
          this.timeoutMs + 100,
          `rank ${m.rank}`,
        ).catch(() => undefined),
      ),
    );

    for (const metric of [
      this.engineUp,
      this.ops,
      this.opErrors,
      this.bytes,
      this.csumErrors,
      this.targetCsumErrors,
      this.restarts,
      this.rankState,
    ])
      metric.reset();
    this.latency.series = [];
    system.members.forEach((m, i) => {
      const rank = String(m.rank);
      for (const state of RANK_STATES) this.rankState.set({ rank, state }, state === m.state ? 1 : 0);
      this.restarts.inc({ rank }, m.restarts);
      const c = counters[i];
      this.engineUp.set({ rank }, c ? 1 : 0);
      if (!c) return;
      for (const op of ENGINE_OPS) {
        const o = c.ops[op];
        this.ops.inc({ rank, op }, o.count);
        this.opErrors.inc({ rank, op }, o.errors);
        this.latency.series.push({
          labels: { rank, op },
          buckets: o.buckets,
          sum: o.sumSeconds,
          count: o.count,
        });
      }
      this.bytes.inc({ rank, dir: 'write' }, c.bytesWritten);
      this.bytes.inc({ rank, dir: 'read' }, c.bytesRead);
      this.csumErrors.inc({ rank }, c.csumErrors);
      c.targets.forEach((t, target) => {
        this.targetCsumErrors.inc({ rank, target: String(target) }, t.csumErrors);
      });
    });

    // Pools: none before format, nor when the service did not answer in time.
    this.poolSpace.reset();
    this.poolTargets.reset();
    this.poolMapVersion.reset();
    this.rebuildState.reset();
    this.rebuildObjects.reset();
    this.rebuildBytes.reset();
    for (const p of pools ?? []) {
      const labels: LabelValues<string> = { pool: p.uuid, label: p.label };
      this.poolSpace.set({ ...labels, kind: 'total' }, p.totalBytes);
      if (p.freeBytes !== undefined) this.poolSpace.set({ ...labels, kind: 'free' }, p.freeBytes);
      for (const state of TARGET_STATES)
        this.poolTargets.set({ ...labels, state }, p.states.filter((s) => s === state).length);
      this.poolMapVersion.set(labels, p.mapVersion);
      if (p.rebuild) {
        for (const state of ['idle', 'busy', 'done'])
          this.rebuildState.set({ ...labels, state }, state === p.rebuild.state ? 1 : 0);
        this.rebuildObjects.set(labels, p.rebuild.objects);
        this.rebuildBytes.set(labels, p.rebuild.bytes);
      }
    }
  }

  /** Every pool with its map; free space when its query answers. DER_UNINIT before format: none. */
  private async gatherPools(): Promise<
    Array<{
      uuid: string;
      label: string;
      totalBytes: number;
      freeBytes?: number;
      states: TargetState[];
      mapVersion: number;
      rebuild?: PoolQuery['rebuild'];
    }>
  > {
    let list: Awaited<ReturnType<TelemetrySource['poolList']>>;
    try {
      list = await this.source.poolList();
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_UNINIT') return [];
      throw err;
    }
    return Promise.all(
      list.map(async (p) => {
        const q = await this.source.poolQuery(p.uuid).catch(() => undefined);
        return {
          uuid: p.uuid,
          label: p.label,
          totalBytes: p.totalBytes,
          ...(q && { freeBytes: q.freeBytes, rebuild: q.rebuild }),
          states: p.map.states,
          mapVersion: p.map.version,
        };
      }),
    );
  }
}

export interface TelemetryServer {
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  readonly telemetry: Telemetry;
  close(): Promise<void>;
}

/**
 * Serve `source`'s metrics over HTTP: GET (or HEAD) /metrics answers the Prometheus text
 * (prom-client's content type); any other path is 404, another method on /metrics 405. `host`
 * defaults to every interface, as DAOS's telemetry.
 */
export async function serveTelemetry(
  source: TelemetrySource,
  options: { port: number; host?: string } & TelemetryOptions,
): Promise<TelemetryServer> {
  const telemetry = new Telemetry(source, options);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found; try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    telemetry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': telemetry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    telemetry,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
