/**
 * The rank program of examples/mpiio.ts: every rank writes its block of a 3-D array of doubles
 * through a subarray view, collectively, then reads back a slab of another decomposition.
 */
import type { Comm } from '../adapters/mpiio/comm.js';
import { Datatype } from '../adapters/mpiio/datatype.js';
import { MODE_CREATE, MODE_RDWR, MpiFile } from '../adapters/mpiio/file.js';

const N = 32; // the global array is N^3 doubles

export default async function (comm: Comm, [path]: string[]): Promise<{ bad: number; bytes: number }> {
  // Blocks along z for writing...
  const nz = N / comm.size;
  const f = await MpiFile.open(comm, path!, MODE_CREATE | MODE_RDWR, { cb_nodes: '2' });
  await f.setView(
    0,
    Datatype.DOUBLE,
    Datatype.subarray([N, N, N], [nz, N, N], [comm.rank * nz, 0, 0], 'C', Datatype.DOUBLE),
  );
  const block = new Float64Array(nz * N * N).map((_, i) => comm.rank * nz * N * N + i);
  await f.writeAll(block);
  // ...and slabs along x for reading back.
  const nx = N / comm.size;
  await f.setView(
    0,
    Datatype.DOUBLE,
    Datatype.subarray([N, N, N], [N, N, nx], [0, 0, comm.rank * nx], 'C', Datatype.DOUBLE),
  );
  const slab = new Float64Array(N * N * nx);
  const bytes = await f.readAll(slab);
  let bad = 0;
  for (let i = 0; i < slab.length; i++) {
    const x = comm.rank * nx + (i % nx);
    const yz = Math.floor(i / nx);
    if (slab[i] !== yz * N + x) bad++;
  }
  await f.close();
  return { bad: await comm.allreduce(bad, 'sum'), bytes };
}
