/**
 * When a sidecar page counts for a data file: the page must name the file (inode, birth time,
 * and device, or another device where the file has a birth time) and hold the file's first
 * bytes; its writer's stores survive only where it ran on the file system as mounted now.
 * docs/FORMAT.md, "When the sidecar counts".
 * @module
 */
import { fstatSync } from 'node:fs'

import * as native from '../native/binding.ts'
import type { SidecarSnapshot } from './shm.ts'

/** Who a data file is, as far as its sidecar can tell: it must match for the sidecar to count. */
export interface FileIdentity {
  device: number
  inode: number
  /** Birth time, whole seconds; 0 with `birthNanoseconds` 0 where the file system keeps none. */
  birthSeconds: number
  birthNanoseconds: number
  /**
   * The mount the file is on ({@link native.mountId}), 0 where unknown. Not part of who the
   * file is: a file system mounted again keeps its files but not their page cache.
   */
  mountId: number
}

/** The identity of an open data file. */
export function fileIdentity(fd: number): FileIdentity {
  const stat = fstatSync(fd, { bigint: true })
  const birth = stat.birthtimeNs
  return {
    device: Number(stat.dev),
    inode: Number(stat.ino),
    birthSeconds: Number(birth / 1_000_000_000n),
    birthNanoseconds: Number(birth % 1_000_000_000n),
    mountId: native.mountId(fd),
  }
}

/**
 * Whether a sidecar page names the file of `identity`: the same inode and birth time. The
 * device number names the file system only while it stays mounted: mounted again, it may come
 * through another device (disks enumerated in another order at boot, another loop or
 * device-mapper device) with the same files, so another device counts as the same file system
 * mounted again, but only where the file has a birth time: without one, an inode number on
 * another device could be anyone's.
 */
export function namesFile(page: SidecarSnapshot, identity: FileIdentity): boolean {
  if (page.inode !== identity.inode) return false
  if (page.birthSeconds !== identity.birthSeconds || page.birthNanoseconds !== identity.birthNanoseconds) return false
  return page.device === identity.device || identity.birthSeconds !== 0 || identity.birthNanoseconds !== 0
}

/**
 * Whether a sidecar page was written for this very file, not for another once at its path: it
 * {@link namesFile names the file}, and `bytes` (the file's first bytes, `fileSize` in all)
 * begin with the page's `head`.
 */
export function sameFile(page: SidecarSnapshot, identity: FileIdentity, bytes: Uint8Array, fileSize: number): boolean {
  if (!namesFile(page, identity)) return false
  const head = page.head
  if (head.length > fileSize) return false
  for (let index = 0; index < head.length; index++) if (bytes[index] !== head[index]) return false
  return true
}

/**
 * Whether the page's writer ran on the file system as it is mounted now, so that its page
 * cache, and with it every store it made, survived: this boot, this mount, this device (a
 * device cannot change under one mount; mount ids of older kernels are reused).
 */
export function sameMount(page: SidecarSnapshot, identity: FileIdentity): boolean {
  return page.sameBoot && page.mountId === identity.mountId && page.device === identity.device
}
