/*
 * dprep's optional native kernels: batched single-precision GEMM through the system's OpenBLAS,
 * on Float32Arrays that may be views of tfjs's wasm heap (no copies). tfjs's wasm backend runs
 * matrix products on XNNPACK with 128-bit SIMD and re-packs an operator for every small batched
 * product; OpenBLAS uses the CPU's widest vectors. Built by scripts/build-native.sh; loaded, when
 * present, by src/trainer/native.ts.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>
#include <math.h>
#include <cblas.h>

extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "dprep_native: N-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* A typed array argument of the given element type (its data adjusted for the view's offset), or a TypeError naming it. */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *typeName, void **data, size_t *length, const char *what) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != napi_ok || type != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "dprep_native: %s must be %s", what, typeName);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}
static int get_f32(napi_env env, napi_value v, float **data, size_t *length, const char *what) {
  return get_typed(env, v, napi_float32_array, "a Float32Array", (void **)data, length, what);
}
static int get_i32(napi_env env, napi_value v, const int32_t **data, size_t *length, const char *what) {
  return get_typed(env, v, napi_int32_array, "an Int32Array", (void **)data, length, what);
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "dprep_native: expected an integer");
    return 0;
  }
  return 1;
}

/*
 * sgemm(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, strideC[, bias])
 * For i < batch: C_i[M,N] = op(A_i) · op(B_i) (+ bias broadcast over rows), row-major, where
 * A_i starts at a[i·strideA] (M×K, or K×M when transA), B_i at b[i·strideB] (K×N, or N×K when
 * transB) and C_i at c[i·strideC]. A stride of 0 reuses the same matrix for every i.
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 12) {
    napi_throw_type_error(env, NULL, "dprep_native.sgemm: 12 or 13 arguments expected");
    return NULL;
  }
  float *a, *b, *c, *bias = NULL;
  size_t na, nb, nc, nbias = 0;
  if (!get_f32(env, argv[0], &a, &na, "a") || !get_f32(env, argv[1], &b, &nb, "b") || !get_f32(env, argv[2], &c, &nc, "c")) return NULL;
  int64_t batch, M, N, K, sA, sB, sC;
  bool tA, tB;
  if (!get_i64(env, argv[3], &batch) || !get_i64(env, argv[4], &M) || !get_i64(env, argv[5], &N) || !get_i64(env, argv[6], &K)) return NULL;
  CHECK(napi_get_value_bool(env, argv[7], &tA));
  CHECK(napi_get_value_bool(env, argv[8], &tB));
  if (!get_i64(env, argv[9], &sA) || !get_i64(env, argv[10], &sB) || !get_i64(env, argv[11], &sC)) return NULL;
  if (argc > 12) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[12], &t));
    if (t != napi_undefined && t != napi_null && !get_f32(env, argv[12], &bias, &nbias, "bias")) return NULL;
  }
  if (batch < 0 || M < 0 || N < 0 || K < 0 || sA < 0 || sB < 0 || sC < 0) {
    napi_throw_range_error(env, NULL, "dprep_native.sgemm: negative size or stride");
    return NULL;
  }
  if (batch == 0 || M == 0 || N == 0) return NULL;
  if ((uint64_t)((batch - 1) * sA + M * K) > na || (uint64_t)((batch - 1) * sB + K * N) > nb ||
      (uint64_t)((batch - 1) * sC + M * N) > nc || (bias && (uint64_t)N > nbias)) {
    napi_throw_range_error(env, NULL, "dprep_native.sgemm: a matrix runs past the end of its array");
    return NULL;
  }
  const int lda = tA ? (int)M : (int)K;
  const int ldb = tB ? (int)K : (int)N;
  for (int64_t i = 0; i < batch; i++) {
    float *ci = c + i * sC;
    if (bias)
      for (int64_t r = 0; r < M; r++) memcpy(ci + r * N, bias, (size_t)N * sizeof(float));
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                a + i * sA, lda, b + i * sB, ldb, bias ? 1.0f : 0.0f, ci, (int)N);
  }
  return NULL;
}

static int get_f64(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "dprep_native: expected a number");
    return 0;
  }
  return 1;
}

/* ---- A small parallel for over [0, n) in contiguous chunks, for element-wise loops whose result
 * does not depend on how they are split (so any thread count gives the same bits). */
#include <pthread.h>

