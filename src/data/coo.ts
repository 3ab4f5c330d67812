import { cooChunksToCsr, type CsrMatrix } from './sparse.js';

const FIRST_CHUNK = 1 << 14;
const MAX_CHUNK = 1 << 20;

/**
 * Coordinate triples (row, col, value) appended one at a time into a list of typed-array
 * chunks: a full chunk is never copied, the next one is added (sizes double up to MAX_CHUNK
 * entries, then stay), so at most one chunk is partly unused.
 */
export class CooList {
  private readonly rowChunks: Int32Array[] = [];
  private readonly colChunks: Int32Array[] = [];
  private readonly valueChunks: Float32Array[] = [];
  private row = new Int32Array(0);
  private col = new Int32Array(0);
  private value = new Float32Array(0);
  /** entries in the current chunk */
  private at = 0;
  /** entries in the chunks before it */
  private before = 0;

  get length(): number {
    return this.before + this.at;
  }

  push(row: number, col: number, value: number): void {
    if (this.at === this.row.length) this.addChunk();
    const at = this.at++;
    this.row[at] = row;
    this.col[at] = col;
    this.value[at] = value;
  }

  private addChunk(): void {
    this.before += this.at;
    this.at = 0;
    const size = Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK, this.row.length * 2));
    this.row = new Int32Array(size);
    this.col = new Int32Array(size);
    this.value = new Float32Array(size);
    this.rowChunks.push(this.row);
    this.colChunks.push(this.col);
    this.valueChunks.push(this.value);
  }

  /**
   * The rows × cols CSR matrix of the triples, duplicates summed. Call once: the chunks are let
   * go one by one while the matrix is built (`length` still tells how many triples there were).
   */
  toCsr(rows: number, cols: number): { matrix: CsrMatrix; duplicates: number } {
    const nnz = this.length;
    const result = cooChunksToCsr(rows, cols, this.rowChunks, this.colChunks, this.valueChunks, nnz, true);
    this.rowChunks.length = 0;
    this.colChunks.length = 0;
    this.valueChunks.length = 0;
    this.row = new Int32Array(0);
    this.col = new Int32Array(0);
    this.value = new Float32Array(0);
    return result;
  }
}
