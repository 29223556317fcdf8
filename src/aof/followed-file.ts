/**
 * The file a {@link FileReader} follows, and its writer: the `-shm` sidecar that belongs to this
 * very file (or, while a writer sets one up, none yet), the committed size and state it shows,
 * the data's end by recovery when no writer is live, and the checks that the writer still lives
 * and the file is still the one opened. What the reader does with them (wait, wake its
 * followers, end them) is in `reader.ts`.
 * @module
 */
import { closeSync, fstatSync, statSync } from 'node:fs'

import { AofkitError, ErrorCode } from '../errors.ts'
import * as native from '../native/binding.ts'
import { loadCommittedSize } from './committed-size.ts'
import { FileState } from './file-state.ts'
import { alignToPage, SIZE_UPPER_MAX } from './geometry.ts'
import { writerHolds } from './liveness.ts'
import { sameFile } from './reconcile.ts'
import { recoverFromEnd, recoverWithMagic } from './recovery.ts'
import { HEAD_SIZE, ShmIndex, Sidecar, fileIdentity, parseSidecar } from './shm.ts'
import type { FileIdentity } from './shm.ts'

const FILE_STATE_INDEX = ShmIndex.fileState

/** @internal An open data file as a reader sees it, with its writer's sidecar if it has one. */
export class FollowedFile {
  readonly path: string
  readonly fd: number
  readonly #inode: number
  readonly #device: number
  readonly #owner: number
  readonly #identity: FileIdentity
  #sidecar: Sidecar | null = null
  /** The sidecar is mapped read-only: its writer runs as another user (ReaderWaiter). */
  sidecarReadOnly = false
  /** The sidecar's 32-bit words, while one is attached. */
  words: Int32Array | null = null
  /**
   * The size when there is no live writer to follow; with one, the last committed size loaded
   * (kept while the writer is in the middle of a 4 GiB step).
   */
  #knownSize = 0
  /**
   * A writer holds the file but has not set up its sidecar yet (or the file is still empty):
   * the reader follows it as open, and attaches to the sidecar at its next check.
   */
  pending = false
  /** The writer's close was seen and the path checked (once) for a replacement. */
  #closeChecked = false

