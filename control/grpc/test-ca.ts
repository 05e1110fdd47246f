/**
 * A throwaway certificate authority for tests and first setups, made with the system `openssl`
 * binary (the recipe of control/README.md, step for step): a CA, and `server`, `admin` and
 * `agent` certificates it signs, each with its component as CN (the server authorises by CN) and
 * SAN localhost / 127.0.0.1. Keys are EC P-256, PKCS#8 PEM. Not for production: the CA key sits
 * next to the certificates.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Components a test CA issues certificates for (their CNs). */
export const TEST_CA_COMPONENTS = ['server', 'admin', 'agent'] as const;
export type Component = (typeof TEST_CA_COMPONENTS)[number];

/** Validity of the test CA and its certificates. */
export const TEST_CA_DAYS = 30;

export interface TestCa {
  dir: string;
  /** daosCA.crt */
  caCert: string;
  caKey: string;
  /** component -> its certificate and key paths. */
  certs: Record<Component, { cert: string; key: string }>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl not found on PATH (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

function newKey(path: string, cwd: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], cwd);
  chmodSync(join(cwd, path), 0o600);
}

/** Make a CA named `name` and its server/admin/agent certificates in `dir` (created if needed). */
export function makeTestCa(dir: string, name = 'DAOS CA'): TestCa {
  mkdirSync(dir, { recursive: true });
  newKey('daosCA.key', dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'daosCA.key',
      '-sha256',
      '-days',
      String(TEST_CA_DAYS),
      '-subj',
      `/O=DAOS/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'daosCA.crt',
    ],
    dir,
  );
  const certs = {} as TestCa['certs'];
  for (const component of TEST_CA_COMPONENTS) {
    newKey(`${component}.key`, dir);
    openssl(
      [
        'req',
        '-new',
        '-key',
        `${component}.key`,
        '-subj',
        `/O=DAOS/CN=${component}`,
        '-out',
        `${component}.csr`,
      ],
      dir,
    );
    writeFileSync(
      join(dir, `${component}.ext`),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '',
      ].join('\n'),
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${component}.csr`,
        '-CA',
        'daosCA.crt',
        '-CAkey',
        'daosCA.key',
        '-set_serial',
        `0x${randomBytes(8).toString('hex')}`,
        '-days',
        String(TEST_CA_DAYS),
        '-sha256',
        '-extfile',
        `${component}.ext`,
        '-out',
        `${component}.crt`,
      ],
      dir,
    );
    certs[component] = { cert: join(dir, `${component}.crt`), key: join(dir, `${component}.key`) };
  }
  return { dir, caCert: join(dir, 'daosCA.crt'), caKey: join(dir, 'daosCA.key'), certs };
}
