#!/usr/bin/python3
"""Peer for bench/dense-shards.sh: Debian python3-faiss on the same embeddings shards.

  dense-shards-peer.py exact DIR K THREADS                        IndexFlatIP over all shards at once (np arrays)
  dense-shards-peer.py ivfpq DIR K THREADS NLIST NPROBE PQM TRAIN  same factory string, IP metric, trained on TRAIN
                                                                  seeded sample rows, shards added one at a time
Each prints one JSON line; recall is against DIR/exact-ids-faiss.i32 (dprep's exact shard-by-shard result).
"""
import json, os, sys, time
import numpy as np
import faiss

mode, d, k, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
faiss.omp_set_num_threads(threads)
m = json.load(open(os.path.join(d, 'manifest.json')))
dim = m['dim']
xq = np.fromfile(os.path.join(d, 'queries.f32'), dtype='<f4').reshape(-1, dim)
shard = lambda s: np.fromfile(os.path.join(d, s['file']), dtype='<f4').reshape(-1, dim)
out = {'side': 'python faiss ' + faiss.__version__, 'step': mode, 'rows': m['count'], 'nq': xq.shape[0], 'k': k, 'threads': threads}

def recall(I):
    ref = np.fromfile(os.path.join(d, 'exact-ids-faiss.i32'), dtype='<i4').reshape(-1, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(I, ref)]))

t = time.perf_counter()
if mode == 'exact':
    xb = np.concatenate([shard(s) for s in m['shards']])
    index = faiss.IndexFlatIP(dim); index.add(xb)
    out['loadSeconds'] = time.perf_counter() - t
    t = time.perf_counter(); D, I = index.search(xq, k); out['seconds'] = time.perf_counter() - t
else:
    nlist, nprobe, pqm, train = (int(x) for x in sys.argv[5:9])
    factory = f'IVF{nlist},PQ{pqm}x8np'
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    rows = np.sort(np.random.default_rng(13).choice(m['count'], train, replace=False))
    sample, off = [], 0
    for s in m['shards']:
        sel = rows[(rows >= off) & (rows < off + s['rows'])] - off
        if len(sel): sample.append(shard(s)[sel])
        off += s['rows']
    index.train(np.concatenate(sample))
    for s in m['shards']: index.add(shard(s))
    out.update(factory=factory, nprobe=nprobe, trainRows=train, buildSeconds=time.perf_counter() - t)
    faiss.ParameterSpace().set_index_parameter(index, 'nprobe', nprobe)
    t = time.perf_counter(); D, I = index.search(xq, k); out['seconds'] = time.perf_counter() - t
out['qps'] = out['nq'] / out['seconds']
out['recall'] = recall(I)
print(json.dumps(out))