  /** Takes over `fd`, open on `path`: closes it if this throws. */
  constructor(path: string, fd: number) {
    this.path = path
    this.fd = fd
    try {
      const opened = fstatSync(fd)
      this.#inode = opened.ino
      this.#device = opened.dev
      this.#owner = opened.uid
      this.#identity = fileIdentity(fd)
      const attached = this.#attachSidecar()
      if (attached !== 'attached') {
        if (attached === 'none' && this.#writerSettingUp(opened.size)) this.pending = true
        else this.#recoverStatic(opened.size)
      }
    } catch (error) {
      this.#sidecar?.close()
      closeSync(fd)
      throw error
    }
  }

  /** Committed data bytes: what the writer has published (or all data, for a file without writer). */
  get size(): number {
    const words = this.words
    if (words === null) return this.#knownSize
    // With acquire ordering: the bytes below it are in the file. NaN only while the writer is
    // in the middle of a 4 GiB step (or died there): the last size seen holds until then.
    const size = loadCommittedSize(words)
    if (size === size) this.#knownSize = size
    return this.#knownSize
  }

  /** The writer's {@link FileState}, as {@link FileReader.state} reports it while the reader is open. */
  get state(): FileState {
    if (this.pending) return FileState.Opened
    const words = this.words
    // Without a live writer's sidecar the file is read as it is: finished.
    if (words === null) return FileState.EOF
    const state = Atomics.load(words, FILE_STATE_INDEX)
    return state === FileState.Opened || state === FileState.EOF ? state : FileState.Closed
  }

  /**
   * Maps the sidecar if it belongs to this very file (device, inode, birth time and first bytes)
   * and a writer has (or had) it open; read-only when this user may not write it. True when it
   * did; `'finished'` when the page is this file's and says its writer finished it. Throws
   * `ERR_AOF_BAD_SIDECAR` when what stands at `<file>-shm` is not a sidecar.
   */
  #attachSidecar(): 'attached' | 'finished' | 'none' {
    const opened = Sidecar.openForReader(this.path, this.#owner)
    if (opened === null) return 'none'
    const { sidecar, writable } = opened
    const page = parseSidecar(sidecar.words, sidecar.floats)
    let belongs = page !== null && (page.fileState === FileState.Opened || page.fileState === FileState.EOF)
    if (belongs) {
      const head = new Uint8Array(HEAD_SIZE)
      const fileSize = fstatSync(this.fd).size
      const count = Math.min(HEAD_SIZE, fileSize)
      for (let done = 0; done < count; ) {
        const read = native.pread(this.fd, head, done, count - done, done)
        if (read === 0) break
        done += read
      }
      belongs = sameFile(page!, this.#identity, head, count)
    }
    if (!belongs || page!.fileState === FileState.EOF) {
      sidecar.close()
      return belongs ? 'finished' : 'none'
    }
    this.#sidecar = sidecar
    this.sidecarReadOnly = !writable
    this.words = sidecar.words
    return 'attached'
  }

  /**
   * Whether the file, without a sidecar of its own yet, is being set up by a writer: one holds
   * it, or it is still empty (a writer allocates its file before anything else, so an empty
   * file is one whose writer has not started).
   */
  #writerSettingUp(fileSize: number): boolean {
    return fileSize === 0 || writerHolds(this.fd, 0)
  }

  /**
   * A pending file's check: attach to the sidecar once the writer has made it, or read the
   * file as it is once no writer holds it. `'attached'` when it attached now (the reader then
   * waits through the sidecar), `'pending'` when still pending.
   */
  settle(): 'attached' | 'pending' | 'static' {
    const attached = this.#attachSidecar()
    if (attached === 'attached') {
      this.pending = false
      return 'attached'
    }
    const fileSize = fstatSync(this.fd).size
    if (attached === 'none' && this.#writerSettingUp(fileSize)) return 'pending'
    this.pending = false
    this.#recoverStatic(fileSize)
    return 'static'
  }

  /**
   * No live writer: find the data's end once, by recovery, without modifying anything. A file
   * larger than any mapping is read at its end instead; past 256 MiB of zeros there, it is
   * taken to hold no data (a writer never allocates that far ahead).
   */
  #recoverStatic(fileSize: number): void {
    if (fileSize === 0) return
    if (fileSize <= SIZE_UPPER_MAX) {
      const mapping = native.map(this.fd, alignToPage(fileSize), false)
      try {
        this.#knownSize = recoverWithMagic(fileSize, new Uint8Array(mapping), undefined).tail
      } finally {
        native.unmap(mapping)
      }
      return
    }
    const read = (target: Uint8Array, position: number): void => {
      for (let done = 0; done < target.length; ) {
        const count = native.pread(this.fd, target, done, target.length - done, position + done)
        if (count === 0) throw this.truncated()
        done += count
      }
    }
    this.#knownSize = recoverFromEnd(fileSize, read, undefined, { zerosMax: 256 << 20 }).tail
  }

  /** The error of a read that found the file shorter than its committed size. */
  truncated(): AofkitError {
    return new AofkitError(ErrorCode.Replaced, `file '${this.path}' was truncated under its reader`, { path: this.path })
  }

  /**
   * The periodic check of a file whose writer is live: null while the writer holds the file,
   * the file is still the one at the path, and it is not shorter than its committed size; else
   * the error that ends following.
   */
  check(): AofkitError | null {
    const lost = this.sidecarLoss()
    if (lost !== null) return lost
    const words = this.words
    if (words !== null && this.state === FileState.Opened) {
      // Judged by the lock the writer holds, not by its pid, which may name another process
      // (or none) in another PID namespace.
      const pid = Atomics.load(words, ShmIndex.writerPid)
      if (!writerHolds(this.fd, pid)) {
        return new AofkitError(ErrorCode.WriterDied, `the writer of '${this.path}' (pid ${pid}) is gone`, { path: this.path })
      }
    }
    try {
      const current = statSync(this.path)
      if (current.ino !== this.#inode || current.dev !== this.#device) throw new Error('replaced')
      if (fstatSync(this.fd).size < this.size) throw new Error('truncated')
    } catch (error) {
      return new AofkitError(ErrorCode.Replaced, `file '${this.path}' was truncated, replaced or deleted under its reader`, {
        path: this.path,
        cause: error,
      })
    }
    return null
  }

  /**
   * When the writer closed, tells whether it did so because its file was replaced (a state
   * log's compaction renames a new file over it, then closes the old one): a follower must then
   * fail with ERR_AOF_REPLACED rather than end as if the log were complete. Checked once.
   */
  replacedWhenClosed(): AofkitError | null {
    const words = this.words
    if (this.#closeChecked || words === null) return null
    const state = Atomics.load(words, FILE_STATE_INDEX)
    if (state === FileState.Opened || state === FileState.EOF) return null
    this.#closeChecked = true
    const lost = this.sidecarLoss()
    if (lost !== null) return lost
    let current
    try {
      current = statSync(this.path)
    } catch {
      current = null
    }
    if (current !== null && current.ino === this.#inode && current.dev === this.#device) return null
    return new AofkitError(ErrorCode.Replaced, `file '${this.path}' was replaced or deleted under its reader`, { path: this.path })
  }

  /**
   * The error to end with when the sidecar was truncated under the reader: its page reads as
   * zeros since (the addon's SIGBUS guard), so the state and size it shows mean nothing.
   */
  sidecarLoss(): AofkitError | null {
    const mapping = this.#sidecar?.mapping ?? null
    if (mapping === null || native.faults(mapping) === 0) return null
    return new AofkitError(ErrorCode.Replaced, `the sidecar of '${this.path}' was truncated under its reader`, { path: this.path })
  }

  /** Unmaps the sidecar and closes the file; the size stays the last one seen. */
  close(): void {
    if (this.#sidecar !== null) {
      this.#knownSize = this.size
      this.words = null
      this.#sidecar.close()
      this.#sidecar = null
    }
    closeSync(this.fd)
  }
}
