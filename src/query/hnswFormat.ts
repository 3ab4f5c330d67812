import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { AlsError } from '../errors.js';
import { checkArray, checkString } from '../validate.js';
import { MAX_DIM, MAX_LEVEL, MAX_M, MAX_ROWS, registerHnsw, type HnswIndex } from './hnsw.js';

/**
 * One HNSW index (src/query/hnsw.ts) as one little-endian byte buffer. The vectors are not in it:
 * they are the model's, and an index is searched together with them.
 *
 *   offset  bytes  field
 *        0      8  magic "alsHNSW\0"
 *        8      4  version (2; version 1 had no source field)
 *       12      4  rows
 *       16      4  dim
 *       20      4  m
 *       24      4  efConstruction
 *       28      4  seed
 *       32      4  maxLevel
 *       36      4  entryPoint (int32; −1 when rows = 0)
 *       40      4  upper lists (Σ levels)
 *       44      4  0 (reserved)
 *       48     32  SHA-256 of bytes 0–47 and of every byte from 80 on
 *       80     32  source: what the index was built from, as its writer identifies it (als: the
 *                  SHA-256 of the model's item_factors.f32), so that an index searched with other
 *                  vectors is found out; zeros when the writer gave none
 *      112         levels       uint8  × rows, then zeros to a multiple of 4
 *                  counts0      uint16 × rows, then zeros to a multiple of 4
 *                  links0       int32  × rows · 2m (−1 past each row's count)
 *                  countsUpper  uint16 × lists, then zeros to a multiple of 4
 *                  linksUpper   int32  × lists · m (−1 past each list's count)
 *
 * All numbers are unsigned 32-bit but entryPoint. The file is nothing else: its size follows
 * from the header.
 */
export const HNSW_MAGIC = 'alsHNSW\0';
export const HNSW_FORMAT_VERSION = 2;
export const HNSW_HEADER_BYTES = 112;
/** where the SHA-256 of the body sits in the header */
export const HNSW_CHECKSUM_OFFSET = 48;
/** where the 32 bytes of the source sit in the header (covered by the checksum) */
export const HNSW_SOURCE_OFFSET = 80;
export const HNSW_SOURCE_BYTES = 32;

const pad4 = (bytes: number): number => (bytes + 3) & ~3;

/** byte offsets of the arrays after the header, and the total size, for a shape */
function layout(rows: number, m: number, lists: number) {
  const levels = HNSW_HEADER_BYTES;
  const counts0 = levels + pad4(rows);
  const links0 = counts0 + pad4(2 * rows);
  const countsUpper = links0 + 4 * rows * 2 * m;
  const linksUpper = countsUpper + pad4(2 * lists);
  const end = linksUpper + 4 * lists * m;
  return { levels, counts0, links0, countsUpper, linksUpper, end };
}

