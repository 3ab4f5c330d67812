/*
 * The conjugate-gradient user update of src/kernels/assembly/kernels.ts (cgRows), in C, for
 * the benchmark's native ceiling: same data, same float32 arithmetic, same loop structure.
 * Built by bench/run.js with `gcc -O3 -march=native`; the loops are written with eight
 * independent sums so that gcc vectorises them without -ffast-math.
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

/* y += alpha x then y += beta z, in one pass (cgRows' axpyPair) */
static void axpy_pair(float alpha, const float *x, float beta, const float *z, float *y, int f) {
  for (int k = 0; k < f; k++) y[k] = y[k] + alpha * x[k] + beta * z[k];
}

/* the observed rows' products into out, two rows at a time as cgRows' addObservedProducts */
static void observed(const float *Y, int f, const int *indices, const float *confidence, int from, int to,
                     const float *v, float *out, int residual) {
  int n = from;
  for (; n + 1 < to; n += 2) {
    float c1 = confidence[n], c2 = confidence[n + 1];
    const float *y1 = Y + (size_t)indices[n] * f;
    const float *y2 = Y + (size_t)indices[n + 1] * f;
    float d1 = dot(y1, v, f), d2 = dot(y2, v, f);
    float w1 = residual ? c1 - (c1 - 1) * d1 : (c1 - 1) * d1;
    float w2 = residual ? c2 - (c2 - 1) * d2 : (c2 - 1) * d2;
    axpy_pair(w1, y1, w2, y2, out, f);
  }
  if (n < to) {
    float c = confidence[n];
    const float *y = Y + (size_t)indices[n] * f;
    float d = dot(y, v, f);
    axpy(residual ? c - (c - 1) * d : (c - 1) * d, y, out, f);
  }
}

static void symmetric_product(const float *M, const float *p, float *Ap, int f) {
  memset(Ap, 0, sizeof(float) * f);
  for (int k = 0; k < f; k++) axpy(p[k], M + (size_t)k * f, Ap, f);
}

static void cg_rows(float *X, const float *Y, int f, const int *indptr, const int *indices, const float *confidence,
                    const float *YtY, int steps, int start, int end, float *r, float *p, float *Ap) {
  for (int u = start; u < end; u++) {
    float *x = X + (size_t)u * f;
    symmetric_product(YtY, x, r, f);
    for (int k = 0; k < f; k++) r[k] = -r[k];
    observed(Y, f, indices, confidence, indptr[u], indptr[u + 1], x, r, 1);
    memcpy(p, r, sizeof(float) * f);
    double rs_old = dot(r, r, f);
    if (rs_old < 1e-20) continue;
    for (int it = 0; it < steps; it++) {
      symmetric_product(YtY, p, Ap, f);
      observed(Y, f, indices, confidence, indptr[u], indptr[u + 1], p, Ap, 0);
      double pAp = dot(p, Ap, f);
      if (!(pAp > 0)) break;
      float alpha = (float)(rs_old / pAp);
      axpy(alpha, p, x, f);
      axpy(-alpha, Ap, r, f);
      double rs_new = dot(r, r, f);
      if (rs_new < 1e-20) break;
      float beta = (float)(rs_new / rs_old);
      for (int k = 0; k < f; k++) p[k] = r[k] + beta * p[k];
      rs_old = rs_new;
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
  float *scratch = malloc(sizeof(float) * 3 * (size_t)f);
  double best = 1e30;
  for (int rep = 0; rep < atoi(argv[3]); rep++) {
    memcpy(X, X0, sizeof(float) * (size_t)rows * f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cg_rows(X, Y, f, indptr, indices, confidence, YtY, steps, 0, rows, scratch, scratch + f, scratch + 2 * f);
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
