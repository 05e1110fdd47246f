/**
 * Files and directories on daos-ts: mount a POSIX container (libdfs) and use it through the
 * fs.promises-shaped facade and Node streams, then read an old version from a snapshot.
 * Run: npm run build && node dist/examples/dfs.js [DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'daos-dfs-example-'));
const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4 });
try {
  await sys.createPool({ label: 'tank', size: '2G' });
  const pool = await (await sys.connect()).connectPool('tank');

  // The container is created (type POSIX) with the file system in it.
  const dfs = await Dfs.mount(pool, 'home', { create: true, chunkSize: 1 << 20 });
  const fs = dfs.fs;
  await fs.mkdir('/projects/daos/notes', { recursive: true });
  await fs.writeFile('/projects/daos/README', 'files over objects\n');
  await fs.appendFile('/projects/daos/README', 'one dkey per directory entry\n');
  await fs.symlink('daos/README', '/projects/latest');
  console.log(`readFile via symlink: ${JSON.stringify(await fs.readFile('/projects/latest', 'utf8'))}`);

  const listing = (await fs.readdir('/projects', { withFileTypes: true })) as Array<{
    name: string;
    isDirectory(): boolean;
    isSymbolicLink(): boolean;
  }>;
  console.log(
    `readdir /projects: ${listing.map((d) => `${d.name}${d.isDirectory() ? '/' : d.isSymbolicLink() ? '@' : ''}`).join(' ')}`,
  );

  // Errors carry Node's codes, so code written for the local disk handles them as it does there.
  try {
    await fs.rmdir('/projects/daos');
  } catch (err) {
    console.log(`rmdir of a non-empty directory: ${(err as { code: string }).code}`);
  }

  // Streams: 32 MiB through a write stream and back through a read stream.
  const MiB = 1 << 20;
  const t0 = performance.now();
  await pipeline(
    (async function* () {
      for (let i = 0; i < 32; i++) yield Buffer.alloc(MiB, i);
    })(),
    fs.createWriteStream('/projects/data.bin'),
  );
  const t1 = performance.now();
  let bytes = 0;
  await pipeline(fs.createReadStream('/projects/data.bin'), async (src: AsyncIterable<unknown>) => {
    for await (const c of src) {
      bytes += (c as Buffer).byteLength;
    }
  });
  const t2 = performance.now();
  const rate = (ms: number) => Math.round((32 * 1000) / ms);
  console.log(
    `streamed ${bytes / MiB} MiB: write ${rate(t1 - t0)} MiB/s, read ${rate(t2 - t1)} MiB/s (stat size ${(await fs.stat('/projects/data.bin')).size})`,
  );

  // A snapshot, a change, and the old version through a read-only mount of the snapshot.
  await dfs.container.createSnapshot('before-edit');
  await fs.writeFile('/projects/daos/README', 'rewritten\n');
  const old = await Dfs.mount(pool, 'home', { snapshot: 'before-edit' });
  console.log(
    `now: ${JSON.stringify(await fs.readFile('/projects/daos/README', 'utf8'))}, at snapshot: ${JSON.stringify(await old.fs.readFile('/projects/daos/README', 'utf8'))}`,
  );
  try {
    await old.fs.writeFile('/x', '');
  } catch (err) {
    console.log(`writing to the snapshot mount: ${(err as { code: string }).code}`);
  }
  await old.umount();

  await fs.setxattr('/projects/daos/README', 'user.owner', 'storage-team');
  console.log(`xattr user.owner = ${String(await fs.getxattr('/projects/daos/README', 'user.owner'))}`);
  await fs.rm('/projects', { recursive: true });
  console.log(`after rm -r: / holds ${JSON.stringify(await fs.readdir('/'))}`);
  await dfs.umount();
  console.log('dfs example done');
} finally {
  await sys.stop();
  if (!given) rmSync(dir, { recursive: true, force: true });
}
