/**
 * The server side of ClientSvc (control/proto/client.proto): a MgmtApi (the management service of
 * daos_server) served to clients, one RPC per method. `serveControl(plane, { client })` registers
 * it on the same grpc.Server as the ControlPlane services. Requests are decoded exactly (uint64s
 * to numbers or bigints, absent optional fields absent); the service validates the values, so a
 * remote caller gets the same DaosErrors as an in-process one.
 */

import type { Metadata } from '@grpc/grpc-js';
import { DaosError } from '../../core/common/errors.js';
import type { ContainerType, ContCreateOptions, MgmtApi, OpenOptions } from '../../core/daos/link.js';
import {
  bigU64ToWire,
  contInfoToWire,
  contPropsPatchFromWire,
  listFromWire,
  poolInfoToWire,
  poolQueryToWire,
  u64FromWire,
  u64FromWireBig,
  u64ToWire,
  type WireContPropsPatch,
  type WireStringList,
} from './messages.js';

type Request = Record<string, unknown>;

/**
 * A MgmtApi that serves each caller through a view of their own (MgmtService.asCaller): the
 * credential is the `daos-credential` metadata of the call (remote-mgmt.ts).
 */
export interface CallerScopedMgmt extends MgmtApi {
  asCaller(credential: string | undefined): MgmtApi;
}

/** A MgmtApi, or how to get it when a call arrives (daos_server's is there only once formatted). */
export type MgmtSource = MgmtApi | (() => MgmtApi);

/** Metadata key of the agent-signed credential (the same as remote-mgmt.ts's). */
const CREDENTIAL_KEY = 'daos-credential';

function credentialOf(metadata: Metadata | undefined): string | undefined {
  const v = metadata?.get(CREDENTIAL_KEY)[0];
  return typeof v === 'string' ? v : undefined;
}

const mode = (r: Request): OpenOptions => {
  if (r.mode === undefined || r.mode === null || r.mode === '') return {};
  if (r.mode !== 'ro' && r.mode !== 'rw')
    throw new DaosError('DER_INVAL', `mode: ${String(r.mode)} is not ro or rw`);
  return { mode: r.mode, ...(r.force === true && { force: true }) };
};

const str = (r: Request, field: string): string => {
  const v = r[field];
  if (typeof v !== 'string') throw new DaosError('DER_PROTO', `${field}: not a string`);
  return v;
};

function bytesMap(m: unknown): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  if (m === null || m === undefined) return out;
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (!(v instanceof Uint8Array)) throw new DaosError('DER_PROTO', `attrs.${k}: not bytes`);
    out[k] = v;
  }
  return out;
}

/** ClientSvc's methods as calls of `source`: request decoded, result encoded. */
export function clientApiRoutes(
  source: MgmtSource,
): Record<string, (r: Request, metadata?: Metadata) => Promise<unknown>> {
  let md: Metadata | undefined;
  // Each route reads `md` synchronously at its start (before any await), so calls cannot mix.
  const mgmt = (): MgmtApi => {
    const m = typeof source === 'function' ? source() : source;
    const scoped = m as Partial<CallerScopedMgmt>;
    return typeof scoped.asCaller === 'function' ? scoped.asCaller(credentialOf(md)) : m;
  };
  const pc = (r: Request): [string, string] => [str(r, 'pool'), str(r, 'cont')];
  const routes: Record<string, (r: Request) => Promise<unknown>> = {
    PoolConnect: async (r) => poolInfoToWire(await mgmt().poolConnect(str(r, 'pool'), mode(r))),
    PoolQuery: async (r) => poolQueryToWire(await mgmt().poolQuery(str(r, 'pool'))),
    ContCreate: async (r) => {
      const options: ContCreateOptions = {};
      if (r.label !== undefined) options.label = str(r, 'label');
      if (r.uuid !== undefined) options.uuid = str(r, 'uuid');
      if (r.type !== undefined) options.type = str(r, 'type') as ContainerType;
      if (r.props !== undefined && r.props !== null) {
        const { label: _label, ...props } = contPropsPatchFromWire(r.props as WireContPropsPatch);
        options.props = props;
      }
      return contInfoToWire(await mgmt().contCreate(str(r, 'pool'), options));
    },
    ContLookup: async (r) => contInfoToWire(await mgmt().contLookup(...pc(r), mode(r))),
    ContList: async (r) => ({ conts: (await mgmt().contList(str(r, 'pool'))).map(contInfoToWire) }),
    ContDestroy: async (r) => {
      await mgmt().contDestroy(...pc(r), r.force === true);
      return {};
    },
    ContSetProps: async (r) =>
      contInfoToWire(
        await mgmt().contSetProps(...pc(r), contPropsPatchFromWire(r.props as WireContPropsPatch | null)),
      ),
    ContGetAttrs: async (r) => ({ attrs: await mgmt().contGetAttrs(...pc(r)) }),
    ContSetAttrs: async (r) => {
      await mgmt().contSetAttrs(...pc(r), bytesMap(r.attrs));
      return {};
    },
    ContDelAttrs: async (r) => {
      await mgmt().contDelAttrs(...pc(r), [...((r.names as string[] | undefined) ?? [])]);
      return {};
    },
    ContAllocOids: async (r) => ({
      value: bigU64ToWire(await mgmt().contAllocOids(...pc(r), u64FromWire(r.count, 'count')), 'oid'),
    }),
    SnapCreate: async (r) => ({
      value: bigU64ToWire(
        await mgmt().snapCreate(...pc(r), r.name === undefined ? undefined : str(r, 'name')),
        'epoch',
      ),
    }),
    SnapDestroy: async (r) => {
      await mgmt().snapDestroy(...pc(r), u64FromWireBig(r.epoch, 'epoch'));
      return {};
    },
    ContGetAcl: async (r) => {
      const m = mgmt();
      if (!m.contGetAcl)
        throw new DaosError('DER_NOTSUPPORTED', 'container get-acl: not kept by this service');
      return m.contGetAcl(...pc(r));
    },
    ContUpdateAcl: async (r) => {
      const m = mgmt();
      if (!m.contUpdateAcl)
        throw new DaosError('DER_NOTSUPPORTED', 'container update-acl: not kept by this service');
      const entries =
        r.text !== undefined ? str(r, 'text') : (listFromWire(r.entries as WireStringList | null) ?? []);
      return { values: await m.contUpdateAcl(...pc(r), entries) };
    },
    ContAggregate: async (r) => {
      const s = await mgmt().contAggregate(...pc(r));
      return {
        records_removed: u64ToWire(s.recordsRemoved, 'recordsRemoved'),
        bytes_freed: u64ToWire(s.bytesFreed, 'bytesFreed'),
      };
    },
  };
  return Object.fromEntries(
    Object.entries(routes).map(([name, route]) => [
      name,
      (r: Request, metadata?: Metadata) => {
        md = metadata;
        try {
          return route(r);
        } finally {
          md = undefined;
        }
      },
    ]),
  );
}