function checkLittleEndian(): void {
  if (endianness() !== 'LE')
    throw new AlsError('model', 'this als reads and writes HNSW indexes on little-endian machines only');
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/**
 * The index as one byte buffer (layout above), the same bytes for the same index and source:
 * readHnsw gives it back, hnswSource the source.
 *
 * @param source 32 bytes naming what the index was built from (a SHA-256 of the vectors' file)
 * @default source 32 zeros
 * @throws {AlsError} 'usage' when source is not a Uint8Array of 32 bytes
 */
export function writeHnsw(index: HnswIndex, source: Uint8Array = new Uint8Array(HNSW_SOURCE_BYTES)): Uint8Array {
  checkArray('source', source, Uint8Array, HNSW_SOURCE_BYTES);
  checkLittleEndian();
  const { rows, m, levels, counts0, links0, countsUpper, linksUpper } = index;
  const lists = countsUpper.length;
  const at = layout(rows, m, lists);
  const out = new Uint8Array(at.end);
  const view = new DataView(out.buffer);
  for (let n = 0; n < HNSW_MAGIC.length; n++) out[n] = HNSW_MAGIC.charCodeAt(n);
  view.setUint32(8, HNSW_FORMAT_VERSION, true);
  view.setUint32(12, rows, true);
  view.setUint32(16, index.dim, true);
  view.setUint32(20, m, true);
  view.setUint32(24, index.efConstruction, true);
  view.setUint32(28, index.seed, true);
  view.setUint32(32, index.maxLevel, true);
  view.setInt32(36, index.entryPoint, true);
  view.setUint32(40, lists, true);
  out.set(source, HNSW_SOURCE_OFFSET);
  out.set(levels, at.levels);
  out.set(bytesOf(counts0), at.counts0);
  out.set(bytesOf(links0), at.links0);
  out.set(bytesOf(countsUpper), at.countsUpper);
  out.set(bytesOf(linksUpper), at.linksUpper);
  out.set(hnswChecksum(out), HNSW_CHECKSUM_OFFSET);
  return out;
}

/**
 * The source a buffer from writeHnsw was bound to (a copy of its 32 bytes). Read it from a buffer
 * readHnsw accepted: only then is it covered by a checked checksum.
 *
 * @throws {AlsError} 'model' for a buffer shorter than the header; 'usage' when bytes is not a Uint8Array
 */
export function hnswSource(bytes: Uint8Array): Uint8Array {
  checkArray('bytes', bytes, Uint8Array);
  if (bytes.length < HNSW_HEADER_BYTES)
    throw new AlsError('model', `HNSW index: ${bytes.length} bytes, fewer than the ${HNSW_HEADER_BYTES} of the header`);
  return bytes.slice(HNSW_SOURCE_OFFSET, HNSW_SOURCE_OFFSET + HNSW_SOURCE_BYTES);
}

/** The SHA-256 a buffer in this format carries: of every byte but the 32 that hold it. */
export function hnswChecksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update(bytes.subarray(0, HNSW_CHECKSUM_OFFSET))
    .update(bytes.subarray(HNSW_CHECKSUM_OFFSET + 32))
    .digest();
}

/**
 * The index a buffer from writeHnsw holds, every part checked before it is used: magic,
 * version, shape within limits, the size the header implies (no byte short, none over), the
 * checksum, then the graph itself (levels up to maxLevel with the entry point on top, upper
 * lists adding up, counts within capacity, every link a row below `rows` other than its own and
 * reaching the layer it is on, unused slots −1, padding zero), so that a search of it can only
 * visit rows that exist and always ends. The arrays are copies: the buffer may change afterwards.
 *
 * @param source what the bytes are (a file name) for messages
 * @default source "HNSW index"
 * @throws {AlsError} 'model' naming the fault, for a buffer that is truncated, too long, of
 * another format or version, or corrupt; 'usage' when bytes is not a Uint8Array
 */
