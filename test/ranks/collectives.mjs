// A rank program exercising every collective; returns what it saw for the test to check.
export default async function (comm, args) {
  const r = comm.rank;
  const n = comm.size;
  const out = { rank: r, size: n, args };
  await comm.barrier();
  out.bcast = await comm.bcast(r === 1 % n ? { from: r, big: 12345678901234567890n } : null, 1 % n);
  out.gather = await comm.gather(r * 10, 0);
  out.allgather = await comm.allgather(`r${r}`);
  out.alltoall = await comm.alltoall(Array.from({ length: n }, (_, j) => r * 100 + j));
  out.sum = await comm.allreduce(r + 1, 'sum');
  out.min = await comm.allreduce(r + 5, 'min');
  out.max = await comm.allreduce(BigInt(r) * 3n, 'max');
  out.vec = Array.from(await comm.allreduce(new Float64Array([r, 2 * r, 1]), 'sum'));
  out.reduceAt0 = await comm.reduce([r, 1], 'prod', 0);
  const sub = await comm.split(r % 2, -r);
  out.sub = {
    rank: sub.rank,
    size: sub.size,
    members: await sub.allgather(r),
    sum: await sub.allreduce(r, 'sum'),
  };
  const none = await comm.split(r === 0 ? undefined : 1);
  out.splitUndefined = none === undefined;
  // A ring of point-to-point messages, with binary payloads.
  comm.send((r + 1) % n, 7, new Uint8Array([r, 255 - r]));
  out.ring = Array.from(await comm.recv((r + n - 1) % n, 7));
  const d = await comm.dup();
  out.dup = await d.allreduce(1, 'sum');
  await comm.barrier();
  return out;
}
