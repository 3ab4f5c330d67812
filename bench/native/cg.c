/*
 * The conjugate-gradient user update of src/kernels/assembly/kernels.ts (cgRows), in C, for
 * the benchmark's native ceiling: same data, same float32 arithmetic, same loop structure.
 * Built by bench/run.js with `gcc -O3 -march=native`; the loops are written with eight
 * independent sums so that gcc vectorises them without -ffast-math (and add_weighted_rows in
 * GCC's vector extension: gcc's own vectorisation of it was 40% slower than the old pairs).
 *
 * usage: cg INPUT OUTPUT REPEATS
 *   INPUT:  int32 rows, cols, f, nnz, steps; int32 indptr[rows+1], indices[nnz];
 *           float32 confidence[nnz], X[rows*f], Y[cols*f], YtY[f*f]
 *   OUTPUT: float32 X after one pass
 * prints the seconds of the fastest pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static float dot(const float *a, const float *b, int f) {
  float acc[8] = {0};
  int k = 0;
  for (; k + 8 <= f; k += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < f; k++) sum += a[k] * b[k];
  return sum;
}

static void axpy(float alpha, const float *x, float *y, int f) {
  for (int k = 0; k < f; k++) y[k] += alpha * x[k];
}

/* eight floats in one vector (GCC's vector extension: gcc vectorises the loop below across the
   rows instead, with gathers, when written with arrays) */
typedef float v8sf __attribute__((vector_size(32)));

/* out += sum of weights[i] rows[i] for i < count, each float summed in the order of i, 32 floats
   of out at a time held in registers over the rows (cgRows' addWeightedRows) */
static void add_weighted_rows(const float *const *rows, const float *weights, int count, float *out, int f) {
  int j = 0;
  for (; j + 32 <= f; j += 32) {
    v8sf a0, a1, a2, a3;
    memcpy(&a0, out + j, 32);
    memcpy(&a1, out + j + 8, 32);
    memcpy(&a2, out + j + 16, 32);
    memcpy(&a3, out + j + 24, 32);
    for (int i = 0; i < count; i++) {
      const float *y = rows[i] + j;
      v8sf y0, y1, y2, y3;
      memcpy(&y0, y, 32);
      memcpy(&y1, y + 8, 32);
      memcpy(&y2, y + 16, 32);
      memcpy(&y3, y + 24, 32);
      const float w = weights[i];
      a0 += w * y0;
      a1 += w * y1;
      a2 += w * y2;
      a3 += w * y3;
    }
    memcpy(out + j, &a0, 32);
    memcpy(out + j + 8, &a1, 32);
    memcpy(out + j + 16, &a2, 32);
    memcpy(out + j + 24, &a3, 32);
  }
  for (; j < f; j++) {
    float acc = out[j];
    for (int i = 0; i < count; i++) acc += weights[i] * rows[i][j];
    out[j] = acc;
  }
}

#define OBSERVED_CHUNK 64

/* the observed rows' products into out, OBSERVED_CHUNK rows at a time as cgRows'
   addObservedProducts: the chunk's weights first, then its weighted rows added up */
static void observed(const float *Y, int f, const int *indices, const float *confidence, int from, int to,
                     const float *v, float *out, int residual) {
  float weights[OBSERVED_CHUNK];
  const float *rows[OBSERVED_CHUNK];
  for (int first = from; first < to; first += OBSERVED_CHUNK) {
    int last = first + OBSERVED_CHUNK < to ? first + OBSERVED_CHUNK : to;
    for (int n = first; n < last; n++) {
      float c = confidence[n];
      const float *y = Y + (size_t)indices[n] * f;
      float d = dot(y, v, f);
      weights[n - first] = residual ? c - (c - 1) * d : (c - 1) * d;
      rows[n - first] = y;
    }
    add_weighted_rows(rows, weights, last - first, out, f);
  }
}

static void symmetric_product(const float *M, const float *p, float *Ap, int f) {
  memset(Ap, 0, sizeof(float) * f);
  for (int k = 0; k < f; k++) axpy(p[k], M + (size_t)k * f, Ap, f);
}

/* both products with one pass over M (cgRows' symmetricProductPair): each Ap[j], Aq[j] summed as
   symmetric_product sums it */
static void symmetric_product_pair(const float *M, const float *p, const float *q, float *Ap, float *Aq, int f) {
  memset(Ap, 0, sizeof(float) * f);
  memset(Aq, 0, sizeof(float) * f);
  for (int k = 0; k < f; k++) {
    const float *row = M + (size_t)k * f;
    const float pk = p[k], qk = q[k];
    for (int j = 0; j < f; j++) {
      Ap[j] += pk * row[j];
      Aq[j] += qk * row[j];
    }
  }
}

