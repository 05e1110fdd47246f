/**
 * daos_server.yml: the keys of DAOS's server config that mean the same here, validated with
 * file:line:col errors (config-yaml.ts). See control/README.md for every key and rule.
 */
import { readFile } from 'node:fs/promises';
import { basename, normalize, sep } from 'node:path';
import { SYSTEM_NAME_BYTES_MAX, TARGETS_PER_ENGINE_MAX } from '../../core/common/limits.js';
import { ConfigFile, type ConfigItem, type ConfigMap, PortClaims } from './config-yaml.js';

/** control_log_mask levels, as DAOS's control plane spells them. */
export const CONTROL_LOG_MASKS = ['DEBUG', 'INFO', 'NOTICE', 'ERROR'] as const;
export type ControlLogMask = (typeof CONTROL_LOG_MASKS)[number];
/** Engine log_mask levels, as DAOS's engine (D_LOG_MASK) spells them. */
export const ENGINE_LOG_MASKS = ['DEBUG', 'INFO', 'NOTE', 'WARN', 'ERR', 'CRIT'] as const;
export type EngineLogMask = (typeof ENGINE_LOG_MASKS)[number];
/** Storage classes of this release: a tmpfs-like folder, or a folder on a real file system. */
export const STORAGE_CLASSES = ['ram', 'file'] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

/** DAOS's default control-plane port. */
export const CONTROL_PORT_DEFAULT = 10001;
export const SYSTEM_NAME_DEFAULT = 'daos_server';
export const SERVER_SOCKET_DIR_DEFAULT = '/var/run/daos_server';
/** Smallest scm_size: room for one pool's metadata and a few targets. */
export const SCM_BYTES_MIN = 16 * 1024 * 1024;

