#!/usr/bin/env node
/**
 * daos_agent: reads daos_agent.yml and serves local clients on `runtime_dir/daos_agent.sock`
 * (attach info, signed credentials, the pool list). See agent/README.md.
 *
 *   daos_agent -o /etc/daos/daos_agent.yml
 *
 * Prints `daos_agent listening unix://PATH pid N` on stdout once the socket is up. Logs to
 * log_file (appended) or stderr. SIGTERM or SIGINT closes the socket and exits 0.
 */
import { appendFileSync } from 'node:fs';
import { DaosAgent } from '../agent/agent.js';
import { loadAgentConfig } from '../control/server/agent-config.js';
import { DaosError } from '../core/common/errors.js';

const USAGE = 'usage: daos_agent [start] -o|--config PATH';

function parseArgs(argv: string[]): string {
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === 'start' && i === 0) continue;
    else if (a === '-o' || a === '--config') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else throw new DaosError('DER_INVAL', `bad argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!config) throw new DaosError('DER_INVAL', `-o PATH (the daos_agent.yml) is required\n${USAGE}`);
  return config;
}

async function main(): Promise<void> {
  const config = await loadAgentConfig(parseArgs(process.argv.slice(2)));
  const log = (line: string) => {
    const text = `${new Date().toISOString()} ${line}\n`;
    if (config.log_file) appendFileSync(config.log_file, text);
    else process.stderr.write(text);
  };
  const agent = await DaosAgent.start(config, { log });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`daos_agent: ${signal}; stopping`);
    await agent.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.stdout.write(`daos_agent listening unix://${agent.socketPath} pid ${process.pid}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ERROR: daos_agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
