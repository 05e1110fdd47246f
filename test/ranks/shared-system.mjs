// Every rank writes a file through the job's DFS mount, then reads every other rank's.
export default async function (comm) {
  const dfs = await comm.dfs();
  const me = `/rank-${comm.rank}`;
  await dfs.fs.writeFile(me, `hello from rank ${comm.rank} of ${comm.size}`);
  await comm.barrier();
  const seen = [];
  for (let r = 0; r < comm.size; r++) seen.push(String(await dfs.fs.readFile(`/rank-${r}`)));
  return seen;
}
