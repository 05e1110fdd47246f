import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { DaosSystem } from '../../../index.js';

it('repro: tx read on one target, write on another', async () => {
  const sys = await DaosSystem.start({ dir: mkdtempSync(join(tmpdir(), 'repro-')), targetsPerEngine: 4 });
  await sys.createPool({ label: 'p', size: '1G' });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const a = await cont.newOid({ type: 'multi_lexical', oclass: 'S1' });
  for (let i = 0; i < 8; i++) {
    const b = await cont.newOid({ type: 'multi_lexical', oclass: 'S1' });
    const tx = await cont.openTx();
    await tx.object(a).fetch('d', [{ akey: 'x', kind: 'single' }]);
    await tx.object(b).update('d', [{ akey: 'x', kind: 'single', value: 'v' }]);
    await tx.commit().then(() => console.log(i, 'ok'), (e) => console.log(i, String(e)));
  }
  await sys.stop();
});
