import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { TARGETS_PER_ENGINE_MAX } from '../../core/common/limits.js';
import { loadAgentConfig, parseAgentConfig } from './agent-config.js';
import { loadServerConfig, parseServerConfig } from './config.js';
import { ConfigError } from './config-yaml.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'config');
const GiB = 1024 ** 3;

/**
 * `line:col` of `colNeedle` on the `nth` line of `text` that contains `lineNeedle`: expected
 * positions come from the test's own YAML, not from the parser.
 */
function at(text: string, lineNeedle: string, colNeedle = lineNeedle, nth = 0): string {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(lineNeedle) ? [i] : []));
  const i = hits[nth];
  if (i === undefined) throw new Error(`test bug: no line ${nth} with ${lineNeedle}`);
  const col = lines[i]!.indexOf(colNeedle);
  if (col < 0) throw new Error(`test bug: ${colNeedle} not on line ${i + 1}`);
  return `${i + 1}:${col + 1}`;
}

function lineNo(text: string, needle: string, nth = 0): number {
  return Number(at(text, needle, needle, nth).split(':')[0]);
}

function failure(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(DaosError);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as DaosError).code).toBe('DER_INVAL');
    return e as ConfigError;
  }
  throw new Error('expected the config to be refused');
}

/** Assert that the message has a line `file:pos: path: ...reason...`. */
function expectProblem(
  err: ConfigError,
  file: string,
  pos: string,
  path: string,
  reason: string | RegExp,
): void {
  const prefix = path === '' ? `${file}:${pos}: ` : `${file}:${pos}: ${path}: `;
  const lines = err.message.replace(/^DER_INVAL\(-1003\): /, '').split('\n');
  const line = lines.find((l) => l.startsWith(prefix));
  expect(line, `no problem at ${prefix} in:\n${err.message}`).toBeDefined();
  if (typeof reason === 'string') expect(line).toContain(reason);
  else expect(line).toMatch(reason);
}

const F = 'daos_server.yml';

/** Server case: the text, where the problem is, its key path and reason. */
function bad(text: string, pos: string, path: string, reason: string | RegExp): ConfigError {
  const err = failure(() => parseServerConfig(text, F));
  expectProblem(err, F, pos, path, reason);
  return err;
}

describe('example configs', () => {
  it('examples/config/daos_server.yml parses to the expected values', async () => {
    const cfg = await loadServerConfig(join(EXAMPLES, 'daos_server.yml'));
    expect(cfg).toEqual({
      name: 'daos_server',
      port: 10001,
      transport_config: { allow_insecure: true },
      mgmt_svc_replicas: ['localhost:10001'],
      telemetry_port: 9191,
      control_log_file: '/tmp/daos_server.log',
      control_log_mask: 'INFO',
      socket_dir: '/tmp/daos_server',
      engines: [
        {
          targets: 4,
          fabric_iface_port: 31416,
          first_core: 0,
          log_file: '/tmp/daos_engine.0.log',
          log_mask: 'INFO',
          env_vars: { DAOS_MD_CAP: '1024' },
          storage: [{ class: 'ram', scm_mount: '/tmp/daos/ram0', scm_size: 4 * GiB }],
        },
        {
          targets: 4,
          fabric_iface_port: 32416,
          first_core: 4,
          log_file: '/tmp/daos_engine.1.log',
          log_mask: 'INFO',
          env_vars: {},
          storage: [{ class: 'ram', scm_mount: '/tmp/daos/ram1', scm_size: 4 * GiB }],
        },
      ],
    });
  });

  it('examples/config/daos_agent.yml parses to the expected values', async () => {
    const cfg = await loadAgentConfig(join(EXAMPLES, 'daos_agent.yml'));
    expect(cfg).toEqual({
      name: 'daos_server',
      access_points: ['localhost:10001'],
      port: 10001,
      transport_config: { allow_insecure: true },
      runtime_dir: '/tmp/daos_agent',
      log_file: '/tmp/daos_agent.log',
      control_log_mask: 'INFO',
      cache_expiry: 300,
    });
  });

  it('loadServerConfig names the file by its base name', async () => {
    const text = await readFile(join(EXAMPLES, 'daos_server.yml'), 'utf8');
    expect(parseServerConfig(text, 'x.yml').engines).toHaveLength(2);
  });
});

