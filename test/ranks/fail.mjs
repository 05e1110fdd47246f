// Rank args[0] fails in the middle of a collective ('throw' or 'exit'); the rest wait in it.
export default async function (comm, args) {
  const bad = Number(args[0]);
  await comm.barrier();
  await comm.allreduce(1, 'sum');
  if (comm.rank === bad) {
    await new Promise((r) => setTimeout(r, 200));
    if (args[1] === 'exit') process.exit(3);
    throw new Error(`rank ${comm.rank} gives up on purpose`);
  }
  // The others are now stuck in an allgather the bad rank never joins.
  await comm.allgather(comm.rank);
  return 'unreachable';
}