/* Element-wise loops get an AVX2 clone, picked at load time on CPUs that have it (same IEEE
 * operations, no FMA contraction: the same bits as the baseline clone). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VEC_CLONES
#endif

static int g_threads = 1; /* set by setElementwiseThreads */
#define PAR_MIN 65536    /* below this, one thread */

typedef void (*range_fn)(void *ctx, size_t begin, size_t end);
struct par_task {
  range_fn fn;
  void *ctx;
  size_t begin, end;
};
static void *par_run(void *arg) {
  struct par_task *t = arg;
  t->fn(t->ctx, t->begin, t->end);
  return NULL;
}
/* Runs fn over [0, n) in contiguous chunks on up to g_threads threads; one thread below `min` items. */
static void parallel_for_min(size_t n, size_t min, range_fn fn, void *ctx) {
  int threads = g_threads;
  if (threads > 16) threads = 16;
  if ((size_t)threads > n) threads = (int)n;
  if (threads <= 1 || n < min) {
    fn(ctx, 0, n);
    return;
  }
  pthread_t ids[16];
  struct par_task tasks[16];
  int started[16] = {0};
  const size_t chunk = (n + threads - 1) / threads;
  for (int t = 0; t < threads; t++) {
    tasks[t].fn = fn;
    tasks[t].ctx = ctx;
    tasks[t].begin = t * chunk < n ? t * chunk : n;
    tasks[t].end = (t + 1) * chunk < n ? (t + 1) * chunk : n;
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, par_run, &tasks[t]) == 0;
  fn(ctx, tasks[0].begin, tasks[0].end);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(ids[t], NULL);
    else fn(ctx, tasks[t].begin, tasks[t].end); /* could not start a thread: do its part here */
  }
}

static void parallel_for(size_t n, range_fn fn, void *ctx) { parallel_for_min(n, PAR_MIN, fn, ctx); }

static napi_value out_of_memory(napi_env env) {
  napi_throw_error(env, NULL, "dprep_native: out of memory");
  return NULL;
}

struct adamw_ctx {
  float *p, *g, *m, *v;
  double b1, omb1, b2, omb2, eps, shrink, step, sqrtc2, scale;
};
VEC_CLONES static void adamw_range(void *arg, size_t begin, size_t end) {
  const struct adamw_ctx *c = arg;
  for (size_t i = begin; i < end; i++) {
    const double gi = c->scale == 1 ? (double)c->g[i] : (double)(float)((double)c->g[i] * c->scale);
    const double mi = c->b1 * (double)c->m[i] + c->omb1 * gi;
    c->m[i] = (float)mi;
    const double vi = c->b2 * (double)c->v[i] + c->omb2 * gi * gi;
    c->v[i] = (float)vi;
    c->p[i] = (float)((double)c->p[i] * c->shrink - (c->step * mi) / (sqrt(vi) / c->sqrtc2 + c->eps));
  }
}

struct scale_ctx {
  float *a;
  const float *b;
  double f;
};
VEC_CLONES static void scale_range(void *arg, size_t begin, size_t end) {
  const struct scale_ctx *c = arg;
  for (size_t i = begin; i < end; i++) c->a[i] = (float)((double)c->a[i] * c->f);
}
VEC_CLONES static void add_range(void *arg, size_t begin, size_t end) {
  const struct scale_ctx *c = arg;
  for (size_t i = begin; i < end; i++) c->a[i] = c->a[i] + c->b[i];
}

/*
 * adamw(p, g, m, v, b1, oneMinusB1, b2, oneMinusB2, eps, shrink, stepSize, sqrtC2[, gradScale]):
 * one AdamW update in place from g·gradScale (rounded to float32, as clipping in place would), operation for operation what src/trainer/optimizer.ts computes in JavaScript
 * (doubles, float32 stores, the new moments used unrounded), so both give the same bits.
 */
static napi_value adamw(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 12) {
    napi_throw_type_error(env, NULL, "dprep_native.adamw: 12 or 13 arguments expected");
    return NULL;
  }
  float *p, *g, *m, *v;
  size_t np, ng, nm, nv;
  if (!get_f32(env, argv[0], &p, &np, "p") || !get_f32(env, argv[1], &g, &ng, "g") || !get_f32(env, argv[2], &m, &nm, "m") ||
      !get_f32(env, argv[3], &v, &nv, "v"))
    return NULL;
  double k[8];
  for (int i = 0; i < 8; i++)
    if (!get_f64(env, argv[4 + i], &k[i])) return NULL;
  if (ng != np || nm != np || nv != np) {
    napi_throw_range_error(env, NULL, "dprep_native.adamw: p, g, m and v differ in length");
    return NULL;
  }
  double scale = 1;
  if (argc > 12 && !get_f64(env, argv[12], &scale)) return NULL;
  struct adamw_ctx c = {p, g, m, v, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], scale};
  parallel_for(np, adamw_range, &c);
  return NULL;
}

