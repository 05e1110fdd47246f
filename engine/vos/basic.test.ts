import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { openVosTarget } from './index.js';
import type { VosTarget } from './types.js';

const CONT = '11111111-2222-3333-4444-555555555555';
const OID = { hi: 5n, lo: 7n };
const b = (s: string) => Buffer.from(s);
const opened: VosTarget[] = [];
async function fresh(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vos-'))) {
  const t = await openVosTarget(dir);
  opened.push(t);
  return t;
}
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

function single(t: VosTarget, e: bigint, dkey: string, akey: string) {
  return t.fetch(CONT, OID, e, b(dkey), [{ akey: b(akey), kind: 'single' }])[0];
}

describe('single values', () => {
  it('keeps versions and reads at old epochs', async () => {
    const t = await fresh();
    await t.apply(10n, [{ op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [{ akey: b('a'), kind: 'single', value: b('v10') }] }]);
    await t.apply(20n, [{ op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [{ akey: b('a'), kind: 'single', value: b('v20') }] }]);
    expect(single(t, 5n, 'd', 'a')).toBeUndefined();
    expect(Buffer.from(single(t, 10n, 'd', 'a') as Uint8Array).toString()).toBe('v10');
    expect(Buffer.from(single(t, 15n, 'd', 'a') as Uint8Array).toString()).toBe('v10');
    expect(Buffer.from(single(t, EPOCH_MAX, 'd', 'a') as Uint8Array).toString()).toBe('v20');
  });
});
