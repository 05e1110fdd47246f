/**
 * Opcodes of the data-plane RPCs, as numeric constants carried in the frame header (u16). The
 * object RPCs follow DAOS's obj_rpc.h; numbers are ours and never reused once assigned.
 */

/** Liveness probe: the reply echoes the header. */
export const OPC_PING = 0x0001;
/** Object update: iods in the header, their data in the bulk. */
export const OPC_OBJ_UPDATE = 0x0101;
/** Object fetch: iods in the header, the data comes back in the reply bulk. */
export const OPC_OBJ_FETCH = 0x0102;
/** Punch an object, or some of its dkeys, or some akeys of one dkey. */
export const OPC_OBJ_PUNCH = 0x0103;
/** One page of an object's dkeys. */
export const OPC_OBJ_LIST_DKEYS = 0x0104;
/** One page of a dkey's akeys. */
export const OPC_OBJ_LIST_AKEYS = 0x0105;
/** One page of an array akey's extents. */
export const OPC_OBJ_LIST_RECX = 0x0106;
/** Greatest / least dkey of an object (DAOS's obj query key). */
export const OPC_OBJ_QUERY_DKEY = 0x0107;
/** Greatest / least extent of an array akey. */
export const OPC_OBJ_QUERY_RECX = 0x0108;
/** Commit a transaction's buffered writes at one epoch. */
export const OPC_TX_COMMIT = 0x0201;

const NAMES: ReadonlyMap<number, string> = new Map([
  [OPC_PING, 'ping'],
  [OPC_OBJ_UPDATE, 'obj_update'],
  [OPC_OBJ_FETCH, 'obj_fetch'],
  [OPC_OBJ_PUNCH, 'obj_punch'],
  [OPC_OBJ_LIST_DKEYS, 'obj_list_dkeys'],
  [OPC_OBJ_LIST_AKEYS, 'obj_list_akeys'],
  [OPC_OBJ_LIST_RECX, 'obj_list_recx'],
  [OPC_OBJ_QUERY_DKEY, 'obj_query_dkey'],
  [OPC_OBJ_QUERY_RECX, 'obj_query_recx'],
  [OPC_TX_COMMIT, 'tx_commit'],
]);

/** Every opcode above: what a listener accepts unless told otherwise. */
export const OPCODES_KNOWN: ReadonlySet<number> = new Set(NAMES.keys());

/** A printable name of an opcode, for messages. */
export function opcodeName(opcode: number): string {
  return NAMES.get(opcode) ?? `opcode 0x${opcode.toString(16).padStart(4, '0')}`;
}