/* sumSquares(g, start): start + Σ over chunks of 65536 elements (in order) of the chunk's Σ g[i]²
 * (8 interleaved accumulators, combined pairwise), all in double: the order of
 * src/trainer/optimizer.ts's clipFactor. Chunks run in parallel. */
#define SUM_CHUNK 65536
struct sumsq_ctx {
  const float *g;
  size_t n;
  double *parts;
};
VEC_CLONES static void sumsq_range(void *arg, size_t begin, size_t end) {
  const struct sumsq_ctx *c = arg;
  for (size_t k = begin; k < end; k++) {
    const size_t from = k * SUM_CHUNK, to = from + SUM_CHUNK < c->n ? from + SUM_CHUNK : c->n;
    /* element i goes to accumulator (i − from) mod 8, each summed in order: independent chains */
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = from;
    for (; i + 8 <= to; i += 8)
      for (int j = 0; j < 8; j++) a[j] += (double)c->g[i + j] * (double)c->g[i + j];
    for (int j = 0; i < to; i++, j++) a[j] += (double)c->g[i] * (double)c->g[i];
    c->parts[k] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  }
}
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *g;
  size_t n;
  double sq;
  if (argc < 2 || !get_f32(env, argv[0], &g, &n, "g") || !get_f64(env, argv[1], &sq)) return NULL;
  const size_t chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
  double *parts = malloc(sizeof(double) * (chunks ? chunks : 1));
  if (!parts) return out_of_memory(env);
  struct sumsq_ctx c = {g, n, parts};
  parallel_for_min(chunks, 2, sumsq_range, &c); /* the items are whole chunks */
  for (size_t k = 0; k < chunks; k++) sq += parts[k];
  free(parts);
  CHECK(napi_create_double(env, sq, &out));
  return out;
}

/* scale(g, factor): g[i] = g[i]·factor, in double, stored as float32. */
static napi_value scale(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *g;
  size_t n;
  double f;
  if (argc < 2 || !get_f32(env, argv[0], &g, &n, "g") || !get_f64(env, argv[1], &f)) return NULL;
  struct scale_ctx c = {g, NULL, f};
  parallel_for(n, scale_range, &c);
  return NULL;
}

/* addInto(a, b): a[i] += b[i] (float32: the same as JavaScript's a[i] += b[i] on Float32Arrays). */
static napi_value add_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *a, *b;
  size_t na, nb;
  if (argc < 2 || !get_f32(env, argv[0], &a, &na, "a") || !get_f32(env, argv[1], &b, &nb, "b")) return NULL;
  if (na != nb) {
    napi_throw_range_error(env, NULL, "dprep_native.addInto: lengths differ");
    return NULL;
  }
  struct scale_ctx c = {a, b, 0};
  parallel_for(na, add_range, &c);
  return NULL;
}

/* ---- Fused BERT element-wise kernels (src/trainer/fused.ts), compiled with fast-math so the loops
 * vectorize (4-8× here); nothing above this line (AdamW must match JavaScript bit for bit) is. Float32 approximations of erf and
 * exp that the compiler can vectorize: erf by a rational fit on [-4, 4] (|error| < 5e-7; erf is ±1
 * in float32 beyond), exp by range reduction and a degree-6 polynomial (about 1 ulp). */

#pragma GCC push_options
#pragma GCC optimize("fast-math")

static inline float fast_erf(float x) {
  x = fminf(fmaxf(x, -4.f), 4.f);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

static inline float fast_exp(float x) {
  x = fminf(fmaxf(x, -87.3f), 88.3f);
  const float t = x * 1.44269504088896341f;
  const float n = (float)(int32_t)(t + copysignf(0.5f, t)); /* round to nearest: vectorizes, floorf does not */
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { int32_t i; float f; } scale = { .i = ((int32_t)n + 127) << 23 }; /* 2^n; a union vectorizes, memcpy did not */
  return p * scale.f;
}

/* The loops of the kernels below (baseline SSE4.2 code: an AVX2 clone would not inline fast_exp and
 * fast_erf, whose target differs, and ran 10× slower). */
static void dprep_gelu_forward(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752f));
}