describe('daos_server.yml defaults', () => {
  it('fills in name, port, replicas, telemetry, log mask, socket dir; file tier without a cap', () => {
    const cfg = parseServerConfig(
      `transport_config:
  allow_insecure: false
  ca_cert: /etc/daos/certs/daosCA.crt
  cert: /etc/daos/certs/server.crt
  key: /etc/daos/certs/server.key
engines:
  - targets: 1
    storage:
      - class: file
        scm_mount: /srv/daos0
`,
      F,
    );
    expect(cfg.name).toBe('daos_server');
    expect(cfg.port).toBe(10001);
    expect(cfg.mgmt_svc_replicas).toEqual(['localhost:10001']);
    expect(cfg.telemetry_port).toBe(0);
    expect(cfg.control_log_mask).toBe('INFO');
    expect(cfg.socket_dir).toBe('/var/run/daos_server');
    expect(cfg.transport_config.cert).toBe('/etc/daos/certs/server.crt');
    expect(cfg.engines[0]).toEqual({
      targets: 1,
      fabric_iface_port: 0,
      log_mask: 'INFO',
      env_vars: {},
      storage: [{ class: 'file', scm_mount: '/srv/daos0' }],
    });
  });

  it('takes sizes as numbers of bytes and aliases', () => {
    const cfg = parseServerConfig(
      `transport_config: {allow_insecure: true}
engines:
  - targets: &t 2
    storage: [{class: ram, scm_mount: /r0, scm_size: 1073741824}]
  - targets: *t
    storage: [{class: file, scm_mount: /f1, scm_size: 512m}]
`,
      F,
    );
    expect(cfg.engines.map((e) => e.targets)).toEqual([2, 2]);
    expect(cfg.engines[0]!.storage[0]!.scm_size).toBe(GiB);
    expect(cfg.engines[1]!.storage[0]!.scm_size).toBe(512 * 1024 * 1024);
  });
});

