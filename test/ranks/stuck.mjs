// Rank 0 waits for a message rank 1 never sends; rank 1 finishes at once.
export default async function (comm) {
  if (comm.rank === 0) await comm.recv(1, 99);
  return comm.rank;
}
