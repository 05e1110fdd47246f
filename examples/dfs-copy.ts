/**
 * A local folder into a POSIX container and back (`daos filesystem copy` from a program): a small
 * tree with a symlink, an empty directory and a read-only file goes in with `copyTree`, is looked
 * at through `dfs.fs` (the fs.promises shape), and comes back out to a new folder.
 *
 *   node dist/examples/dfs-copy.js [DIR]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { chmod, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree, Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'daos-dfs-copy-'));
const src = join(dir, 'src');
mkdirSync(join(src, 'notes/empty'), { recursive: true });
await writeFile(join(src, 'notes/todo.txt'), 'copy the tree in\ncopy it back out\n');
await chmod(join(src, 'notes/todo.txt'), 0o444);
await writeFile(join(src, 'data.bin'), Buffer.alloc(5 << 20, 0x5a));
await symlink('notes/todo.txt', join(src, 'todo'));

const sys = await DaosSystem.start({ dir: join(dir, 'system') });
try {
  await sys.createPool({ label: 'tank', size: '1G' });
  const client = await sys.connect();
  const pool = await client.connectPool('tank');
  // `create`: the container (type POSIX) and its file system are made when absent.
  const dfs = await Dfs.mount(pool, 'files', { create: true });

  const inward = await copyTree(src, { dfs, path: '/backup' });
  console.log(
    `in:  ${inward.files} files, ${inward.dirs} dirs, ${inward.links} links, ${inward.bytes} bytes`,
  );
  const names = (await dfs.fs.readdir('/backup', { recursive: true })) as string[];
  console.log(`daos://tank/files/backup holds: ${names.sort().join(', ')}`);
  const todo = await dfs.fs.stat('/backup/notes/todo.txt');
  console.log(`todo.txt in DFS: mode ${(todo.mode & 0o777).toString(8)}, ${todo.size} bytes`);
  console.log(`link in DFS: todo -> ${await dfs.fs.readlink('/backup/todo')}`);

  const out = join(dir, 'restored');
  const outward = await copyTree({ dfs, path: '/backup' }, out);
  console.log(`out: ${outward.files} files, ${outward.dirs} dirs, ${outward.links} links to ${out}`);
  const same =
    (await readFile(join(out, 'notes/todo.txt'), 'utf8')) ===
      (await readFile(join(src, 'notes/todo.txt'), 'utf8')) &&
    (await readlink(join(out, 'todo'))) === 'notes/todo.txt' &&
    ((await stat(join(out, 'notes/todo.txt'))).mode & 0o777) === 0o444 &&
    (await stat(join(out, 'notes/empty'))).isDirectory();
  console.log(`restored tree matches the original: ${same}`);

  await dfs.umount();
  await pool.disconnect();
  await client.close();
} finally {
  await sys.stop();
  if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true });
}
