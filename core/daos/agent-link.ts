/**
 * The client's side of daos_agent's Unix socket: frames of core/wire, opcodes 0x06xx (below).
 * Every request header is `{}` (anything in it is ignored: the agent learns who is asking from
 * the kernel, never from the request); replies are plain msgpack maps, checked here.
 *
 * | opcode | reply |
 * |---|---|
 * | `OPC_AGENT_GET_ATTACH_INFO` 0x0601 | `AgentAttachInfo`: system name, engines' data-plane addresses, the management service's gRPC address, the transport settings to reach it |
 * | `OPC_AGENT_GET_CREDENTIAL` 0x0602 | `{ credential }`: a `dc1.` envelope (control/security/credential.ts) signed by the agent for the caller's uid/gid/pid |
 * | `OPC_AGENT_GET_POOLS` 0x0603 | `{ pools: PoolInfo[] }`: the system's pools (cached like attach info) |
 */
import { DaosError } from '../common/errors.js';
import { unixTransport } from '../wire/unix.js';
import type { PoolInfo } from './link.js';

export const OPC_AGENT_GET_ATTACH_INFO = 0x0601;
export const OPC_AGENT_GET_CREDENTIAL = 0x0602;
export const OPC_AGENT_GET_POOLS = 0x0603;
export const AGENT_OPCODES: ReadonlySet<number> = new Set([
  OPC_AGENT_GET_ATTACH_INFO,
  OPC_AGENT_GET_CREDENTIAL,
  OPC_AGENT_GET_POOLS,
]);
/** The socket's file name in the agent's runtime_dir. */
export const AGENT_SOCKET_NAME = 'daos_agent.sock';
/** Deadline of one request to the agent (it may have to ask the server first). */
export const AGENT_RPC_TIMEOUT_MS = 70_000;

/** How the management service is reached: daos_agent.yml's transport_config, as the agent has it. */
export interface AgentTransport {
  allow_insecure: boolean;
  ca_cert?: string;
  cert?: string;
  key?: string;
}

export interface AgentAttachInfo {
  system: string;
  engines: Array<{ rank: number; address: string }>;
  /** The management service's gRPC address (host:port). */
  mgmt: string;
  transport: AgentTransport;
}

function fail(what: string): never {
  throw new DaosError('DER_PROTO', `daos_agent reply: ${what}`);
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} is not a map`);
  return v as Record<string, unknown>;
}

function string(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} is not a string`);
  return v;
}

export function attachInfoFromAgent(header: unknown): AgentAttachInfo {
  const h = object(header, 'attach info');
  if (!Array.isArray(h.engines)) fail('engines is not a list');
  const engines = h.engines.map((e, i) => {
    const m = object(e, `engines[${i}]`);
    if (!Number.isInteger(m.rank) || (m.rank as number) < 0) fail(`engines[${i}].rank is not a rank`);
    return { rank: m.rank as number, address: string(m.address, `engines[${i}].address`) };
  });
  const t = object(h.transport, 'transport');
  if (typeof t.allow_insecure !== 'boolean') fail('transport.allow_insecure is not a boolean');
  const transport: AgentTransport = { allow_insecure: t.allow_insecure };
  for (const k of ['ca_cert', 'cert', 'key'] as const) {
    if (t[k] !== undefined && t[k] !== null) transport[k] = string(t[k], `transport.${k}`);
  }
  return { system: string(h.system, 'system'), engines, mgmt: string(h.mgmt, 'mgmt'), transport };
}

/** One request to the agent at `socketPath`, on a connection of its own. */
export async function agentRequest(socketPath: string, opcode: number): Promise<unknown> {
  if (typeof socketPath !== 'string' || !socketPath.startsWith('/'))
    throw new DaosError('DER_INVAL', `agentSocket ${JSON.stringify(socketPath)}: not an absolute path`);
  const conn = await unixTransport.connect(`unix://${socketPath}`, { timeoutMs: AGENT_RPC_TIMEOUT_MS });
  try {
    return (await conn.request(opcode, {})).header;
  } finally {
    await conn.close();
  }
}

export async function agentAttachInfo(socketPath: string): Promise<AgentAttachInfo> {
  return attachInfoFromAgent(await agentRequest(socketPath, OPC_AGENT_GET_ATTACH_INFO));
}

export async function agentCredential(socketPath: string): Promise<string> {
  const h = object(await agentRequest(socketPath, OPC_AGENT_GET_CREDENTIAL), 'credential reply');
  return string(h.credential, 'credential');
}

export async function agentPools(socketPath: string): Promise<PoolInfo[]> {
  const h = object(await agentRequest(socketPath, OPC_AGENT_GET_POOLS), 'pools reply');
  if (!Array.isArray(h.pools)) fail('pools is not a list');
  return h.pools as PoolInfo[];
}
