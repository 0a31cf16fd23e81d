#!/usr/bin/python3
"""C/C++ BM25 peers for bench/bm25-run.sh (Debian: python3-xapian, Python's sqlite3 with FTS5).

  bm25-peers.py xapian build CORPUS DBDIR         index with BM25-ready stats, no stemming
  bm25-peers.py xapian query DBDIR QUERIES K      BM25Weight(k1=1.2, k2=0, k3=1, b=0.75), OR query
  bm25-peers.py fts5 build CORPUS DBFILE          FTS5 unicode61 tokenizer (bm25() has k1 1.2, b 0.75)
  bm25-peers.py fts5 query DBFILE QUERIES K [MAX] ORDER BY bm25() LIMIT K, OR query (first MAX queries)
Each prints one JSON line with its timing.
"""
import json, os, sys, time

def queries(path):
    with open(path, encoding='utf8') as f:
        return [line.rstrip('\n').split('\t', 1)[1] for line in f if line.strip()]

def main():
    engine, action = sys.argv[1], sys.argv[2]
    t = time.perf_counter()
    out = {'engine': engine, 'threads': 1}
    if engine == 'xapian':
        import xapian
        out['version'] = xapian.version_string()
        if action == 'build':
            # Xapian reads XAPIAN_FLUSH_THRESHOLD itself (documents buffered per flush; default 10000).
            out['flushThreshold'] = os.environ.get('XAPIAN_FLUSH_THRESHOLD', 'default')
            db = xapian.WritableDatabase(sys.argv[4], xapian.DB_CREATE_OR_OVERWRITE)
            tg = xapian.TermGenerator()
            with open(sys.argv[3], encoding='utf8') as f:
                for line in f:
                    p = json.loads(line)
                    doc = xapian.Document()
                    tg.set_document(doc)
                    tg.index_text(p['text'])
                    doc.set_data(p['passage_id'])
                    db.add_document(doc)
            db.commit()
            db.close()
            out['buildSeconds'] = time.perf_counter() - t
        else:
            db = xapian.Database(sys.argv[3])
            qs = queries(sys.argv[4]); k = int(sys.argv[5])
            enquire = xapian.Enquire(db)
            enquire.set_weighting_scheme(xapian.BM25Weight(1.2, 0, 1, 0.75, 0.5))
            t = time.perf_counter(); hits = 0
            for q in qs:
                enquire.set_query(xapian.Query(xapian.Query.OP_OR, q.lower().split()))
                mset = enquire.get_mset(0, k)
                hits += sum(1 for _ in mset)
            out.update(queries=len(qs), querySeconds=time.perf_counter() - t, hits=hits)
    else:
        import sqlite3
        out['version'] = sqlite3.sqlite_version
        if action == 'build':
            if os.path.exists(sys.argv[4]): os.remove(sys.argv[4])
            db = sqlite3.connect(sys.argv[4])
            db.execute("CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='unicode61')")
            def rows():
                with open(sys.argv[3], encoding='utf8') as f:
                    for line in f:
                        yield (json.loads(line)['text'],)
            db.executemany('INSERT INTO docs(text) VALUES (?)', rows())
            db.commit()
            db.execute("INSERT INTO docs(docs) VALUES('optimize')")
            db.commit()
            out['buildSeconds'] = time.perf_counter() - t
        else:
            db = sqlite3.connect(sys.argv[3])
            qs = queries(sys.argv[4]); k = int(sys.argv[5])
            if len(sys.argv) > 6: qs = qs[:int(sys.argv[6])]
            t = time.perf_counter(); hits = 0
            for q in qs:
                match = ' OR '.join(q.split())
                hits += len(db.execute('SELECT rowid, bm25(docs) AS s FROM docs WHERE docs MATCH ? ORDER BY s LIMIT ?', (match, k)).fetchall())
            out.update(queries=len(qs), querySeconds=time.perf_counter() - t, hits=hits)
    if 'querySeconds' in out: out['qps'] = out['queries'] / out['querySeconds']
    print(json.dumps(out))

main()
