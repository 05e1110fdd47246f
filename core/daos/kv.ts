import type { Oid } from '../common/oid.js';
import type { FetchIod } from '../wire/obj-types.js';
import type { Key } from './keys.js';
import type { DaosObject } from './object.js';
import type { Tx } from './tx.js';

/** The akey under which a KV object keeps each key's value ('0'), encoded once (never written to). */
const KV_AKEY: Uint8Array = Buffer.from('0');

/**
 * DAOS's flat KV API over an object: one dkey per key, its value a single value. Keys come back
 * from `keys()` as strings (or bigints for uint64-keyed KV objects).
 */
export class KV {
  /** What a get asks the object for (one single-value akey), checked once. */
  private getIods: readonly FetchIod[] | undefined;

  constructor(readonly object: DaosObject) {}

  get oid(): Oid {
    return this.object.oid;
  }

  /** Store a value; `cond: 'insert'` fails with DER_EXIST if the key exists, `'update'` with DER_NONEXIST if not. */
  put(
    key: Key,
    value: Uint8Array | string,
    options?: { cond?: 'insert' | 'update'; tx?: Tx },
  ): Promise<void> {
    const cond =
      options?.cond === 'insert' ? 'dkey_insert' : options?.cond === 'update' ? 'dkey_update' : undefined;
    return this.object.update(key, [{ akey: KV_AKEY, kind: 'single', value }], { cond, tx: options?.tx });
  }

  /** The value of a key, or undefined when there is none (`mustExist` makes that DER_NONEXIST). */
  get(key: Key, options?: { epoch?: bigint; mustExist?: boolean; tx?: Tx }): Promise<Uint8Array | undefined> {
    let iods = this.getIods;
    if (iods === undefined) {
      try {
        iods = this.getIods = this.object.checkedFetchIods([{ akey: KV_AKEY, kind: 'single' }]);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const fetchOptions =
      options === undefined
        ? undefined
        : {
            epoch: options.epoch,
            cond: options.mustExist ? ('dkey_fetch' as const) : undefined,
            tx: options.tx,
          };
    return this.object.fetchOneChecked(key, iods, fetchOptions) as Promise<Uint8Array | undefined>;
  }

  /** Remove a key; `mustExist` fails with DER_NONEXIST when it is not there. */
  async remove(key: Key, options?: { mustExist?: boolean; tx?: Tx }): Promise<void> {
    await this.object.punchDkeys([key], options);
  }

  /** Every key, in key order for lexical and uint64 KV types. */
  async *keys(options?: { epoch?: bigint }): AsyncGenerator<string | bigint> {
    for await (const k of this.object.listDkeys(options))
      yield typeof k === 'bigint' ? k : k.toString('utf8');
  }
}