static void dprep_gelu_backward(const float *dy, const float *x, float *dx, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    dx[i] = dy[i] * (0.5f * (1.0f + fast_erf(v * 0.70710678118654752f)) + v * 0.39894228040143268f * fast_exp(-0.5f * v * v));
  }
}

/* Row statistics in double: writes x̂ of the row, returns 1/sqrt(var + eps). */
static inline double normalize_row(const float *x, int64_t H, double eps, double *xhat) {
  double mean = 0, var = 0;
  for (int64_t j = 0; j < H; j++) mean += x[j];
  mean /= (double)H;
  for (int64_t j = 0; j < H; j++) var += (x[j] - mean) * (x[j] - mean);
  const double rstd = 1.0 / sqrt(var / (double)H + eps);
  for (int64_t j = 0; j < H; j++) xhat[j] = (x[j] - mean) * rstd;
  return rstd;
}

static void dprep_layer_norm_forward(const float *x, const float *g, const float *b, float *y, size_t n, int64_t H, double eps, double *xhat) {
  for (size_t r = 0; r < n; r += H) {
    normalize_row(x + r, H, eps, xhat);
    for (int64_t j = 0; j < H; j++) y[r + j] = (float)(xhat[j] * g[j] + b[j]);
  }
}

/* dx may be NULL (not wanted); dg and db accumulate. */
static void dprep_layer_norm_backward(const float *dy, const float *x, const float *g, float *dx, size_t n, int64_t H, double eps, double *xhat, double *dg, double *db) {
  for (size_t r = 0; r < n; r += H) {
    const double rstd = normalize_row(x + r, H, eps, xhat);
    double m1 = 0, m2 = 0;
    for (int64_t j = 0; j < H; j++) {
      const double dxh = (double)dy[r + j] * g[j];
      m1 += dxh;
      m2 += dxh * xhat[j];
      dg[j] += (double)dy[r + j] * xhat[j];
      db[j] += dy[r + j];
    }
    if (!dx) continue;
    m1 /= (double)H;
    m2 /= (double)H;
    for (int64_t j = 0; j < H; j++) dx[r + j] = (float)(rstd * ((double)dy[r + j] * g[j] - m1 - xhat[j] * m2));
  }
}

/* Rows [first, last) of the scores; branch-free loops (exp computed for every key, kept where the
 * mask is on) so they vectorize. */
static void dprep_masked_softmax_forward(const float *s, const float *mask, float *p, int64_t first, int64_t last, int64_t L, int64_t perSeq, float scale) {
  for (int64_t row = first; row < last; row++) {
    const float *m = mask + (row / perSeq) * L;
    const float *sr = s + row * L;
    float *pr = p + row * L;
    float max = -FLT_MAX;
    for (int64_t j = 0; j < L; j++) {
      const float v = m[j] != 0.f ? sr[j] * scale : -FLT_MAX;
      max = v > max ? v : max;
    }
    int keys = max > -FLT_MAX;
    for (int64_t j = 0; j < L && !keys; j++) keys = m[j] != 0.f;
    if (!keys) {
      for (int64_t j = 0; j < L; j++) pr[j] = 1.0f / (float)L;
      continue;
    }
    for (int64_t j = 0; j < L; j++) pr[j] = fast_exp(sr[j] * scale - max);
    for (int64_t j = 0; j < L; j++) pr[j] = m[j] != 0.f ? pr[j] : 0.f;
    double sum = 0;
    for (int64_t j = 0; j < L; j++) sum += pr[j];
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < L; j++) pr[j] *= inv;
  }
}

/* Row-parallel drivers of the forward kernels (each row computed alone: the same bits on any thread count). */
struct rows_ctx {
  const float *x, *g, *b, *mask;
  float *y;
  int64_t H, perSeq;
  double eps;
  float scale;
};
static void softmax_range(void *arg, size_t begin, size_t end) {
  const struct rows_ctx *c = arg;
  dprep_masked_softmax_forward(c->x, c->mask, c->y, (int64_t)begin, (int64_t)end, c->H, c->perSeq, c->scale);
}
static void layer_norm_range(void *arg, size_t begin, size_t end) {
  const struct rows_ctx *c = arg;
  double *xhat = malloc(sizeof(double) * c->H);
  if (!xhat) abort();
  dprep_layer_norm_forward(c->x + begin * c->H, c->g, c->b, c->y + begin * c->H, (end - begin) * c->H, c->H, c->eps, xhat);
  free(xhat);
}
static void gelu_range(void *arg, size_t begin, size_t end) {
  const struct rows_ctx *c = arg;
  dprep_gelu_forward(c->x + begin, c->y + begin, end - begin);
}

