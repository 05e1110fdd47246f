/**
 * File views (MPI_File_set_view): a rank sees the file as a contiguous stream of etypes made of
 * the data bytes of `filetype` tiled from byte `disp`, tile i at disp + i * filetype.extent, the
 * holes skipped. This file maps ranges of that stream to absolute file runs, and says where in the
 * rank's contiguous buffer each run's bytes sit. Pure arithmetic, no I/O.
 */
import { check, DaosError } from '../../core/common/errors.js';
import { DATATYPE_RUNS_MAX, Datatype, RunCursor } from './datatype.js';

/** Absolute file runs of a view range: run k is file bytes [fileOffsets[k], + lengths[k]), buffer bytes [bufOffsets[k], + lengths[k]). */
export interface ViewRuns {
  readonly count: number;
  readonly fileOffsets: Float64Array;
  readonly lengths: Float64Array;
  readonly bufOffsets: Float64Array;
}

/** A file view: displacement in bytes, elementary type, and filetype (built of etypes). */
export class FileView {
  /** MPI's default view: displacement 0, etype and filetype MPI_BYTE (the file as bytes). */
  static readonly DEFAULT = new FileView(0, Datatype.BYTE, Datatype.BYTE);

  readonly disp: number;
  readonly etype: Datatype;
  readonly filetype: Datatype;

  constructor(disp: number, etype: Datatype, filetype: Datatype) {
    const where = 'FileView';
    check(
      Number.isSafeInteger(disp) && disp >= 0,
      'DER_INVAL',
      () => `${where}: disp must be a non-negative integer, got ${disp}`,
    );
    check(
      etype instanceof Datatype,
      'DER_INVAL',
      () => `${where}: etype must be a Datatype, got ${String(etype)}`,
    );
    check(
      filetype instanceof Datatype,
      'DER_INVAL',
      () => `${where}: filetype must be a Datatype, got ${String(filetype)}`,
    );
    check(etype.size > 0, 'DER_INVAL', () => `${where}: etype ${etype.name} holds no data`);
    check(filetype.size > 0, 'DER_INVAL', () => `${where}: filetype ${filetype.name} holds no data`);
    check(
      filetype.size % etype.size === 0,
      'DER_INVAL',
      () =>
        `${where}: filetype size ${filetype.size} (${filetype.name}) is not a multiple of etype size ${etype.size} (${etype.name})`,
    );
    checkMonotonic(where, 'etype', etype);
    checkMonotonic(where, 'filetype', filetype);
    // Tile i + 1 starts at (i + 1) * extent + trueLb; it must not start before tile i ends.
    check(
      filetype.trueUb - filetype.trueLb <= filetype.extent,
      'DER_INVAL',
      () =>
        `${where}: filetype ${filetype.name} spans ${filetype.trueUb - filetype.trueLb} data bytes, more than its extent ${filetype.extent}: consecutive tiles would overlap`,
    );
    this.disp = disp;
    this.etype = etype;
    this.filetype = filetype;
  }

  /** True when the view is the file itself from disp on: every range maps to one run. */
  get isContiguous(): boolean {
    return this.filetype.isContiguous;
  }

  /** Absolute file offset of view byte `pos` (MPI_File_get_byte_offset, in bytes). */
  fileOffsetOf(pos: number): number {
    const offset = this.disp + this.filetype.locate(pos);
    check(
      Number.isSafeInteger(offset),
      'DER_INVAL',
      () => `FileView: view byte ${pos} lies past 2^53 in the file`,
    );
    return offset;
  }

  /** Absolute file offset of view etype `offset` (MPI_File_get_byte_offset). */
  byteOffset(offset: number): number {
    return this.fileOffsetOf(this.#etypeBytes('offset', offset));
  }

  /** First file byte and the byte past the last that view bytes [pos, pos + length) touch; null when length is 0. */
  fileRange(pos: number, length: number): { start: number; end: number } | null {
    checkRange('FileView.fileRange', pos, length);
    if (length === 0) return null;
    return { start: this.fileOffsetOf(pos), end: this.fileOffsetOf(pos + length - 1) + 1 };
  }

  /** Walk the file runs of view bytes [pos, pos + length) without materializing them. */
  cursor(pos: number, length: number): RunCursor {
    checkRange('FileView.cursor', pos, length);
    if (length > 0) this.fileOffsetOf(pos + length - 1);
    return new RunCursor(this.filetype, Infinity, pos, length, this.disp);
  }

  /** File runs of view bytes [pos, pos + length), with where each lands in the rank's buffer. */
  mapBytes(pos: number, length: number): ViewRuns {
    const c = this.cursor(pos, length);
    let cap = 16;
    let [fileOffsets, lengths, bufOffsets] = [
      new Float64Array(cap),
      new Float64Array(cap),
      new Float64Array(cap),
    ];
    let n = 0;
    while (c.next()) {
      if (n === cap) {
        if (cap >= DATATYPE_RUNS_MAX) {
          throw new DaosError(
            'DER_INVAL',
            `FileView.mapBytes: more than DATATYPE_RUNS_MAX (${DATATYPE_RUNS_MAX}) runs; walk cursor() instead`,
          );
        }
        cap = Math.min(cap * 2, DATATYPE_RUNS_MAX);
        [fileOffsets, lengths, bufOffsets] = [
          grow(fileOffsets, cap),
          grow(lengths, cap),
          grow(bufOffsets, cap),
        ];
      }
      fileOffsets[n] = c.offset;
      lengths[n] = c.length;
      bufOffsets[n] = c.bufOffset;
      n++;
    }
    return {
      count: n,
      fileOffsets: fileOffsets.slice(0, n),
      lengths: lengths.slice(0, n),
      bufOffsets: bufOffsets.slice(0, n),
    };
  }

  /** File runs of `count` etypes from view etype `offset` (MPI offsets count etypes). */
  map(offset: number, count: number): ViewRuns {
    return this.mapBytes(this.#etypeBytes('offset', offset), this.#etypeBytes('count', count));
  }

  #etypeBytes(arg: string, value: number): number {
    check(
      Number.isSafeInteger(value) && value >= 0,
      'DER_INVAL',
      () => `FileView: ${arg} must be a non-negative integer of etypes, got ${value}`,
    );
    const bytes = value * this.etype.size;
    check(
      Number.isSafeInteger(bytes),
      'DER_INVAL',
      () => `FileView: ${arg} of ${value} etypes passes 2^53 bytes`,
    );
    return bytes;
  }
}

/** MPI: displacements in an etype or filetype are non-negative and monotonically non-decreasing. */
function checkMonotonic(where: string, arg: string, type: Datatype): void {
  const flat = type.flatten();
  let end = 0;
  for (let k = 0; k < flat.count; k++) {
    const offset = flat.offsets[k];
    if (offset < 0) {
      throw new DaosError(
        'DER_INVAL',
        `${where}: ${arg} ${type.name} has a negative displacement (${offset})`,
      );
    }
    if (offset < end) {
      throw new DaosError(
        'DER_INVAL',
        `${where}: ${arg} ${type.name} displacements must be monotonically non-decreasing and not overlap: byte run at ${offset} comes after one ending at ${end}`,
      );
    }
    end = offset + flat.lengths[k];
  }
}

function checkRange(where: string, pos: number, length: number): void {
  check(
    Number.isSafeInteger(pos) && pos >= 0,
    'DER_INVAL',
    () => `${where}: pos must be a non-negative integer, got ${pos}`,
  );
  check(
    Number.isSafeInteger(length) && length >= 0,
    'DER_INVAL',
    () => `${where}: length must be a non-negative integer, got ${length}`,
  );
}

function grow(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}
