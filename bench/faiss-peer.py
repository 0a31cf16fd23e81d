"""Peer for bench/faiss-search.ts: Python faiss IndexFlatIP on the same vectors and threads."""
import json, sys, time
import numpy as np
import faiss

base, queries, dim, k, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
faiss.omp_set_num_threads(threads)
xb = np.fromfile(base, dtype='<f4').reshape(-1, dim)
xq = np.fromfile(queries, dtype='<f4').reshape(-1, dim)
t = time.perf_counter(); index = faiss.IndexFlatIP(dim); index.add(xb); add_s = time.perf_counter() - t
t = time.perf_counter(); D, I = index.search(xq, k); search_s = time.perf_counter() - t
ids_file = queries + '.python-ids.i32'
I.astype('<i4').tofile(ids_file)
print(json.dumps({'side': 'python faiss ' + faiss.__version__, 'n': xb.shape[0], 'threads': threads, 'add_s': add_s, 'search_s': search_s, 'total_s': add_s + search_s, 'ids_file': ids_file}))