static void dprep_masked_softmax_backward(const float *dp, const float *p, float *ds, size_t n, int64_t L, float scale) {
  for (size_t r = 0; r < n; r += L) {
    double dot = 0;
    for (int64_t j = 0; j < L; j++) dot += (double)dp[r + j] * p[r + j];
    const float fdot = (float)dot;
    for (int64_t j = 0; j < L; j++) ds[r + j] = scale * p[r + j] * (dp[r + j] - fdot);
  }
}

static void dprep_dropout(const float *x, float *y, size_t n, uint32_t seed, uint64_t threshold, float keep) {
  for (size_t i = 0; i < n; i++) {
    const uint32_t a = seed + (uint32_t)(i + 1) * 0x6d2b79f5u;
    uint32_t t = (a ^ (a >> 15)) * (1u | a);
    t = (t + (t ^ (t >> 7)) * (61u | t)) ^ t;
    y[i] = x[i] * ((uint64_t)(t ^ (t >> 14)) < threshold ? 0.f : keep);
  }
}

/* Arguments: Float32Arrays first (count nf), then numbers (count nd). */
static int get_args(napi_env env, napi_callback_info info, int nf, float **f, size_t *len, int nd, double *d) {
  napi_value argv[12];
  size_t argc = 12;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (int)argc < nf + nd) {
    napi_throw_type_error(env, NULL, "dprep_native: too few arguments");
    return 0;
  }
  for (int i = 0; i < nf; i++)
    if (!get_f32(env, argv[i], &f[i], &len[i], "argument")) return 0;
  for (int i = 0; i < nd; i++)
    if (!get_f64(env, argv[nf + i], &d[i])) return 0;
  return 1;
}

#define SAME_LENGTH(a, b)                                                          \
  if ((a) != (b)) {                                                                \
    napi_throw_range_error(env, NULL, "dprep_native: arrays differ in length");   \
    return NULL;                                                                   \
  }

/* geluForward(x, y): y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
static napi_value gelu_forward(napi_env env, napi_callback_info info) {
  float *f[2];
  size_t n[2];
  if (!get_args(env, info, 2, f, n, 0, NULL)) return NULL;
  SAME_LENGTH(n[0], n[1]);
  struct rows_ctx c = { .x = f[0], .y = f[1] };
  parallel_for(n[0], gelu_range, &c);
  return NULL;
}

/* geluBackward(dy, x, dx): dx = dy·(Φ(x) + x·φ(x)). */
static napi_value gelu_backward(napi_env env, napi_callback_info info) {
  float *f[3];
  size_t n[3];
  if (!get_args(env, info, 3, f, n, 0, NULL)) return NULL;
  SAME_LENGTH(n[0], n[1]);
  SAME_LENGTH(n[0], n[2]);
  dprep_gelu_backward(f[0], f[1], f[2], n[0]);
  return NULL;
}

#define MAX_HIDDEN 65536
#define CHECK_ROWS(n, H)                                                                    \
  if ((H) <= 0 || (H) > MAX_HIDDEN || (n) % (size_t)(H) != 0) {                             \
    napi_throw_range_error(env, NULL, "dprep_native: row length must divide the array");   \
    return NULL;                                                                            \
  }

/* layerNormForward(x, gamma, beta, y, H, eps) over rows of H. */
static napi_value layer_norm_forward(napi_env env, napi_callback_info info) {
  float *f[4];
  size_t n[4];
  double d[2];
  if (!get_args(env, info, 4, f, n, 2, d)) return NULL;
  const int64_t H = (int64_t)d[0];
  CHECK_ROWS(n[0], H);
  SAME_LENGTH(n[0], n[3]);
  SAME_LENGTH(n[1], (size_t)H);
  SAME_LENGTH(n[2], (size_t)H);
  /* x̂ buffers per thread and call (replicas call from several threads). */
  struct rows_ctx c = { .x = f[0], .g = f[1], .b = f[2], .y = f[3], .H = H, .eps = d[1] };
  parallel_for_min(n[0] / (size_t)H, 1 + PAR_MIN / (size_t)H, layer_norm_range, &c);
  return NULL;
}

