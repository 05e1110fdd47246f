import { open, type RootDatabase } from 'lmdb';

/**
 * Where the management service keeps its records (pools, containers, snapshots, oid counters).
 * One interface so that a single server keeps them in LMDB and a replicated deployment (a later
 * issue) in etcd. Keys are strings ordered by code unit; values are plain JSON-like objects.
 */
export interface MetadataStore {
  get<T>(key: string): T | undefined;
  /** Keys and values under a prefix, in key order. */
  list<T>(prefix: string): Array<[string, T]>;
  /** Apply puts and deletes atomically and durably. */
  commit(puts: Array<[string, unknown]>, deletes?: string[]): Promise<void>;
  close(): Promise<void>;
}

/** The single-server MetadataStore: an LMDB environment in a folder. */
export class LmdbMetadataStore implements MetadataStore {
  private constructor(private readonly db: RootDatabase<unknown, string>) {}

  static open(dir: string): LmdbMetadataStore {
    return new LmdbMetadataStore(open<unknown, string>({ path: dir, compression: false }));
  }

  get<T>(key: string): T | undefined {
    return this.db.get(key) as T | undefined;
  }

  list<T>(prefix: string): Array<[string, T]> {
    const out: Array<[string, T]> = [];
    for (const { key, value } of this.db.getRange({ start: prefix, end: `${prefix}\uffff` })) {
      out.push([key, value as T]);
    }
    return out;
  }

  async commit(puts: Array<[string, unknown]>, deletes: string[] = []): Promise<void> {
    await this.db.transaction(() => {
      for (const key of deletes) this.db.removeSync(key);
      for (const [key, value] of puts) this.db.putSync(key, value);
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