describe('bad daos_server.yml', () => {
  it('unknown top-level key: names it, suggests the near one, lists the known keys', () => {
    const t = `port: 10001
telemetry_prot: 9191
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    bad(
      t,
      at(t, 'telemetry_prot'),
      'telemetry_prot',
      /unknown key \(did you mean telemetry_port\?\); known keys here: name, port, .*engines/,
    );
  });

  it('unknown engine key', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    nr_targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    bad(t, at(t, 'nr_targets'), 'engines[0].nr_targets', 'unknown key');
  });

  it('unknown storage key', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - class: ram
        scm_mount: /r0
        scm_size: 1GiB
        scm_list: [/dev/pmem0]
`;
    bad(
      t,
      at(t, 'scm_list'),
      'engines[0].storage[0].scm_list',
      'known keys here: class, scm_mount, scm_size',
    );
  });

  it('a DAOS key this release does not use', () => {
    const t = `provider: ofi+tcp
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    fabric_iface: eth0
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    const err = bad(t, at(t, 'provider'), 'provider', 'DAOS setting that daos-ts does not use');
    expectProblem(err, F, at(t, 'fabric_iface'), 'engines[0].fabric_iface', 'does not use');
    expect(err.problems).toHaveLength(2);
  });

  it('port as a quoted string', () => {
    const t = `port: "10001"
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    bad(t, at(t, 'port', '"10001"'), 'port', 'expected an integer from 1 to 65535, found string "10001"');
  });

  it('port out of range', () => {
    const t = `port: 70000
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    bad(t, at(t, '70000'), 'port', 'found number 70000');
  });

  it('port zero (the control port must be known to agents)', () => {
    const t = `port: 0
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
`;
    bad(t, at(t, 'port', '0'), 'port', 'expected an integer from 1 to 65535, found number 0');
  });

  it('a value of the wrong kind: a list where a string goes, a mapping where an integer goes', () => {
    const t = `name: [a, b]
telemetry_port: {port: 9191}
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    const err = bad(t, at(t, '[a, b]'), 'name', 'expected a string, found a list');
    expectProblem(err, F, at(t, '{port'), 'telemetry_port', 'found a mapping');
  });

  it('negative, zero, fractional and too many targets', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: -1
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
  - targets: 0
    storage: [{class: ram, scm_mount: /r1, scm_size: 1GiB}]
  - targets: 2.5
    storage: [{class: ram, scm_mount: /r2, scm_size: 1GiB}]
  - targets: ${TARGETS_PER_ENGINE_MAX + 1}
    storage: [{class: ram, scm_mount: /r3, scm_size: 1GiB}]
`;
    const expected = `expected an integer from 1 to ${TARGETS_PER_ENGINE_MAX}`;
    const err = bad(t, at(t, '-1'), 'engines[0].targets', `${expected}, found number -1`);
    expectProblem(err, F, at(t, 'targets: 0', '0'), 'engines[1].targets', 'found number 0');
    expectProblem(err, F, at(t, '2.5'), 'engines[2].targets', 'found number 2.5');
    expectProblem(err, F, at(t, `${TARGETS_PER_ENGINE_MAX + 1}`), 'engines[3].targets', expected);
    expect(err.problems).toHaveLength(4);
  });

  it('targets missing', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - fabric_iface_port: 31416
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'fabric_iface_port'), 'engines[0].targets', 'missing (required)');
  });

  it('allow_insecure: yes is a string in YAML 1.2', () => {
    const t = `transport_config:
  allow_insecure: yes
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'yes'), 'transport_config.allow_insecure', 'expected true or false, found string "yes"');
  });

  it('secure transport without certificates', () => {
    const t = `transport_config:
  allow_insecure: false
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    const err = bad(t, at(t, 'allow_insecure'), 'transport_config.ca_cert', 'missing (required)');
    expectProblem(err, F, at(t, 'allow_insecure'), 'transport_config.cert', 'missing (required)');
    expectProblem(err, F, at(t, 'allow_insecure'), 'transport_config.key', 'missing (required)');
  });

  it('relative certificate path', () => {
    const t = `transport_config:
  ca_cert: certs/daosCA.crt
  cert: /etc/daos/certs/server.crt
  key: /etc/daos/certs/server.key
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(
      t,
      at(t, 'certs/daosCA.crt'),
      'transport_config.ca_cert',
      'expected an absolute path, found "certs/daosCA.crt"',
    );
  });

  it('transport_config missing', () => {
    const t = `port: 10001
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'port'), 'transport_config', 'missing (required)');
  });

  it('engine port equal to the control port', () => {
    const t = `port: 10001
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
  - targets: 4
    fabric_iface_port: 10001
    storage: [{class: ram, scm_mount: /r1, scm_size: 1GiB}]
`;
    bad(
      t,
      at(t, 'fabric_iface_port', '10001'),
      'engines[1].fabric_iface_port',
      `10001 is already used by port (line ${lineNo(t, 'port: 10001')})`,
    );
  });

  it('two engines on one port; 0 (any port) may repeat', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    fabric_iface_port: 31416
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
  - targets: 4
    fabric_iface_port: 31416
    storage: [{class: ram, scm_mount: /r1, scm_size: 1GiB}]
  - targets: 4
    fabric_iface_port: 0
    storage: [{class: ram, scm_mount: /r2, scm_size: 1GiB}]
  - targets: 4
    fabric_iface_port: 0
    storage: [{class: ram, scm_mount: /r3, scm_size: 1GiB}]
`;
    const err = bad(
      t,
      at(t, 'fabric_iface_port', '31416', 1),
      'engines[1].fabric_iface_port',
      `31416 is already used by engines[0].fabric_iface_port (line ${lineNo(t, '31416')})`,
    );
    expect(err.problems).toHaveLength(1);
  });

  it('telemetry port equal to the control port', () => {
    const t = `port: 9191
telemetry_port: 9191
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'telemetry_port', '9191'), 'telemetry_port', `9191 is already used by port (line 1)`);
  });

  it('the same scm_mount twice, and one inside another', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /mnt/daos0, scm_size: 1GiB}]
  - targets: 4
    storage: [{class: ram, scm_mount: /mnt/daos0/, scm_size: 1GiB}]
  - targets: 4
    storage: [{class: file, scm_mount: /mnt/daos0/sub}]
`;
    const first = lineNo(t, '/mnt/daos0');
    const err = bad(
      t,
      at(t, '/mnt/daos0/,', '/mnt/daos0/'),
      'engines[1].storage[0].scm_mount',
      `is also the scm_mount of engines[0].storage[0].scm_mount (line ${first})`,
    );
    expectProblem(err, F, at(t, '/mnt/daos0/sub'), 'engines[2].storage[0].scm_mount', 'overlaps');
  });

  it('storage missing', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    fabric_iface_port: 31416
`;
    bad(t, at(t, 'targets'), 'engines[0].storage', 'missing (required)');
  });

  it('storage empty (key with no value) and an empty list', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
  - targets: 4
    storage: []
`;
    const err = bad(t, at(t, 'storage:'), 'engines[0].storage', 'is empty (required)');
    expectProblem(err, F, at(t, '[]'), 'engines[1].storage', 'expected a non-empty list, found a list');
  });

  it('two storage tiers', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - {class: ram, scm_mount: /r0, scm_size: 1GiB}
      - {class: file, scm_mount: /f0}
`;
    bad(t, at(t, '/f0', '{'), 'engines[0].storage[1]', 'exactly one storage tier');
  });

  it('a storage class this release does not have', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - class: dcpm
        scm_mount: /mnt/daos0
`;
    bad(t, at(t, 'dcpm'), 'engines[0].storage[0].class', 'expected one of ram, file, found string "dcpm"');
  });

  it('ram tier without scm_size', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - class: ram
        scm_mount: /mnt/daos0
`;
    bad(t, at(t, 'class: ram', 'class'), 'engines[0].storage[0].scm_size', 'missing (required)');
  });

  it('sizes that do not parse, and one too small', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 4 gigs}]
  - targets: 4
    storage: [{class: ram, scm_mount: /r1, scm_size: -1}]
  - targets: 4
    storage: [{class: file, scm_mount: /f2, scm_size: 1k}]
`;
    const err = bad(t, at(t, '4 gigs'), 'engines[0].storage[0].scm_size', 'expected a size such as 4GiB');
    expectProblem(err, F, at(t, '-1'), 'engines[1].storage[0].scm_size', 'found number -1');
    expectProblem(
      err,
      F,
      at(t, '1k'),
      'engines[2].storage[0].scm_size',
      '1024 bytes is less than the minimum',
    );
  });

  it('relative scm_mount', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage:
      - class: file
        scm_mount: data/daos0
`;
    bad(t, at(t, 'data/daos0'), 'engines[0].storage[0].scm_mount', 'expected an absolute path');
  });

  it('engines empty, and engines missing', () => {
    const t = `transport_config:
  allow_insecure: true
engines: []
`;
    bad(t, at(t, '[]'), 'engines', 'expected a non-empty list');
    const u = `transport_config:
  allow_insecure: true
`;
    bad(u, '1:1', 'engines', 'missing (required)');
  });

  it('an engine that is not a mapping', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - 4
`;
    bad(t, at(t, '- 4', '4'), 'engines[0]', 'expected a mapping, found number 4');
  });

  it('engines as a mapping instead of a list', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  targets: 4
`;
    bad(t, at(t, 'targets'), 'engines', 'expected a list, found a mapping');
  });

  it('invalid YAML syntax: reports yaml’s line and column', () => {
    const t = `port: 10001
name: a: b
transport_config:
  allow_insecure: true
`;
    bad(t, at(t, 'name: a: b', 'a: b'), '', 'invalid YAML: Nested mappings are not allowed');
    const u = `port: 10001
transport_config:
  allow_insecure: true
 engines: []
`;
    bad(u, at(u, ' engines', ' '), '', 'invalid YAML: All mapping items must start at the same column');
  });

  it('a tab in the indentation', () => {
    const t = `transport_config:
\tallow_insecure: true
`;
    const err = failure(() => parseServerConfig(t, F));
    expect(err.message).toContain(`${F}:2:`);
    expect(err.message).toContain('invalid YAML');
  });

  it('duplicate key', () => {
    const t = `port: 10001
transport_config:
  allow_insecure: true
port: 10002
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'port: 10002', 'port'), 'port', 'duplicate key (first set at line 1)');
  });

  it('a document that is not a mapping', () => {
    const t = `# a list, not a mapping
- port: 10001
`;
    bad(t, at(t, '- port', '-'), '', 'expected a mapping of keys at the top level, found a list');
  });

  it('an empty document', () => {
    bad('# nothing here\n', '1:1', '', 'the file is empty');
  });

  it('env_vars that are not KEY=VALUE, set twice, or not a list', () => {
    const t = `transport_config:
  allow_insecure: true
engines:
  - targets: 4
    env_vars:
      - FI_TIMEOUT=10
      - NOEQUALS
      - FI_TIMEOUT=20
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
  - targets: 4
    env_vars: FOO=1
    storage: [{class: ram, scm_mount: /r1, scm_size: 1GiB}]
`;
    const err = bad(t, at(t, 'NOEQUALS'), 'engines[0].env_vars[1]', 'expected KEY=VALUE, found "NOEQUALS"');
    expectProblem(err, F, at(t, 'FI_TIMEOUT=20'), 'engines[0].env_vars[2]', 'FI_TIMEOUT is set twice');
    expectProblem(err, F, at(t, 'FOO=1'), 'engines[1].env_vars', 'expected a list, found string "FOO=1"');
  });

  it('three management service replicas on a single-machine release', () => {
    const t = `mgmt_svc_replicas: [a:10001, b:10001, c:10001]
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, '['), 'mgmt_svc_replicas', 'one management service replica, found 3');
  });

  it('a replica on another port, and a malformed one', () => {
    const t = `port: 10001
mgmt_svc_replicas: [localhost:10002]
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'localhost:10002'), 'mgmt_svc_replicas[0]', "port 10002 is not this server's port 10001");
    const u = `mgmt_svc_replicas: ['host:port']
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(u, at(u, "'host:port'"), 'mgmt_svc_replicas[0]', 'expected host or host:port');
  });

  it('log masks that are not levels', () => {
    const t = `control_log_mask: TRACE
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    log_mask: LOUD
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    const err = bad(
      t,
      at(t, 'TRACE'),
      'control_log_mask',
      'expected one of DEBUG, INFO, NOTICE, ERROR, found string "TRACE"',
    );
    expectProblem(
      err,
      F,
      at(t, 'LOUD'),
      'engines[0].log_mask',
      'expected one of DEBUG, INFO, NOTE, WARN, ERR, CRIT',
    );
  });

  it('a system name that is too long or has odd characters', () => {
    const t = `name: my daos system with spaces
transport_config:
  allow_insecure: true
engines:
  - targets: 4
    storage: [{class: ram, scm_mount: /r0, scm_size: 1GiB}]
`;
    bad(t, at(t, 'my daos'), 'name', 'expected 1 to 15 of A-Z a-z 0-9 _ -');
  });

  it('every problem of a file, in file order, one per line', () => {
    const t = `port: abc
transport_config:
  allow_insecure: true
engines:
  - targets: 0
    storage:
      - class: disk
        scm_mount: /r0
`;
    const err = bad(t, at(t, 'abc'), 'port', 'found string "abc"');
    expect(err.problems.map((p) => p.path)).toEqual([
      'port',
      'engines[0].targets',
      'engines[0].storage[0].class',
    ]);
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^DER_INVAL\(-1003\): daos_server\.yml:1:7: port: /);
  });
});