/* layerNormBackward(dy, x, gamma, dx, dgamma, dbeta, H, eps): the three gradients in one pass; an
 * empty output array is skipped (tfjs asks for each input's gradient separately). */
static napi_value layer_norm_backward(napi_env env, napi_callback_info info) {
  float *f[6];
  size_t n[6];
  double d[2];
  if (!get_args(env, info, 6, f, n, 2, d)) return NULL;
  const int64_t H = (int64_t)d[0];
  CHECK_ROWS(n[1], H);
  SAME_LENGTH(n[0], n[1]);
  SAME_LENGTH(n[2], (size_t)H);
  if (n[3] != 0) SAME_LENGTH(n[0], n[3]);
  if (n[4] != 0) SAME_LENGTH(n[4], (size_t)H);
  if (n[5] != 0) SAME_LENGTH(n[5], (size_t)H);
  const int want_dx = n[3] != 0;
  const float *dy = f[0], *x = f[1], *g = f[2];
  float *dx = f[3];
  double *xhat = calloc(3 * (size_t)H, sizeof(double)); /* per call: replicas call from several threads */
  if (!xhat) return out_of_memory(env);
  double *dg = xhat + H, *db = xhat + 2 * H;
  dprep_layer_norm_backward(dy, x, g, want_dx ? dx : NULL, n[1], H, d[1], xhat, dg, db);
  for (int64_t j = 0; j < H; j++) {
    if (n[4] != 0) f[4][j] = (float)dg[j];
    if (n[5] != 0) f[5][j] = (float)db[j];
  }
  free(xhat);
  return NULL;
}

/* maskedSoftmaxForward(scores, mask, probs, L, rowsPerSequence, scale): softmax(scores·scale) over
 * rows of L; key j of sequence b is excluded where mask[b·L + j] == 0 (a row with no key: uniform). */
static napi_value masked_softmax_forward(napi_env env, napi_callback_info info) {
  float *f[3];
  size_t n[3];
  double d[3];
  if (!get_args(env, info, 3, f, n, 3, d)) return NULL;
  const int64_t L = (int64_t)d[0], perSeq = (int64_t)d[1];
  const float scale = (float)d[2];
  CHECK_ROWS(n[0], L);
  SAME_LENGTH(n[0], n[2]);
  if (perSeq <= 0 || n[1] * (size_t)perSeq != n[0]) {
    napi_throw_range_error(env, NULL, "dprep_native.maskedSoftmaxForward: mask rows × rowsPerSequence must cover the scores");
    return NULL;
  }
  struct rows_ctx c = { .x = f[0], .mask = f[1], .y = f[2], .H = L, .perSeq = perSeq, .scale = scale };
  parallel_for_min(n[0] / (size_t)L, 1 + PAR_MIN / (size_t)L, softmax_range, &c);
  return NULL;
}

/* maskedSoftmaxBackward(dp, probs, ds, L, scale): ds = scale·p·(dp − Σ dp·p) per row. */
static napi_value masked_softmax_backward(napi_env env, napi_callback_info info) {
  float *f[3];
  size_t n[3];
  double d[2];
  if (!get_args(env, info, 3, f, n, 2, d)) return NULL;
  const int64_t L = (int64_t)d[0];
  const float scale = (float)d[1];
  CHECK_ROWS(n[1], L);
  SAME_LENGTH(n[0], n[1]);
  SAME_LENGTH(n[0], n[2]);
  dprep_masked_softmax_backward(f[0], f[1], f[2], n[1], L, scale);
  return NULL;
}

/* dropout(x, y, rate, seed): y = x·keep where keep is 0 with probability rate, else 1/(1 − rate).
 * Element i draws the (i+1)-th mulberry32 number of `seed`, exactly as src/util/random.ts. */
