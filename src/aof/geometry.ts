/**
 * How a file grows: it starts at `sizeNow`, grows in `growthStep` increments and never grows
 * past `sizeUpper`, the size of the mapping reserved once at open (the Go `aof` package's Geometry).
 * @module
 */
import { constants as bufferConstants } from 'node:buffer'

import { describeValue, invalidArgument, optionsOf } from '../arguments.ts'
import { pageSize } from '../native/binding.ts'

/** Geometry as given by a caller; every field is optional. */
export interface GeometryOptions {
  /** Size the file has when created (and at least has when opened). Default: one page. */
  sizeNow?: number
  /** Largest size the file may reach; the mapping reserves this much. Default: 16 MiB. */
  sizeUpper?: number
  /** Growth increment. Default: 1 MiB. */
  growthStep?: number
}

/** Default initial size: one page (the Go `aof` package's SizeNowDefault). */
export const SIZE_NOW_DEFAULT: number = pageSize
/** Default upper size: 16 MiB (the Go `aof` package's SizeUpperDefault). */
export const SIZE_UPPER_DEFAULT: number = 16 * 1024 * 1024
/**
 * Default growth step: 1 MiB. The Go `aof` package exports `GrowthStepDefault = pageSize` but its
 * Validate() fills a zero step with 1 MiB; we take the value Validate() actually applies.
 */
export const GROWTH_STEP_DEFAULT: number = 1024 * 1024
/** Largest `sizeUpper`: one typed array must span the whole mapping. */
export const SIZE_UPPER_MAX: number = Math.floor(bufferConstants.MAX_LENGTH / pageSize) * pageSize

/** Rounds `size` up to a multiple of the page size. */
export function alignToPage(size: number): number {
  return Math.ceil(size / pageSize) * pageSize
}

function checkSize(name: string, value: unknown): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`geometry.${name} must be a non-negative integer number of bytes, got ${describeValue(value)}`)
  }
  return value
}

/** A validated, page-aligned geometry. */
export class Geometry {
  /** Initial size in bytes, page-aligned. */
  readonly sizeNow: number
  /** Upper size in bytes, page-aligned, at least `sizeNow`. */
  readonly sizeUpper: number
  /** Growth step in bytes, page-aligned. */
  readonly growthStep: number
  /** The system page size. */
  readonly pageSize: number = pageSize

  /**
   * Validates like the Go `aof` package: zero or absent fields take their defaults, sizes round up to the
   * page size, and a `sizeUpper` below `sizeNow` is raised to it. Unlike the Go `aof` package, negative,
   * fractional, NaN or non-number sizes throw `ERR_AOF_INVALID_ARGUMENT` instead of passing.
   */
  constructor(given?: GeometryOptions) {
    const options = optionsOf(given, 'geometry')
    const sizeNow = checkSize('sizeNow', options.sizeNow)
    const sizeUpper = checkSize('sizeUpper', options.sizeUpper)
    const growthStep = checkSize('growthStep', options.growthStep)
    this.sizeNow = alignToPage(Math.max(sizeNow, SIZE_NOW_DEFAULT))
    this.growthStep = alignToPage(growthStep === 0 ? GROWTH_STEP_DEFAULT : growthStep)
    this.sizeUpper = Math.max(alignToPage(sizeUpper === 0 ? SIZE_UPPER_DEFAULT : sizeUpper), this.sizeNow)
    if (this.sizeUpper > SIZE_UPPER_MAX) {
      throw invalidArgument(`geometry.sizeUpper ${this.sizeUpper} exceeds the largest mapping this Node.js can view (${SIZE_UPPER_MAX})`)
    }
    Object.freeze(this)
  }

  /**
   * The size to grow to when `size` bytes are needed: `sizeNow` while below it, otherwise the
   * next multiple of `growthStep` above `size`, never more than `sizeUpper`. (The Go `aof` package computes
   * `size + size % step + step`, which is not aligned to the step; we align.)
   */
  next(size: number): number {
    if (!(size > 0)) size = 0
    if (size < this.sizeNow) return this.sizeNow
    const next = (Math.floor(size / this.growthStep) + 1) * this.growthStep
    return Math.min(next, this.sizeUpper)
  }
}
