#!/usr/bin/env node
/**
 * daos_server: reads daos_server.yml, formats storage (on `storage format`, or at once with
 * --auto-format), starts and supervises one daos_engine per `engines[]` entry, and hosts the
 * management service. See control/README.md "daos_server".
 *
 *   daos_server start -o /etc/daos/daos_server.yml [--auto-format]
 *
 * Serves GET /metrics (Prometheus text) on telemetry_port when it is set (control/server/telemetry.ts).
 * Logs to control_log_file (appended) or stderr. On SIGTERM or SIGINT stops every engine
 * cleanly (dRPC stop, SIGTERM, SIGKILL after ENGINE_STOP_TIMEOUT_MS) and exits 0.
 */
import { appendFileSync } from 'node:fs';
import { serveControl } from '../control/grpc/server.js';
import { loadServerConfig } from '../control/server/config.js';
import { DaosServer } from '../control/server/server.js';
import { serveTelemetry, type TelemetryServer } from '../control/server/telemetry.js';
import { DaosError } from '../core/common/errors.js';

const USAGE = 'usage: daos_server start -o|--config PATH [--auto-format] [--agent-key PEM]...';

interface Args {
  config: string;
  autoFormat: boolean;
  /** Public keys of trusted agents (runtime_dir/daos_agent.pub.pem): ClientSvc enforces ACLs for their credentials. */
  agentKeys: string[];
}

function parseArgs(argv: string[]): Args {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (argv[0] !== 'start')
    throw new DaosError('DER_INVAL', `unknown command ${JSON.stringify(argv[0] ?? '')}\n${USAGE}`);
  let config: string | undefined;
  let autoFormat = false;
  const agentKeys: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o' || a === '--config') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '--auto-format') autoFormat = true;
    else if (a === '--agent-key' && argv[i + 1] !== undefined) agentKeys.push(argv[++i]!);
    else if (a.startsWith('--agent-key=')) agentKeys.push(a.slice('--agent-key='.length));
    else throw new DaosError('DER_INVAL', `bad argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!config) throw new DaosError('DER_INVAL', `-o PATH (the daos_server.yml) is required\n${USAGE}`);
  return { config, autoFormat, agentKeys };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = await loadServerConfig(args.config);
  const logFile = config.control_log_file;
  const log = (line: string) => {
    const text = `${new Date().toISOString()} ${line}\n`;
    if (logFile) appendFileSync(logFile, text);
    else process.stderr.write(text);
  };
  const server = await DaosServer.start(config, {
    log,
    ...(args.agentKeys.length > 0 ? { agentKeyFiles: args.agentKeys } : {}),
  });
  // The control API for dmg and agents, and the client API (pools, containers) for libdaos, on
  // config.port; the management service is looked up per call (it exists once storage is formatted).
  const grpc = await serveControl(server, {
    address: `0.0.0.0:${config.port}`,
    transport: config.transport_config,
    client: () => server.mgmt,
  });
  log(
    `daos_server: control API on port ${grpc.port} (${config.transport_config.allow_insecure ? 'insecure' : 'mutual TLS'})`,
  );
  // Telemetry (GET /metrics, Prometheus text) on telemetry_port when set; 0 or absent = off.
  let telemetry: TelemetryServer | undefined;
  if (config.telemetry_port) {
    telemetry = await serveTelemetry(server, { port: config.telemetry_port });
    log(`daos_server: telemetry on port ${telemetry.port} (GET /metrics)`);
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`daos_server: ${signal}; stopping`);
    try {
      await telemetry?.close();
      await grpc.close();
      await server.shutdown();
      process.exit(0);
    } catch (err) {
      log(`daos_server: stop failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (args.autoFormat && !(await server.storageScan()).every((t) => t.formatted)) {
    await server.storageFormat();
  }
  const q = await server.systemQuery();
  log(
    `daos_server: system "${q.name}" pid ${process.pid}: ${q.members.map((m) => `rank ${m.rank} ${m.state}`).join(', ')}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`daos_server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
