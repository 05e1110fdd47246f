import { DaosError } from '../../core/common/errors.js';
import { parseBytes } from '../../core/common/units.js';
import { EC_CELL_BYTES_DEFAULT, EC_CODEC_CELL_BYTES_MAX } from '../../core/ec/limits.js';

/**
 * Pool properties by their DAOS names (`dmg pool get-prop` / `set-prop`). `label` and
 * `ec_cell_sz` live in the pool record and map; the others are kept as normalised strings.
 * Unknown names, bad values and changing a create-only property are DER_INVAL.
 */
export interface PoolPropSpec {
  /** What dmg prints beside the name. */
  readonly description: string;
  /** The value a pool has when none was given. */
  readonly defaultValue: string;
  /** 'create': only at pool creation (read-only after). */
  readonly settable: 'always' | 'create';
  /** Validate a value; returns it normalised. */
  normalise(value: string): string;
}

function oneOf(name: string, values: readonly string[]): (value: string) => string {
  return (value) => {
    const v = value.trim().toLowerCase();
    if (!values.includes(v))
      throw new DaosError(
        'DER_INVAL',
        `pool property ${name}: "${value}" is not one of ${values.join(' | ')}`,
      );
    return v;
  };
}

/** DAOS's self_heal flags. */
const SELF_HEAL_FLAGS = ['exclude', 'rebuild', 'delay_rebuild'] as const;

/**
 * self_heal: 'none' or flags from SELF_HEAL_FLAGS joined by ';' (DAOS's spelling; ',' is taken
 * too), normalised to ';' in flag order.
 */
function selfHealFlags(value: string): string {
  const v = value.trim().toLowerCase();
  if (v === 'none') return v;
  const flags = v.split(/[;,]/).map((f) => f.trim());
  for (const f of flags) {
    if (!(SELF_HEAL_FLAGS as readonly string[]).includes(f))
      throw new DaosError(
        'DER_INVAL',
        `pool property self_heal: "${value}" is not none or flags from ${SELF_HEAL_FLAGS.join(' ')} joined by ;`,
      );
  }
  return SELF_HEAL_FLAGS.filter((f) => flags.includes(f)).join(';');
}

/** Whether a pool's self_heal value holds `flag`. */
export function selfHealHas(value: string | undefined, flag: 'exclude' | 'rebuild'): boolean {
  return (value ?? POOL_PROPS.self_heal!.defaultValue).split(';').includes(flag);
}

function intRange(name: string, min: number, max: number): (value: string) => string {
  return (value) => {
    if (!/^\s*\d+\s*$/.test(value) || Number(value) < min || Number(value) > max)
      throw new DaosError('DER_INVAL', `pool property ${name}: "${value}" must be an integer ${min}..${max}`);
    return String(Number(value));
  };
}

export const POOL_PROPS: Readonly<Record<string, PoolPropSpec>> = {
  label: {
    description: 'Pool label',
    defaultValue: '',
    settable: 'always',
    normalise: (v) => v,
  },
  ec_cell_sz: {
    description: 'EC cell size',
    defaultValue: String(EC_CELL_BYTES_DEFAULT),
    settable: 'create',
    normalise: (v) => {
      const bytes = parseBytes(v, 'pool property ec_cell_sz');
      if (bytes < 1 || bytes > EC_CODEC_CELL_BYTES_MAX)
        throw new DaosError(
          'DER_INVAL',
          `pool property ec_cell_sz: ${bytes} must be 1..${EC_CODEC_CELL_BYTES_MAX} bytes`,
        );
      return String(bytes);
    },
  },
  self_heal: {
    description: 'Self-healing policy',
    defaultValue: 'exclude;rebuild',
    settable: 'always',
    normalise: selfHealFlags,
  },
  reclaim: {
    description: 'Space reclaim policy',
    defaultValue: 'lazy',
    settable: 'always',
    normalise: oneOf('reclaim', ['disabled', 'lazy', 'time']),
  },
  space_rb: {
    description: 'Rebuild space ratio (%)',
    defaultValue: '0',
    settable: 'always',
    normalise: intRange('space_rb', 0, 100),
  },
  rd_fac: {
    description: 'Pool redundancy factor',
    defaultValue: '0',
    settable: 'always',
    normalise: intRange('rd_fac', 0, 4),
  },
};

/** Property names in display order. */
export const POOL_PROP_NAMES: readonly string[] = Object.keys(POOL_PROPS);

function spec(name: string): PoolPropSpec {
  const s = POOL_PROPS[name];
  if (!s)
    throw new DaosError(
      'DER_INVAL',
      `unknown pool property "${name}" (known: ${POOL_PROP_NAMES.join(', ')})`,
    );
  return s;
}

/** Validate and normalise properties; `when: 'set'` refuses create-only ones. */
export function checkPoolProps(
  props: Record<string, string>,
  when: 'create' | 'set',
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(props)) {
    const s = spec(name);
    if (when === 'set' && s.settable === 'create')
      throw new DaosError('DER_INVAL', `pool property ${name} is read-only after the pool is created`);
    if (typeof value !== 'string')
      throw new DaosError('DER_INVAL', `pool property ${name} needs a string value`);
    out[name] = s.normalise(value);
  }
  return out;
}

/** Refuse names that are not pool properties (for get-prop). */
export function checkPoolPropNames(names: readonly string[]): void {
  for (const n of names) spec(n);
}
