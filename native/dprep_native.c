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
#include <string.h>
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

static int get_f32(napi_env env, napi_value v, float **data, size_t *length, const char *what) {
  napi_typedarray_type type;
  void *raw;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "dprep_native: %s must be a Float32Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *data = (float *)raw;
  return 1;
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

/*
 * adamw(p, g, m, v, b1, oneMinusB1, b2, oneMinusB2, eps, shrink, stepSize, sqrtC2): one AdamW
 * update in place, operation for operation what src/trainer/optimizer.ts computes in JavaScript
 * (doubles, float32 stores, the new moments used unrounded), so both give the same bits.
 */
static napi_value adamw(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 12) {
    napi_throw_type_error(env, NULL, "dprep_native.adamw: 12 arguments expected");
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
  const double b1 = k[0], omb1 = k[1], b2 = k[2], omb2 = k[3], eps = k[4], shrink = k[5], step = k[6], sqrtc2 = k[7];
  for (size_t i = 0; i < np; i++) {
    const double gi = g[i];
    const double mi = b1 * (double)m[i] + omb1 * gi;
    m[i] = (float)mi;
    const double vi = b2 * (double)v[i] + omb2 * gi * gi;
    v[i] = (float)vi;
    p[i] = (float)((double)p[i] * shrink - (step * mi) / (sqrt(vi) / sqrtc2 + eps));
  }
  return NULL;
}

/* sumSquares(g, start): start + Σ g[i]² in order, in double (as the JavaScript loop). */
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *g;
  size_t n;
  double sq;
  if (argc < 2 || !get_f32(env, argv[0], &g, &n, "g") || !get_f64(env, argv[1], &sq)) return NULL;
  for (size_t i = 0; i < n; i++) sq += (double)g[i] * (double)g[i];
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
  for (size_t i = 0; i < n; i++) g[i] = (float)((double)g[i] * f);
  return NULL;
}

/* addInto(a, b): a[i] += b[i] (float32, as JavaScript's a[i] += b[i] on Float32Arrays). */
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
  for (size_t i = 0; i < na; i++) a[i] = (float)((double)a[i] + (double)b[i]);
  return NULL;
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
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scale", NULL, scale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addInto", NULL, add_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasConfig", NULL, blas_config, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
