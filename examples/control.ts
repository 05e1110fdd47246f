/**
 * The control plane from a program (`daos-ts/control`, what dmg is built on): a daos_server in
 * this process with two engine processes, its gRPC API on loopback, and a ManagementClient that
 * formats the storage, creates a pool, and reads the system and pool state back.
 *
 *   node dist/examples/control.js [DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectManagement, DaosServer, parseServerConfig, serveControl } from '../control/index.js';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'daos-control-'));
const config = parseServerConfig(
  `name: example
port: 10001
transport_config:
  allow_insecure: true
socket_dir: ${dir}/sock
engines:
  - targets: 2
    storage: [{ class: ram, scm_mount: ${dir}/ram0, scm_size: 256MiB }]
  - targets: 2
    storage: [{ class: ram, scm_mount: ${dir}/ram1, scm_size: 256MiB }]
`,
  'daos_server.yml',
);
const server = await DaosServer.start(config, { log: () => undefined });
const api = await serveControl(server, { address: '127.0.0.1:0', transport: config.transport_config });
const dmg = connectManagement({ address: `127.0.0.1:${api.port}`, transport: { allow_insecure: true } });
try {
  const before = await dmg.systemQuery();
  console.log(`ranks before format: ${before.members.map((m) => `${m.rank} ${m.state}`).join(', ')}`);
  await dmg.storageFormat({ onProgress: (p) => console.log(`  format: ${p.what} (${p.done}/${p.total})`) });
  const after = await dmg.systemQuery();
  console.log(
    `ranks after format: ${after.members.map((m) => `${m.rank} ${m.state} pid ${m.pid}`).join(', ')}`,
  );
  const pool = await dmg.poolCreate({ label: 'tank', size: '128M' });
  await dmg.poolUpdateAcl('tank', ['A::bob@:r']);
  const q = await dmg.poolQuery('tank');
  console.log(`pool ${pool.label}: ${q.targets} targets, ${q.totalBytes} bytes, map version ${q.mapVersion}`);
  console.log(`acl: ${(await dmg.poolGetAcl('tank')).entries.join(' ')}`);
} finally {
  dmg.close();
  await api.close();
  await server.shutdown();
  if (!process.argv[2]) rmSync(dir, { recursive: true, force: true });
}
