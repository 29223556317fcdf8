import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ErrorCode, GROWTH_STEP_DEFAULT, Geometry, SIZE_UPPER_DEFAULT, isAofkitError } from '../../src/index.ts'

test('defaults follow the Go aof package', () => {
  const geometry = new Geometry()
  assert.equal(geometry.sizeNow, geometry.pageSize)
  assert.equal(geometry.sizeUpper, SIZE_UPPER_DEFAULT)
  assert.equal(geometry.growthStep, GROWTH_STEP_DEFAULT)
  assert.equal(SIZE_UPPER_DEFAULT, 16 * 1024 * 1024)
})

test('sizes round up to the page size; sizeUpper is raised to sizeNow', () => {
  const page = new Geometry().pageSize
  const geometry = new Geometry({ sizeNow: page + 1, sizeUpper: 10, growthStep: 1 })
  assert.equal(geometry.sizeNow, 2 * page)
  assert.equal(geometry.sizeUpper, 2 * page)
  assert.equal(geometry.growthStep, page)
})

test('next() returns sizeNow below it, then the next step boundary, capped at sizeUpper', () => {
  const page = new Geometry().pageSize
  const geometry = new Geometry({ sizeNow: 2 * page, sizeUpper: 64 * page, growthStep: 4 * page })
  assert.equal(geometry.next(-5), 2 * page)
  assert.equal(geometry.next(0), 2 * page)
  assert.equal(geometry.next(2 * page - 1), 2 * page)
  assert.equal(geometry.next(2 * page), 4 * page)
  assert.equal(geometry.next(4 * page), 8 * page)
  assert.equal(geometry.next(4 * page + 1), 8 * page)
  assert.equal(geometry.next(63 * page), 64 * page)
  assert.equal(geometry.next(1000 * page), 64 * page)
  for (let size = 0; size < 64 * page; size += 777) {
    const next = geometry.next(size)
    assert.ok(next > size || next === geometry.sizeUpper)
    assert.equal(next % page, 0)
  }
})

test('bad sizes are ERR_AOF_INVALID_ARGUMENT', () => {
  for (const bad of [-1, 0.5, Number.NaN, Infinity, '1', 2 ** 60]) {
    assert.throws(
      () => new Geometry({ sizeUpper: bad as number }),
      (error) => isAofkitError(error, ErrorCode.InvalidArgument),
    )
  }
})
