import { DaosError } from '../common/errors.js';
import { parseBytes } from '../common/units.js';
import type { ContInfo, ContPropsUpdate } from './link.js';

/**
 * Container properties by their DAOS names (what `daos container create --properties` and
 * `get-prop`/`set-prop` take) ↔ ContProps. DAOS's `cksum:crc32` is served by CRC-32C, the one
 * checksum daos-ts computes. `layout_type`, `owner` and `group` are read-only here; `status` (HEALTHY
 * or UNCLEAN) can only be set to `healthy`, as DAOS's `set-prop status:healthy` does.
 */
export const CONT_PROP_NAMES = [
  'label',
  'layout_type',
  'rd_fac',
  'cksum',
  'chunk_size',
  'oclass',
  'owner',
  'group',
  'status',
] as const;
export type ContPropName = (typeof CONT_PROP_NAMES)[number];

const WRITABLE = new Set<string>(['label', 'rd_fac', 'cksum', 'chunk_size', 'oclass', 'status']);

/** DAOS `name:value` properties → a ContProps update (and label); unknown or read-only names DER_INVAL. */
export function contPropsFromDaos(props: Record<string, string>): ContPropsUpdate {
  const out: ContPropsUpdate = {};
  for (const [name, value] of Object.entries(props)) {
    if (!WRITABLE.has(name)) {
      const why = (CONT_PROP_NAMES as readonly string[]).includes(name)
        ? 'is read-only'
        : 'is not a container property';
      throw new DaosError('DER_INVAL', `"${name}" ${why} (settable: ${[...WRITABLE].join(', ')})`);
    }
    if (name === 'label') out.label = value;
    else if (name === 'rd_fac') {
      if (!/^\d+$/.test(value)) throw new DaosError('DER_INVAL', `rd_fac "${value}" must be an integer 0..4`);
      out.redunFactor = Number(value);
    } else if (name === 'cksum') {
      const v = value.toLowerCase();
      if (v === 'off') out.checksum = 'off';
      else if (v === 'crc32' || v === 'crc32c') out.checksum = 'crc32c';
      else throw new DaosError('DER_INVAL', `cksum "${value}" must be off, crc32 or crc32c`);
    } else if (name === 'chunk_size') out.chunkSize = parseBytes(value, 'chunk_size');
    else if (name === 'status') {
      if (value.toLowerCase() !== 'healthy')
        throw new DaosError('DER_INVAL', `status "${value}" can only be set to healthy`);
      out.status = 'HEALTHY';
    } else out.oclass = value;
  }
  return out;
}

/** A container's properties by DAOS name, as strings (absent oclass: chosen from rd_fac). */
export function contPropsToDaos(info: ContInfo): Record<ContPropName, string> {
  return {
    label: info.label,
    layout_type: info.type,
    rd_fac: String(info.props.redunFactor),
    cksum: info.props.checksum,
    chunk_size: String(info.props.chunkSize),
    oclass: info.props.oclass ?? '',
    owner: info.owner ?? '',
    group: info.group ?? '',
    status: info.status ?? 'HEALTHY',
  };
}
