/**
 * daos_engine as a real child process (the compiled dist/bin/daos_engine.js, built by the global
 * setup), for the tests that drive one over the wire: start it, wait for its ready line, and kill
 * whatever is left at the end of a test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENGINE_BIN = path.join(root, 'dist/bin/daos_engine.js');
/** How long a child may take to print its ready line. */
export const ENGINE_READY_TIMEOUT_MS = 10_000;

const children: ChildProcess[] = [];

/** Every child started here, for `afterEach(killEngineChildren)`. */
export function trackChild(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

const dirs: string[] = [];

/** A fresh folder for an engine, removed by `killEngineChildren` once its children are gone. */
export function engineTempDir(prefix = 'daos-engine-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** SIGKILL every tracked child still running, wait for them to exit, and remove the folders. */
export async function killEngineChildren(): Promise<void> {
  const running = children.splice(0).filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  for (const c of running) c.kill('SIGKILL');
  await Promise.all(exited);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface StartedEngine {
  child: ChildProcess;
  address: string;
  pid: number;
  exited: Promise<number | null>;
}

/** Start rank 0 with `targets` targets under `dir`, listening on `listen`; resolves once ready. */
export async function startEngine(dir: string, listen: string, targets = 2): Promise<StartedEngine> {
  const child = trackChild(
    spawn(
      process.execPath,
      [ENGINE_BIN, '--dir', dir, '--rank', '0', '--targets', String(targets), '--listen', listen],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.ENGINE_STDERR) process.stderr.write(d);
  });
  const { address, pid } = await new Promise<{ address: string; pid: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`no ready line in ${ENGINE_READY_TIMEOUT_MS} ms; stderr: ${stderr}`)),
      ENGINE_READY_TIMEOUT_MS,
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^daos_engine rank 0 listening (\S+) pid (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ address: m[1]!, pid: Number(m[2]) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daos_engine exited ${code} before ready; stderr: ${stderr}`));
    });
  });
  return { child, address, pid, exited };
}