static napi_value dropout(napi_env env, napi_callback_info info) {
  float *f[2];
  size_t n[2];
  double d[2];
  if (!get_args(env, info, 2, f, n, 2, d)) return NULL;
  SAME_LENGTH(n[0], n[1]);
  const double rate = d[0];
  const uint32_t seed = (uint32_t)(int64_t)d[1];
  const float keep = (float)(1.0 / (1.0 - rate));
  /* u = T / 2^32 < rate  ⟺  T < rate · 2^32 (exact in double)  ⟺  T < ceil(rate · 2^32) for integer T */
  const uint64_t threshold = (uint64_t)ceil(rate * 4294967296.0);
  dprep_dropout(f[0], f[1], n[0], seed, threshold, keep);
  return NULL;
}

#pragma GCC pop_options

/*
 * sgemmHeads(a, b, c, [batch, heads, M, N, K, lda, ldb, ldc, aBatch, aHead, bBatch, bHead, cBatch, cHead], transA, transB)
 * For each (i, h): C_ih = op(A_ih)·op(B_ih), row-major with leading dimensions lda/ldb/ldc, where
 * X_ih starts at x[i·xBatch + h·xHead]. Multi-head attention reads each head's columns of a
 * [tokens, hidden] matrix in place this way (leading dimension = hidden), with no transposes.
 */
static napi_value sgemm_heads(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "dprep_native.sgemmHeads: 6 arguments expected");
    return NULL;
  }
  float *a, *b, *c;
  size_t na, nb, nc;
  if (!get_f32(env, argv[0], &a, &na, "a") || !get_f32(env, argv[1], &b, &nb, "b") || !get_f32(env, argv[2], &c, &nc, "c")) return NULL;
  int64_t d[14];
  for (uint32_t i = 0; i < 14; i++) {
    napi_value v;
    CHECK(napi_get_element(env, argv[3], i, &v));
    if (!get_i64(env, v, &d[i])) return NULL;
    if (d[i] < 0) {
      napi_throw_range_error(env, NULL, "dprep_native.sgemmHeads: negative size or stride");
      return NULL;
    }
  }
  bool tA, tB;
  CHECK(napi_get_value_bool(env, argv[4], &tA));
  CHECK(napi_get_value_bool(env, argv[5], &tB));
  const int64_t batch = d[0], heads = d[1], M = d[2], N = d[3], K = d[4], lda = d[5], ldb = d[6], ldc = d[7];
  if (batch == 0 || heads == 0 || M == 0 || N == 0) return NULL;
  /* last element touched by each operand, for the bounds check */
  const int64_t aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  const uint64_t aEnd = (uint64_t)((batch - 1) * d[8] + (heads - 1) * d[9] + (aRows - 1) * lda + aCols);
  const uint64_t bEnd = (uint64_t)((batch - 1) * d[10] + (heads - 1) * d[11] + (bRows - 1) * ldb + bCols);
  const uint64_t cEnd = (uint64_t)((batch - 1) * d[12] + (heads - 1) * d[13] + (M - 1) * ldc + N);
  if (lda < aCols || ldb < bCols || ldc < N || aEnd > na || bEnd > nb || cEnd > nc) {
    napi_throw_range_error(env, NULL, "dprep_native.sgemmHeads: a matrix runs past the end of its array");
    return NULL;
  }
  for (int64_t i = 0; i < batch; i++)
    for (int64_t h = 0; h < heads; h++)
      cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                  a + i * d[8] + h * d[9], (int)lda, b + i * d[10] + h * d[11], (int)ldb, 0.0f, c + i * d[12] + h * d[13], (int)ldc);
  return NULL;
}

/*
 * scatterAddRows(x, ids, out, rowSize): out = 0, then row i of x (rowSize floats) is added into row
 * ids[i] of out; ids outside the table are dropped (TensorFlow's UnsortedSegmentSum). Rows are added
 * in order, so the bits match the JavaScript kernel in src/trainer/kernels.ts.
 */
static napi_value scatter_add_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  size_t nx, nout;
  int64_t row;
  if (argc < 4 || !get_f32(env, argv[0], &x, &nx, "x") || !get_f32(env, argv[2], &out, &nout, "out") || !get_i64(env, argv[3], &row)) return NULL;
  size_t nids;
  const int32_t *ids;
  if (!get_i32(env, argv[1], &ids, &nids, "ids")) return NULL;
  if (row <= 0 || nout % (size_t)row != 0 || nids * (size_t)row > nx) {
    napi_throw_range_error(env, NULL, "dprep_native.scatterAddRows: sizes do not fit");
    return NULL;
  }
  const int64_t segments = (int64_t)(nout / (size_t)row);
  memset(out, 0, nout * sizeof(float));
  for (size_t i = 0; i < nids; i++) {
    const int64_t seg = ids[i];
    if (seg < 0 || seg >= segments) continue;
    float *dst = out + seg * row;
    const float *src = x + i * row;
    for (int64_t j = 0; j < row; j++) dst[j] += src[j];
  }
  return NULL;
}

