import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignedUnitRange, ownsBadRecord, planUnits, unitDir, unitRange } from '../../src/util/units.ts';

/** Every record of [0, n) in exactly one unit, in order. */
function assertCovers(ranges: { start: number; end: number }[], n: number) {
  let next = 0;
  for (const r of ranges) {
    assert.ok(r.start <= r.end);
    if (r.end > r.start) {
      assert.equal(r.start, next, 'contiguous, in order');
      next = r.end;
    }
  }
  assert.equal(next, n, 'covers all n');
}

test('unitRange / planUnits: U = ceil(n/N), contiguous cover of [0, n), empty trailing units allowed', () => {
  for (const [n, N] of [[0, 1], [1, 1], [10, 3], [10, 4], [23, 7], [5, 9], [326, 4], [326, 7]]) assertCovers(planUnits(n, N), n);
  assert.deepEqual(unitRange(10, 3, 4), { unit: 3, units: 4, start: 9, end: 10 });
  assert.deepEqual(unitRange(5, 8, 9), { unit: 8, units: 9, start: 5, end: 5 });
  assert.throws(() => unitRange(10, 4, 4), /--unit must be in 0..3/);
  assert.throws(() => unitRange(10, 0, 0), /--units must be an integer >= 1/);
  assert.equal(unitDir('runs/emb', 3, 64), 'runs/.emb.units/unit-00003-of-00064');
});

test('alignedUnitRange: whole blocks of `align` records (encode shards), contiguous cover', () => {
  const table: [number, number, number, [number, number][]][] = [
    [139, 3, 20, [[0, 60], [60, 120], [120, 139]]],
    [139, 10, 20, [[0, 20], [20, 40], [40, 60], [60, 80], [80, 100], [100, 120], [120, 139], [139, 139], [139, 139], [139, 139]]],
    [250, 4, 40, [[0, 80], [80, 160], [160, 240], [240, 250]]],
    [100, 1, 7, [[0, 100]]],
  ];
  for (const [n, N, align, want] of table) {
    const got = [...Array(N).keys()].map((u) => alignedUnitRange(n, u, N, align));
    assert.deepEqual(got.map((r) => [r.start, r.end]), want, `n=${n} N=${N} align=${align}`);
    for (const r of got) if (r.end < n) assert.equal((r.end - r.start) % align, 0, 'every unit but the last is whole blocks');
    assertCovers(got, n);
  }
});

test('ownsBadRecord: every gap between good records (before the first, after the last, with empty units) belongs to exactly one unit', () => {
  for (const [n, units] of [[10, 3], [10, 4], [2, 5], [0, 3], [1, 1]]) {
    const plan = planUnits(n, units);
    for (let before = 0; before <= n; before++) {
      const owners = plan.filter((r) => ownsBadRecord(r, before)).map((r) => r.unit);
      assert.equal(owners.length, 1, `n=${n} N=${units} after ${before} good records: ${owners}`);
      // The unit of the good record before it (unit 0 ahead of the first).
      if (before > 0) assert.ok(plan[owners[0]].start < before && before <= plan[owners[0]].end);
      else assert.equal(owners[0], 0);
    }
  }
});
