/**
 * Engines as child processes on loopback: what `DaosSystem.start({ transport: 'tcp' })` runs.
 * Each child is the compiled bin/daos_engine.js; it prints a ready line with its address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DaosError } from '../core/common/errors.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import type { PoolMap } from '../core/placement/pool-map.js';
import { LazyConnection } from '../core/wire/lazy.js';

/** How long an engine may take to print its ready line. */
export const ENGINE_START_TIMEOUT_MS = 30_000;
/** How long an engine may take to exit after SIGTERM before it is killed. */
export const ENGINE_STOP_TIMEOUT_MS = 15_000;
/** Bytes of an engine's stderr kept for error messages. */
const STDERR_KEPT_BYTES = 8192;

/** The engine program: next to this file when compiled, in dist/ when running from source. */
export function engineBinary(): string {
  for (const rel of ['../bin/daos_engine.js', '../dist/bin/daos_engine.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new DaosError('DER_NONEXIST', 'bin/daos_engine.js is not built; run `npm run build` first');
}

export interface EngineProcessOptions {
  dir: string;
  rank: number;
  targets: number;
  durability: 'process' | 'fsync';
  /** Told of newer pool maps that come back in the engine's replies. */
  onPoolMap?: (pool: string, map: PoolMap) => void;
}

/** One engine child process and the connection to it. */
export class EngineProcess {
  readonly rank: number;
  readonly targetCount: number;
  readonly address: string;
  readonly remote: RemoteEngine;
  readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    options: EngineProcessOptions,
    address: string,
    exited: Promise<void>,
    private readonly stderr: { text: string },
  ) {
    this.rank = options.rank;
    this.targetCount = options.targets;
    this.address = address;
    this.remote = new RemoteEngine(
      new LazyConnection(address),
      options.rank,
      options.targets,
      options.onPoolMap,
    );
    this.exited = exited;
  }

  static async spawn(options: EngineProcessOptions): Promise<EngineProcess> {
    const args = [
      engineBinary(),
      '--dir',
      options.dir,
      '--rank',
      String(options.rank),
      '--targets',
      String(options.targets),
      '--listen',
      'tcp://127.0.0.1:0',
      '--durability',
      options.durability,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr = { text: '' };
    child.stderr!.on('data', (d: Buffer) => {
      stderr.text = (stderr.text + d.toString()).slice(-STDERR_KEPT_BYTES);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.on('error', () => undefined); // a failed kill after start; the exit is what counts
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(
          new DaosError(
            'DER_MISC',
            `engine rank ${options.rank} did not start: ${why}; stderr: ${stderr.text.trim()}`,
          ),
        );
      };
      const timer = setTimeout(
        () => fail(`no ready line in ${ENGINE_START_TIMEOUT_MS} ms`),
        ENGINE_START_TIMEOUT_MS,
      );
      const onExit = (code: number | null, signal: string | null) =>
        fail(`exited with ${signal ?? `code ${code}`}`);
      const onError = (err: Error) => fail(err.message);
      child.once('exit', onExit);
      child.once('error', onError);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^daos_engine rank \d+ listening (\S+) pid \d+$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          child.off('exit', onExit);
          child.off('error', onError);
          resolve(m[1]!);
        }
      });
    });
    child.stdout!.resume();
    return new EngineProcess(child, options, address, exited, stderr);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the engine wrote to stderr lately. */
  get lastStderr(): string {
    return this.stderr.text;
  }

  /** Whether stop() was called (an exit is then expected). */
  stopping = false;

  /** SIGKILL the process (an engine that stopped answering). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL if it has not exited in time; closes the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.remote.close();
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ENGINE_STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