describe('bad daos_agent.yml', () => {
  const A = 'daos_agent.yml';
  function badAgent(text: string, pos: string, path: string, reason: string | RegExp): ConfigError {
    const err = failure(() => parseAgentConfig(text, A));
    expectProblem(err, A, pos, path, reason);
    return err;
  }

  it('defaults: access point from the port', () => {
    const cfg = parseAgentConfig('port: 10005\ntransport_config: {allow_insecure: true}\n', A);
    expect(cfg.access_points).toEqual(['localhost:10005']);
    expect(cfg.runtime_dir).toBe('/var/run/daos_agent');
    expect(cfg.cache_expiry).toBe(300);
  });

  it('an access point with a bad port', () => {
    const t = `access_points: ['server1:99999', '[::1]:10001']
transport_config:
  allow_insecure: true
`;
    badAgent(
      t,
      at(t, "'server1"),
      'access_points[0]',
      'expected host or host:port (port 1 to 65535), found "server1:99999"',
    );
  });

  it('a negative cache_expiry, and DAOS’s minutes key', () => {
    const t = `transport_config:
  allow_insecure: true
cache_expiry: -5
cache_expiration: 30
`;
    const err = badAgent(
      t,
      at(t, '-5'),
      'cache_expiry',
      'expected an integer from 0 to 86400, found number -5',
    );
    expectProblem(
      err,
      A,
      at(t, 'cache_expiration'),
      'cache_expiration',
      /unknown key; known keys here: .*cache_expiry/,
    );
  });

  it('a DAOS agent key this release does not use', () => {
    const t = `transport_config:
  allow_insecure: true
fabric_ifaces:
  - numa_node: 0
`;
    badAgent(t, at(t, 'fabric_ifaces'), 'fabric_ifaces', 'does not use');
  });

  it('secure transport with a missing key and a relative runtime_dir', () => {
    const t = `transport_config:
  ca_cert: /etc/daos/certs/daosCA.crt
  cert: /etc/daos/certs/agent.crt
runtime_dir: run/agent
`;
    const err = badAgent(t, at(t, 'ca_cert'), 'transport_config.key', 'missing (required)');
    expectProblem(err, A, at(t, 'run/agent'), 'runtime_dir', 'expected an absolute path');
  });

  it('an unknown key in transport_config', () => {
    const t = `transport_config:
  allow_insecure: true
  insecure: true
`;
    badAgent(
      t,
      at(t, '  insecure', 'insecure'),
      'transport_config.insecure',
      'known keys here: allow_insecure, ca_cert, cert, key',
    );
  });
});
