import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { DaosSystem } from '../../../index.js';

it('repro: setSize shrink to a hole', async () => {
  const sys = await DaosSystem.start({ dir: mkdtempSync(join(tmpdir(), 'repro-')), targetsPerEngine: 4 });
  await sys.createPool({ label: 'p', size: '1G' });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const arr = await cont.createArray({ cellSize: 4, chunkSize: 16 });
  await arr.write(20, new Uint8Array(40).fill(7)); // cells 20..29
  await arr.setSize(12);
  console.log('after setSize(12): getSize =', await arr.getSize(), '(DAOS: 12)');
  await arr.write(0, new Uint8Array(4).fill(1)); // cell 0
  await arr.setSize(16);  // cells 1..15 are holes
  console.log('after setSize(16): getSize =', await arr.getSize(), '(DAOS: 16)');
  await sys.stop();
});
