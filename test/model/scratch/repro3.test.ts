import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { DaosSystem } from '../../../index.js';

it('probe: ordering inside one tx', async () => {
  const sys = await DaosSystem.start({ dir: mkdtempSync(join(tmpdir(), 'repro-')), targetsPerEngine: 4 });
  await sys.createPool({ label: 'p', size: '1G' });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const oid = await cont.newOid({ type: 'multi_lexical', oclass: 'S1' });
  const obj = cont.object(oid);
  const show = async (label: string, d: string) => {
    const [v, r] = await obj.fetch(d, [{ akey: 'a', kind: 'single' }, { akey: 'r', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 8 }] }]);
    const arr = r as { data: Uint8Array; map: unknown };
    console.log(label, v === undefined ? 'undefined' : Buffer.from(v as Uint8Array).toString(), Buffer.from(arr.data).toString('hex'), JSON.stringify(arr.map, (_k, x) => typeof x === 'bigint' ? Number(x) : x));
  };
  await obj.update('d1', [{ akey: 'a', kind: 'single', value: 'old' }]);
  let tx = await cont.openTx();
  await tx.object(oid).punchAkeys('d1', ['a']);
  await tx.object(oid).update('d1', [{ akey: 'a', kind: 'single', value: 'new' }]);
  await tx.commit();
  await show('punch then update (DAOS: new):', 'd1');

  tx = await cont.openTx();
  await tx.object(oid).update('d2', [{ akey: 'a', kind: 'single', value: 'first' }]);
  await tx.object(oid).update('d2', [{ akey: 'a', kind: 'single', value: 'second' }]);
  await tx.commit().catch((e) => console.log('two updates commit:', String(e)));
  await show('update twice (DAOS: second):', 'd2');

  tx = await cont.openTx();
  await tx.object(oid).update('d3', [{ akey: 'r', kind: 'array', recordSize: 1, extents: [{ idx: 2, nr: 4, data: Buffer.from('AAAA') }] }]);
  await tx.object(oid).update('d3', [{ akey: 'r', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4, data: Buffer.from('BBBB') }] }]);
  await tx.commit().catch((e) => console.log('two extents commit:', String(e)));
  await show('extents AAAA@2 then BBBB@0 (DAOS: BBBBAA):', 'd3');

  tx = await cont.openTx();
  await tx.object(oid).update('d4', [{ akey: 'r', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4, data: Buffer.from('BBBB') }] }]);
  await tx.object(oid).update('d4', [{ akey: 'r', kind: 'array', recordSize: 1, extents: [{ idx: 2, nr: 4, data: Buffer.from('AAAA') }] }]);
  await tx.commit().catch((e) => console.log('two extents commit:', String(e)));
  await show('extents BBBB@0 then AAAA@2 (DAOS: BBAAAA):', 'd4');

  tx = await cont.openTx();
  await tx.object(oid).update('d5', [{ akey: 'a', kind: 'single', value: 'x' }]);
  await tx.object(oid).punchDkeys(['d5']);
  await tx.commit().catch((e) => console.log('update+punch commit:', String(e)));
  await show('update then punch dkey (DAOS: undefined):', 'd5');
  await sys.stop();
});