export function readHnsw(bytes: Uint8Array, source = 'HNSW index'): HnswIndex {
  checkArray('bytes', bytes, Uint8Array);
  checkString('source', source);
  checkLittleEndian();
  const corrupt = (what: string): AlsError =>
    new AlsError('model', `${source}: ${what} (the index is corrupt or incomplete; build it again)`);
  if (bytes.length < HNSW_HEADER_BYTES)
    throw corrupt(`${bytes.length} bytes, fewer than the ${HNSW_HEADER_BYTES} of the header`);
  for (let n = 0; n < HNSW_MAGIC.length; n++) {
    if (bytes[n] !== HNSW_MAGIC.charCodeAt(n))
      throw new AlsError('model', `${source}: not an als HNSW index (its first bytes are not "alsHNSW")`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== HNSW_FORMAT_VERSION)
    throw new AlsError(
      'model',
      `${source}: HNSW index format version ${version}, but this als reads version ${HNSW_FORMAT_VERSION}; build it again`,
    );
  const rows = view.getUint32(12, true);
  const dim = view.getUint32(16, true);
  const m = view.getUint32(20, true);
  const efConstruction = view.getUint32(24, true);
  const seed = view.getUint32(28, true);
  const maxLevel = view.getUint32(32, true);
  const entryPoint = view.getInt32(36, true);
  const lists = view.getUint32(40, true);
  if (rows > MAX_ROWS) throw corrupt(`the header gives ${rows} rows (at most ${MAX_ROWS})`);
  if (dim < 1 || dim > MAX_DIM) throw corrupt(`the header gives dim ${dim} (1 to ${MAX_DIM})`);
  if (m < 2 || m > MAX_M) throw corrupt(`the header gives m ${m} (2 to ${MAX_M})`);
  if (efConstruction < 1) throw corrupt('the header gives efConstruction 0 (at least 1)');
  if (maxLevel > MAX_LEVEL) throw corrupt(`the header gives max level ${maxLevel} (at most ${MAX_LEVEL})`);
  if (rows === 0 ? entryPoint !== -1 : entryPoint < 0 || entryPoint >= rows)
    throw corrupt(`the header gives entry point ${entryPoint} for ${rows} rows`);
  if (rows === 0 && maxLevel !== 0) throw corrupt(`the header gives max level ${maxLevel} for 0 rows`);
  if (lists > rows * maxLevel)
    throw corrupt(`the header gives ${lists} upper lists, more than ${rows} rows × max level ${maxLevel}`);
  if (view.getUint32(44, true) !== 0) throw corrupt('the reserved header field is not 0');
  const at = layout(rows, m, lists);
  if (bytes.length !== at.end)
    throw corrupt(
      `${bytes.length} bytes, but its header (${rows} rows, m ${m}, ${lists} upper lists) makes ${at.end}` +
        (bytes.length < at.end ? ' (truncated)' : ''),
    );
  const sum = hnswChecksum(bytes);
  for (let n = 0; n < sum.length; n++)
    if (bytes[HNSW_CHECKSUM_OFFSET + n] !== sum[n]) throw corrupt('it fails its checksum');

  // copies, aligned whatever the buffer's offset (new Uint8Array(view) copies; a Buffer's slice would not)
  const copy = <T>(Type: { new (buffer: ArrayBuffer): T }, start: number, byteLength: number): T =>
    new Type(new Uint8Array(bytes.subarray(start, start + byteLength)).buffer);
  const levels = new Uint8Array(bytes.subarray(at.levels, at.levels + rows));
  const counts0 = copy(Uint16Array, at.counts0, 2 * rows);
  const links0 = copy(Int32Array, at.links0, 4 * rows * 2 * m);
  const countsUpper = copy(Uint16Array, at.countsUpper, 2 * lists);
  const linksUpper = copy(Int32Array, at.linksUpper, 4 * lists * m);
  for (const [name, start, end] of [
    ['levels', at.levels + rows, at.counts0],
    ['counts0', at.counts0 + 2 * rows, at.links0],
    ['countsUpper', at.countsUpper + 2 * lists, at.linksUpper],
  ] as const) {
    for (let n = start; n < end; n++) if (bytes[n] !== 0) throw corrupt(`the padding after ${name} is not zero`);
  }

  const upperStart = new Int32Array(rows + 1);
  for (let i = 0; i < rows; i++) {
    if (levels[i] > maxLevel) throw corrupt(`row ${i} has level ${levels[i]}, above the max level ${maxLevel}`);
    upperStart[i + 1] = upperStart[i] + levels[i];
  }
  if (upperStart[rows] !== lists)
    throw corrupt(`the levels make ${upperStart[rows]} upper lists, but the header gives ${lists}`);
  if (rows > 0 && levels[entryPoint] !== maxLevel)
    throw corrupt(`the entry point ${entryPoint} has level ${levels[entryPoint]}, not the max level ${maxLevel}`);

  const checkList = (links: Int32Array, base: number, count: number, cap: number, row: number, layer: number) => {
    if (count > cap) throw corrupt(`row ${row} has ${count} links on layer ${layer}, more than ${cap}`);
    for (let n = 0; n < cap; n++) {
      const to = links[base + n];
      if (n >= count) {
        if (to !== -1) throw corrupt(`row ${row} has ${to} in an unused link slot on layer ${layer} (−1 expected)`);
      } else if (to < 0 || to >= rows) {
        throw corrupt(`row ${row} links to row ${to} on layer ${layer}, outside the ${rows} rows`);
      } else if (to === row) {
        throw corrupt(`row ${row} links to itself on layer ${layer}`);
      } else if (levels[to] < layer) {
        throw corrupt(`row ${row} links to row ${to} on layer ${layer}, above that row's level ${levels[to]}`);
      }
    }
  };
  for (let i = 0; i < rows; i++) {
    checkList(links0, i * 2 * m, counts0[i], 2 * m, i, 0);
    for (let layer = 1; layer <= levels[i]; layer++) {
      const list = upperStart[i] + layer - 1;
      checkList(linksUpper, list * m, countsUpper[list], m, i, layer);
    }
  }
  return registerHnsw({
    rows,
    dim,
    m,
    efConstruction,
    seed,
    maxLevel,
    entryPoint,
    levels,
    links0,
    counts0,
    upperStart,
    linksUpper,
    countsUpper,
  });
}