/* a row's residual into r (holding YtY x) and p; r.r, or 0 when the row is done */
static double residual(const float *Y, int f, const int *indices, const float *confidence, int from, int to,
                       const float *x, float *r, float *p) {
  for (int k = 0; k < f; k++) r[k] = -r[k];
  observed(Y, f, indices, confidence, from, to, x, r, 1);
  memcpy(p, r, sizeof(float) * f);
  double rs = dot(r, r, f);
  return rs < 1e-20 ? 0 : rs;
}

/* one CG step given Ap = YtY p; the new r.r, or 0 when the row is done */
static double step(const float *Y, int f, const int *indices, const float *confidence, int from, int to, float *x,
                   float *r, float *p, float *Ap, double rs_old) {
  observed(Y, f, indices, confidence, from, to, p, Ap, 0);
  double pAp = dot(p, Ap, f);
  if (!(pAp > 0)) return 0;
  float alpha = (float)(rs_old / pAp);
  axpy(alpha, p, x, f);
  axpy(-alpha, Ap, r, f);
  double rs_new = dot(r, r, f);
  if (rs_new < 1e-20) return 0;
  float beta = (float)(rs_new / rs_old);
  for (int k = 0; k < f; k++) p[k] = r[k] + beta * p[k];
  return rs_new;
}

/* rows two at a time, side by side (cgRows' cgPair), the last one alone; s: r, p, Ap of each */
static void cg_rows(float *X, const float *Y, int f, const int *indptr, const int *indices, const float *confidence,
                    const float *YtY, int steps, int start, int end, float *s) {
  float *r[2] = {s, s + 3 * f}, *p[2] = {s + f, s + 4 * f}, *Ap[2] = {s + 2 * f, s + 5 * f};
  for (int u = start; u < end; u += 2) {
    int pair = u + 1 < end;
    float *x[2] = {X + (size_t)u * f, X + (size_t)(u + pair) * f};
    double rs[2] = {0, 0};
    if (pair)
      symmetric_product_pair(YtY, x[0], x[1], r[0], r[1], f);
    else
      symmetric_product(YtY, x[0], r[0], f);
    for (int i = 0; i <= pair; i++)
      rs[i] = residual(Y, f, indices, confidence, indptr[u + i], indptr[u + i + 1], x[i], r[i], p[i]);
    for (int it = 0; it < steps; it++) {
      int live0 = rs[0] >= 1e-20, live1 = rs[1] >= 1e-20;
      if (live0 && live1)
        symmetric_product_pair(YtY, p[0], p[1], Ap[0], Ap[1], f);
      else if (live0 || live1)
        symmetric_product(YtY, p[live1], Ap[live1], f);
      else
        break;
      for (int i = 0; i <= pair; i++)
        if (rs[i] >= 1e-20)
          rs[i] = step(Y, f, indices, confidence, indptr[u + i], indptr[u + i + 1], x[i], r[i], p[i], Ap[i], rs[i]);
    }
  }
}

static void *read_exactly(FILE *in, size_t bytes) {
  void *data = malloc(bytes ? bytes : 1);
  if (!data || fread(data, 1, bytes, in) != bytes) {
    fprintf(stderr, "cg: short input\n");
    exit(1);
  }
  return data;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: cg INPUT OUTPUT REPEATS\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  if (!in) {
    perror(argv[1]);
    return 1;
  }
  int header[5];
  if (fread(header, sizeof(int), 5, in) != 5) return 1;
  int rows = header[0], cols = header[1], f = header[2], nnz = header[3], steps = header[4];
  int *indptr = read_exactly(in, sizeof(int) * (size_t)(rows + 1));
  int *indices = read_exactly(in, sizeof(int) * (size_t)nnz);
  float *confidence = read_exactly(in, sizeof(float) * (size_t)nnz);
  float *X0 = read_exactly(in, sizeof(float) * (size_t)rows * f);
  float *Y = read_exactly(in, sizeof(float) * (size_t)cols * f);
  float *YtY = read_exactly(in, sizeof(float) * (size_t)f * f);
  fclose(in);
  float *X = malloc(sizeof(float) * (size_t)rows * f);
  float *scratch = malloc(sizeof(float) * 6 * (size_t)f);
  double best = 1e30;
  for (int rep = 0; rep < atoi(argv[3]); rep++) {
    memcpy(X, X0, sizeof(float) * (size_t)rows * f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cg_rows(X, Y, f, indptr, indices, confidence, YtY, steps, 0, rows, scratch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (seconds < best) best = seconds;
  }
  FILE *out = fopen(argv[2], "wb");
  if (!out || fwrite(X, sizeof(float), (size_t)rows * f, out) != (size_t)rows * f) return 1;
  fclose(out);
  printf("%.6f\n", best);
  return 0;
}
