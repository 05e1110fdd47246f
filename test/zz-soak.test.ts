import { expect, it } from 'vitest';
import { runModel } from './model/runner.js';

const seeds = [11, 12, 13];
for (const seed of seeds) {
  it(`soak RP seed ${seed}`, async () => {
    const s = await runModel({
      seed,
      ops: 600,
      restartEvery: 200,
      engines: 3,
      targetsPerEngine: 2,
      transport: 'tcp',
      oclasses: ['RP_2G1', 'RP_3GX', 'RP_3G1', 'RP_2GX', 'RP_3GX'],
    });
    expect(s.ops).toBe(600);
  }, 600_000);
  it(`soak EC seed ${seed}`, async () => {
    const s = await runModel({
      seed,
      ops: 600,
      restartEvery: 200,
      engines: 3,
      targetsPerEngine: 2,
      transport: 'tcp',
      ecCellSize: 24,
      oclasses: ['EC_2P1GX', 'EC_2P1G1', 'RP_2GX', 'EC_2P1GX', 'EC_2P1G1'],
    });
    expect(s.ops).toBe(600);
  }, 600_000);
}
