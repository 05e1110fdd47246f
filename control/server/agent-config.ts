/**
 * daos_agent.yml: where the servers are and how to reach them, validated by the same readers
 * as daos_server.yml (config-yaml.ts). See control/README.md for every key and rule.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  CONTROL_LOG_MASKS,
  CONTROL_PORT_DEFAULT,
  type ControlLogMask,
  SYSTEM_NAME_DEFAULT,
  systemName,
  type TransportConfig,
  transportConfig,
} from './config.js';
import { ConfigFile } from './config-yaml.js';

export const AGENT_RUNTIME_DIR_DEFAULT = '/var/run/daos_agent';
/** How long the agent keeps attach info and pool lists before asking the servers again. */
export const AGENT_CACHE_EXPIRY_SECONDS_DEFAULT = 300;
/** A day: longer than that, a changed system goes unnoticed for too long. */
export const AGENT_CACHE_EXPIRY_SECONDS_MAX = 24 * 3600;

/** A validated daos_agent.yml, with defaults filled in. */
export interface AgentConfig {
  readonly name: string;
  /** `host:port` of the servers to ask for attach info; a missing port is `port`. */
  readonly access_points: readonly string[];
  readonly port: number;
  readonly transport_config: TransportConfig;
  /** Where the agent's Unix socket lives. */
  readonly runtime_dir: string;
  readonly log_file?: string;
  readonly control_log_mask: ControlLogMask;
  /** Seconds; 0 = no caching. */
  readonly cache_expiry: number;
}

const DAOS_AGENT_KEYS_UNSUPPORTED = ['fabric_ifaces', 'exclude_fabric_ifaces', 'disable_caching'];

/** Parse and validate daos_agent.yml; throws a ConfigError (DER_INVAL) listing every problem. */
export function parseAgentConfig(text: string, fileName: string): AgentConfig {
  const file = new ConfigFile(text, fileName);
  const root = file.root();
  const name = systemName(root) ?? SYSTEM_NAME_DEFAULT;
  const port = root.port('port', false) ?? CONTROL_PORT_DEFAULT;
  const accessPoints = (root.list('access_points', { nonEmpty: true }) ?? undefined)?.map((item) => {
    const hp = item.hostPort(port);
    return hp && `${hp.host}:${hp.port}`;
  }) ?? [`localhost:${port}`];
  const transport = transportConfig(root);
  const runtimeDir = root.absolutePath('runtime_dir') ?? AGENT_RUNTIME_DIR_DEFAULT;
  const logFile = root.absolutePath('log_file');
  const logMask = root.word('control_log_mask', CONTROL_LOG_MASKS) ?? 'INFO';
  const cacheExpiry =
    root.int('cache_expiry', 0, AGENT_CACHE_EXPIRY_SECONDS_MAX) ?? AGENT_CACHE_EXPIRY_SECONDS_DEFAULT;
  root.refuse(DAOS_AGENT_KEYS_UNSUPPORTED);
  root.finish();

  file.throwIfProblems();
  return {
    name,
    access_points: accessPoints.map((a) => a!),
    port,
    transport_config: transport!,
    runtime_dir: runtimeDir,
    ...(logFile !== undefined && { log_file: logFile }),
    control_log_mask: logMask,
    cache_expiry: cacheExpiry,
  };
}

/** Read and validate a daos_agent.yml file; errors name the file by its base name. */
export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  return parseAgentConfig(await readFile(path, 'utf8'), basename(path));
}