/* setElementwiseThreads(n): threads of the AdamW / scale / add loops (results do not depend on it). */
static napi_value set_elementwise_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc < 1 || !get_i64(env, argv[0], &n)) return NULL;
  if (n >= 1) g_threads = n > 16 ? 16 : (int)n;
  CHECK(napi_create_int32(env, g_threads, &out));
  return out;
}

/* setThreads(n): OpenBLAS threads per call (process-wide). Returns the count now in effect. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc < 1 || !get_i64(env, argv[0], &n)) return NULL;
  if (n >= 1) openblas_set_num_threads((int)n);
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

/*
 * gatherAddRows(out, rowSize, table1, ids1[, table2, ids2[, table3, ids3]]): row i of out =
 * table1[ids1[i]] + table2[ids2[i]] + table3[ids3[i]], added left to right in float32 (tfjs's
 * add(add(words, positions), types)): the embeddings of the native forward. An id outside its
 * table is a RangeError naming the table, the row and the id.
 */
static napi_value gather_add_rows(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *out;
  size_t nout;
  int64_t H;
  if (argc < 4 || argc % 2 != 0 || !get_f32(env, argv[0], &out, &nout, "out") || !get_i64(env, argv[1], &H)) {
    if (argc < 4 || argc % 2 != 0) napi_throw_type_error(env, NULL, "dprep_native.gatherAddRows: out, rowSize and 1 to 3 (table, ids) pairs expected");
    return NULL;
  }
  if (H <= 0 || nout % (size_t)H != 0) {
    napi_throw_range_error(env, NULL, "dprep_native.gatherAddRows: out is not whole rows");
    return NULL;
  }
  const size_t rows = nout / (size_t)H;
  const int pairs = (int)(argc - 2) / 2;
  float *tables[3];
  const int32_t *ids[3];
  size_t tableRows[3];
  for (int k = 0; k < pairs; k++) {
    size_t nt, nids;
    if (!get_f32(env, argv[2 + 2 * k], &tables[k], &nt, "table") || !get_i32(env, argv[3 + 2 * k], &ids[k], &nids, "ids")) return NULL;
    if (nids != rows || nt % (size_t)H != 0) {
      napi_throw_range_error(env, NULL, "dprep_native.gatherAddRows: ids must give one row of out each, tables whole rows");
      return NULL;
    }
    tableRows[k] = nt / (size_t)H;
    for (size_t i = 0; i < rows; i++)
      if (ids[k][i] < 0 || (size_t)ids[k][i] >= tableRows[k]) {
        char msg[160];
        snprintf(msg, sizeof msg, "dprep_native.gatherAddRows: id %d of row %zu is outside table %d (%zu rows)", ids[k][i], i, k + 1, tableRows[k]);
        napi_throw_range_error(env, NULL, msg);
        return NULL;
      }
  }
  for (size_t i = 0; i < rows; i++) {
    float *o = out + i * (size_t)H;
    const float *a = tables[0] + (size_t)ids[0][i] * (size_t)H;
    for (int64_t j = 0; j < H; j++) o[j] = a[j];
    for (int k = 1; k < pairs; k++) {
      const float *b = tables[k] + (size_t)ids[k][i] * (size_t)H;
      for (int64_t j = 0; j < H; j++) o[j] = o[j] + b[j];
    }
  }
  return NULL;
}

static napi_value blas_config(napi_env env, napi_callback_info info) {
  (void)info;
  extern char *openblas_get_config(void);
  napi_value out;
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &out));
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scatterAddRows", NULL, scatter_add_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherAddRows", NULL, gather_add_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sgemmHeads", NULL, sgemm_heads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scale", NULL, scale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addInto", NULL, add_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluForward", NULL, gelu_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluBackward", NULL, gelu_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormForward", NULL, layer_norm_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormBackward", NULL, layer_norm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maskedSoftmaxForward", NULL, masked_softmax_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maskedSoftmaxBackward", NULL, masked_softmax_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropout", NULL, dropout, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setElementwiseThreads", NULL, set_elementwise_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasConfig", NULL, blas_config, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
