// Write an N^3 array of doubles through subarray views (a 3-D block decomposition), then read it
// back through a different decomposition (slabs along x) and count mismatches.
// args: path N write-mode(coll|ind) read-mode(coll|ind) [cb_buffer_size] [cb_nodes]
import { Datatype, MODE_CREATE, MODE_RDWR, MpiFile } from '../../dist/adapters/mpiio/index.js';

const value = (N, z, y, x) => z * N * N + y * N + x + 0.25;

/** MPI_Dims_create for 3 dims, largest first. */
function dims3(n) {
  const f = [];
  let m = n;
  for (let p = 2; p * p <= m; p++)
    while (m % p === 0) {
      f.push(p);
      m /= p;
    }
  if (m > 1) f.push(m);
  const d = [1, 1, 1];
  for (const p of f.sort((a, b) => b - a)) {
    d.sort((a, b) => a - b);
    d[0] *= p;
  }
  return d.sort((a, b) => b - a);
}

/** Block [start, size) of `n` split into `parts`, part `i` (uneven splits: the first parts get one more). */
function block(n, parts, i) {
  const base = Math.floor(n / parts),
    extra = n % parts;
  return [i * base + Math.min(i, extra), base + (i < extra ? 1 : 0)];
}

export default async function (comm, [path, nArg, writeMode, readMode, cbBuf, cbNodes]) {
  const N = Number(nArg);
  const info = {};
  if (cbBuf) info.cb_buffer_size = cbBuf;
  if (cbNodes) info.cb_nodes = cbNodes;
  if (writeMode === 'coll' || readMode === 'coll') {
    info.romio_cb_write = 'enable';
    info.romio_cb_read = 'enable';
  }
  const f = await MpiFile.open(comm, path, MODE_CREATE | MODE_RDWR, info);

  // Write: a 3-D grid of blocks.
  const [pz, py, px] = dims3(comm.size);
  const r = comm.rank;
  const cz = Math.floor(r / (py * px)),
    cy = Math.floor(r / px) % py,
    cx = r % px;
  const [sz, nz] = block(N, pz, cz),
    [sy, ny] = block(N, py, cy),
    [sx, nx] = block(N, px, cx);
  const mine = new Float64Array(nz * ny * nx);
  let i = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) mine[i++] = value(N, sz + z, sy + y, sx + x);
  await f.setView(
    0,
    Datatype.DOUBLE,
    Datatype.subarray([N, N, N], [nz, ny, nx], [sz, sy, sx], 'C', Datatype.DOUBLE),
  );
  if (writeMode === 'coll') await f.writeAll(mine);
  else await f.write(mine);
  await f.sync();

  // Read: slabs along x (a Fortran-order view of the same bytes would do too; this is another split).
  const [rx, mx] = block(N, comm.size, r);
  const got = new Float64Array(N * N * mx);
  await f.setView(
    0,
    Datatype.DOUBLE,
    Datatype.subarray([N, N, N], [N, N, mx], [0, 0, rx], 'C', Datatype.DOUBLE),
  );
  const n = readMode === 'coll' ? await f.readAll(got) : await f.read(got);
  let bad = 0;
  i = 0;
  for (let z = 0; z < N; z++)
    for (let y = 0; y < N; y++) for (let x = 0; x < mx; x++) if (got[i++] !== value(N, z, y, rx + x)) bad++;
  const size = await f.getSize();
  await f.close();
  return { rank: r, block: [nz, ny, nx], slab: mx, bytesRead: n, bad, size };
}
