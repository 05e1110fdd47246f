/**
 * The rank program of bench:mpiio: write (then read) `pieces` pieces of `piece` bytes per rank,
 * either interleaved with the other ranks (piece i of rank r at (i * size + r) * piece) or as one
 * contiguous block per rank, collectively (writeAll/readAll) or independently (write/read).
 * Resolves (on every rank) to the slowest rank's write and read seconds.
 * args: path pattern(interleaved|contiguous) mode(coll|ind) piece pieces
 */
import type { Comm } from '../adapters/mpiio/comm.js';
import { Datatype } from '../adapters/mpiio/datatype.js';
import { MODE_CREATE, MODE_RDWR, MpiFile } from '../adapters/mpiio/file.js';

export default async function (
  comm: Comm,
  args: string[],
): Promise<{ write: number; read: number; ok: boolean }> {
  const [path, pattern, mode, pieceArg, piecesArg] = args as [string, string, string, string, string];
  const piece = Number(pieceArg);
  const pieces = Number(piecesArg);
  const bytes = piece * pieces;
  const f = await MpiFile.open(comm, path, MODE_CREATE | MODE_RDWR, {
    romio_cb_write: 'automatic',
    romio_cb_read: 'automatic',
  });
  if (pattern === 'interleaved') {
    const tile = Datatype.resized(Datatype.contiguous(piece, Datatype.BYTE), 0, piece * comm.size);
    await f.setView(comm.rank * piece, Datatype.BYTE, tile);
  } else {
    await f.setView(comm.rank * bytes, Datatype.BYTE, Datatype.BYTE);
  }
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) data.writeUInt32LE((comm.rank << 24) | (i >> 12), i);
  await comm.barrier();
  let t = performance.now();
  if (mode === 'coll') await f.writeAtAll(0, data);
  else await f.writeAt(0, data);
  await comm.barrier();
  const write = (performance.now() - t) / 1000;
  const back = Buffer.alloc(bytes);
  await comm.barrier();
  t = performance.now();
  if (mode === 'coll') await f.readAtAll(0, back);
  else await f.readAt(0, back);
  await comm.barrier();
  const read = (performance.now() - t) / 1000;
  await f.close();
  const ok = (await comm.allreduce(back.equals(data) ? 0 : 1, 'sum')) === 0;
  return {
    write: (await comm.allreduce(write, 'max')) as number,
    read: (await comm.allreduce(read, 'max')) as number,
    ok,
  };
}
