import { DaosError } from '../common/errors.js';

/**
 * Object classes by DAOS's names. A class is a redundancy scheme (DAOS's daos_obj_redun) and a
 * group count; `X` means "as many groups as the pool has targets for" when the object is created.
 */

/** Redundancy schemes, numbered as DAOS's enum daos_obj_redun. */
export const REDUN = {
  RP_1: 1,
  RP_2: 2,
  RP_3: 3,
  EC_2P1: 15,
  EC_4P2: 18,
} as const;
export type RedunName = keyof typeof REDUN;

/** Group count marking "all targets" (DAOS's MAX_NUM_GROUPS). */
export const GROUPS_X = 0xffff;

export interface RedunInfo {
  /** Shards per redundancy group. */
  groupSize: number;
  /** Losses one group survives. */
  faults: number;
  kind: 'none' | 'replica' | 'ec';
  /** Data cells per stripe (EC) */
  dataCells?: number;
}

const REDUN_INFO: Record<number, RedunInfo> = {
  [REDUN.RP_1]: { groupSize: 1, faults: 0, kind: 'none' },
  [REDUN.RP_2]: { groupSize: 2, faults: 1, kind: 'replica' },
  [REDUN.RP_3]: { groupSize: 3, faults: 2, kind: 'replica' },
  [REDUN.EC_2P1]: { groupSize: 3, faults: 1, kind: 'ec', dataCells: 2 },
  [REDUN.EC_4P2]: { groupSize: 6, faults: 2, kind: 'ec', dataCells: 4 },
};

export interface ObjectClass {
  name: OclassName;
  redun: number;
  /** Group count, or GROUPS_X. */
  groups: number;
}

const CLASSES = {
  S1: [REDUN.RP_1, 1],
  S2: [REDUN.RP_1, 2],
  S4: [REDUN.RP_1, 4],
  S8: [REDUN.RP_1, 8],
  SX: [REDUN.RP_1, GROUPS_X],
  RP_2G1: [REDUN.RP_2, 1],
  RP_2GX: [REDUN.RP_2, GROUPS_X],
  RP_3G1: [REDUN.RP_3, 1],
  RP_3GX: [REDUN.RP_3, GROUPS_X],
  EC_2P1G1: [REDUN.EC_2P1, 1],
  EC_2P1GX: [REDUN.EC_2P1, GROUPS_X],
  EC_4P2G1: [REDUN.EC_4P2, 1],
  EC_4P2GX: [REDUN.EC_4P2, GROUPS_X],
} as const satisfies Record<string, readonly [number, number]>;
export type OclassName = keyof typeof CLASSES;

/** Every class name daos-ts knows. */
export const OCLASS_NAMES = Object.keys(CLASSES) as OclassName[];

/** Look up a class by name (DAOS spells them with or without the OC_ prefix). */
export function oclassByName(name: string): ObjectClass {
  const key = name.toUpperCase().replace(/^OC_/, '') as OclassName;
  const c = CLASSES[key];
  if (!c)
    throw new DaosError('DER_INVAL', `unknown object class "${name}" (known: ${OCLASS_NAMES.join(' ')})`);
  return { name: key, redun: c[0], groups: c[1] };
}

export function redunInfo(redun: number): RedunInfo {
  const r = REDUN_INFO[redun];
  if (!r) throw new DaosError('DER_INVAL', `unknown redundancy scheme ${redun}`);
  return r;
}

/** The class name an object id's redundancy and group count correspond to, for display. */
export function oclassNameOf(redun: number, groups: number, targets: number): string {
  for (const [name, [r, g]] of Object.entries(CLASSES)) {
    if (r !== redun) continue;
    if (g === groups) return name;
    if (g === GROUPS_X && groups === Math.floor(targets / redunInfo(r).groupSize)) return name;
  }
  return `${Object.entries(REDUN).find(([, v]) => v === redun)?.[0] ?? `R${redun}`}G${groups}`;
}

export type DefaultFor = 'array' | 'kv' | 'other';

/**
 * The default class for a container's redundancy factor (DAOS's rules): RF0 arrays SX, others S1;
 * RF1 arrays EC_2P1GX, KV RP_2GX, others RP_2G1; RF2 arrays EC_4P2GX, KV RP_3GX, others RP_3G1.
 */
export function defaultOclass(redunFactor: number, use: DefaultFor): OclassName {
  if (redunFactor <= 0) return use === 'array' ? 'SX' : 'S1';
  if (redunFactor === 1) return use === 'array' ? 'EC_2P1GX' : use === 'kv' ? 'RP_2GX' : 'RP_2G1';
  return use === 'array' ? 'EC_4P2GX' : use === 'kv' ? 'RP_3GX' : 'RP_3G1';
}

/** A container's redundancy factor forbids classes that survive fewer losses (DER_INVAL). */
export function checkClassForRf(cls: ObjectClass, redunFactor: number): void {
  const faults = redunInfo(cls.redun).faults;
  if (faults < redunFactor) {
    throw new DaosError(
      'DER_INVAL',
      `object class ${cls.name} survives ${faults} failures; the container's redundancy factor is ${redunFactor}`,
    );
  }
}