/** transport_config; the paths are present when allow_insecure is false. */
export interface TransportConfig {
  readonly allow_insecure: boolean;
  readonly ca_cert?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** One storage tier of an engine. `scm_size` is bytes: required for ram, a cap for file. */
export type StorageTier =
  | { readonly class: 'ram'; readonly scm_mount: string; readonly scm_size: number }
  | { readonly class: 'file'; readonly scm_mount: string; readonly scm_size?: number };

/** One entry of `engines`: one daos_engine process, one rank. */
export interface EngineConfig {
  readonly targets: number;
  /** The engine's TCP listen port; 0 = any free port. */
  readonly fabric_iface_port: number;
  readonly first_core?: number;
  readonly log_file?: string;
  readonly log_mask: EngineLogMask;
  /** `env_vars` entries (`KEY=VALUE`), as a record. */
  readonly env_vars: Readonly<Record<string, string>>;
  /** Exactly one tier in this release. */
  readonly storage: readonly StorageTier[];
}

/** A validated daos_server.yml, with defaults filled in. */
export interface ServerConfig {
  readonly name: string;
  readonly port: number;
  readonly transport_config: TransportConfig;
  /** `host:port` of the management service replicas; one (this server) in this release. */
  readonly mgmt_svc_replicas: readonly string[];
  /** 0 = off. */
  readonly telemetry_port: number;
  readonly control_log_file?: string;
  readonly control_log_mask: ControlLogMask;
  readonly socket_dir: string;
  readonly engines: readonly EngineConfig[];
}

/** DAOS keys this release does not use: named in the error so that a DAOS config is easy to port. */
const DAOS_SERVER_KEYS_UNSUPPORTED = [
  'provider',
  'access_points',
  'nr_hugepages',
  'disable_vfio',
  'core_dump_filter',
];
const DAOS_ENGINE_KEYS_UNSUPPORTED = [
  'provider',
  'fabric_iface',
  'nr_xs_helpers',
  'pinned_numa_node',
  'bdev_list',
];

/** Parse and validate daos_server.yml; throws a ConfigError (DER_INVAL) listing every problem. */
export function parseServerConfig(text: string, fileName: string): ServerConfig {
  const file = new ConfigFile(text, fileName);
  const root = file.root();
  const ports = new PortClaims();

  const name = systemName(root) ?? SYSTEM_NAME_DEFAULT;
  const port = root.port('port', false) ?? CONTROL_PORT_DEFAULT;
  ports.claim(root, 'port', port);
  const transport = transportConfig(root, ['client_cert_dir']);
  const replicas = mgmtSvcReplicas(root, port);
  const telemetryPort = root.port('telemetry_port', true) ?? 0;
  ports.claim(root, 'telemetry_port', telemetryPort);
  const controlLogFile = root.absolutePath('control_log_file');
  const controlLogMask = root.word('control_log_mask', CONTROL_LOG_MASKS) ?? 'INFO';
  const socketDir = root.absolutePath('socket_dir') ?? SERVER_SOCKET_DIR_DEFAULT;
  const engineItems = root.list('engines', { required: true, nonEmpty: true }) ?? [];
  const mounts: { path: string; mount: string; line: number }[] = [];
  const engines = engineItems.map((item) => engineConfig(item, ports, mounts));
  root.refuse(DAOS_SERVER_KEYS_UNSUPPORTED);
  root.finish();

  file.throwIfProblems();
  return {
    name,
    port,
    transport_config: transport!,
    mgmt_svc_replicas: replicas,
    telemetry_port: telemetryPort,
    ...(controlLogFile !== undefined && { control_log_file: controlLogFile }),
    control_log_mask: controlLogMask,
    socket_dir: socketDir,
    engines: engines.map((e) => e!),
  };
}

/** Read and validate a daos_server.yml file; errors name the file by its base name. */
export async function loadServerConfig(path: string): Promise<ServerConfig> {
  return parseServerConfig(await readFile(path, 'utf8'), basename(path));
}

/** `name`: the DAOS system name. */
export function systemName(map: ConfigMap): string | undefined {
  const name = map.string('name');
  if (name === undefined) return undefined;
  if (!new RegExp(`^[A-Za-z0-9_-]{1,${SYSTEM_NAME_BYTES_MAX}}$`).test(name)) {
    map.reportAt(
      'name',
      `expected 1 to ${SYSTEM_NAME_BYTES_MAX} of A-Z a-z 0-9 _ -, found ${JSON.stringify(name)}`,
    );
    return undefined;
  }
  return name;
}

/** `transport_config`, shared with daos_agent.yml; `extraPaths` are optional path keys. */
export function transportConfig(
  parent: ConfigMap,
  extraPaths: readonly string[] = [],
): TransportConfig | undefined {
  const map = parent.map('transport_config', { required: true });
  if (!map) return undefined;
  const allowInsecure = map.bool('allow_insecure') ?? false;
  const required = { required: !allowInsecure };
  const caCert = map.absolutePath('ca_cert', required);
  const cert = map.absolutePath('cert', required);
  const key = map.absolutePath('key', required);
  for (const k of extraPaths) map.absolutePath(k);
  map.finish();
  return {
    allow_insecure: allowInsecure,
    ...(caCert !== undefined && { ca_cert: caCert }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
  };
}

function mgmtSvcReplicas(root: ConfigMap, port: number): string[] {
  const items = root.list('mgmt_svc_replicas', { nonEmpty: true });
  if (!items) return [`localhost:${port}`];
  if (items.length > 1) {
    root.reportAt(
      'mgmt_svc_replicas',
      `this single-machine release runs one management service replica, found ${items.length}`,
    );
    return [];
  }
  const hp = items[0]!.hostPort(port);
  if (hp && hp.port !== port) {
    items[0]!.report(`port ${hp.port} is not this server's port ${port} (the one replica is this server)`);
  }
  return hp ? [`${hp.host}:${hp.port}`] : [];
}

function engineConfig(
  item: ConfigItem,
  ports: PortClaims,
  mounts: { path: string; mount: string; line: number }[],
): EngineConfig | undefined {
  const map = item.map();
  if (!map) return undefined;
  const targets = map.int('targets', 1, TARGETS_PER_ENGINE_MAX, { required: true });
  const fabricPort = map.port('fabric_iface_port', true) ?? 0;
  ports.claim(map, 'fabric_iface_port', fabricPort);
  const firstCore = map.int('first_core', 0, 65535);
  const logFile = map.absolutePath('log_file');
  const logMask = map.word('log_mask', ENGINE_LOG_MASKS) ?? 'INFO';
  const envVars = envVarList(map);
  const tierItems = map.list('storage', { required: true, nonEmpty: true }) ?? [];
  for (const extra of tierItems.slice(1))
    extra.report('this release supports exactly one storage tier per engine');
  const tier = tierItems[0] && storageTier(tierItems[0], mounts);
  map.refuse(DAOS_ENGINE_KEYS_UNSUPPORTED);
  map.finish();
  return {
    targets: targets!,
    fabric_iface_port: fabricPort,
    ...(firstCore !== undefined && { first_core: firstCore }),
    ...(logFile !== undefined && { log_file: logFile }),
    log_mask: logMask,
    env_vars: envVars,
    storage: tier ? [tier] : [],
  };
}

function envVarList(map: ConfigMap): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of map.list('env_vars') ?? []) {
    const s = item.string();
    if (s === undefined) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(s);
    if (!m) {
      item.report(`expected KEY=VALUE, found ${JSON.stringify(s)}`);
    } else if (m[1]! in env) {
      item.report(`${m[1]} is set twice`);
    } else {
      env[m[1]!] = m[2]!;
    }
  }
  return env;
}

function storageTier(
  item: ConfigItem,
  mounts: { path: string; mount: string; line: number }[],
): StorageTier | undefined {
  const map = item.map();
  if (!map) return undefined;
  const cls = map.word('class', STORAGE_CLASSES, { required: true });
  const mount = map.absolutePath('scm_mount', { required: true });
  const size = map.bytes('scm_size', SCM_BYTES_MIN, { required: cls === 'ram' });
  map.finish();
  if (mount !== undefined) {
    const m = normalize(mount).replace(/(.)\/$/, '$1');
    const clash = mounts.find((o) => o.mount === m || inside(m, o.mount) || inside(o.mount, m));
    if (clash) {
      const how = clash.mount === m ? 'is also' : 'overlaps';
      map.reportAt('scm_mount', `${mount} ${how} the scm_mount of ${clash.path} (line ${clash.line})`);
    } else {
      mounts.push({ path: map.sub('scm_mount'), mount: m, line: map.lineOf('scm_mount') });
    }
  }
  if (cls === undefined || mount === undefined) return undefined;
  if (cls === 'ram')
    return size === undefined ? undefined : { class: 'ram', scm_mount: mount, scm_size: size };
  return { class: 'file', scm_mount: mount, ...(size !== undefined && { scm_size: size }) };
}

function inside(child: string, parent: string): boolean {
  return child.startsWith(parent === sep ? parent : parent + sep);
}
