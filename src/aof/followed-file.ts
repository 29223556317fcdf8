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
import { recoverFromEnd, recoverWithMagic } from './recovery.ts'
import { HEAD_SIZE, SHM_MAGIC, SHM_VERSION, ShmIndex, Sidecar, parseSidecar, sidecarPath } from './shm.ts'
import { fileIdentity, sameFile } from './sidecar-identity.ts'
import type { FileIdentity } from './sidecar-identity.ts'

const FILE_STATE_INDEX = ShmIndex.fileState

/** @internal An open data file as a reader sees it, with its writer's sidecar if it has one. */
export class FollowedFile {
  readonly path: string
  readonly fd: number
  readonly #inode: number
  readonly #device: number
  readonly #owner: number
  readonly #identity: FileIdentity
  /** Attach to the sidecar of a writer that closed the file, to follow the next one. */
  readonly #waitForWriter: boolean
  #sidecar: Sidecar | null = null
  /** The inode of the mapped sidecar file, to notice one made anew. */
  #sidecarInode = -1
  /**
   * The state of a file without a live writer's sidecar: Closed when its sidecar says its
   * last writer closed it without finishing it, else EOF (finished, or no writer of ours).
   */
  #staticState: FileState = FileState.EOF
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

  /**
   * Takes over `fd`, open on `path`: closes it if this throws.
   * @param waitForWriter - Follow a sidecar whose writer closed the file (it may come back).
   */
  constructor(path: string, fd: number, waitForWriter: boolean) {
    this.path = path
    this.fd = fd
    this.#waitForWriter = waitForWriter
    try {
      const opened = fstatSync(fd)
      this.#inode = opened.ino
      this.#device = opened.dev
      this.#owner = opened.uid
      this.#identity = fileIdentity(fd)
      const attached = this.#attachSidecar()
      if (attached !== 'attached') {
        if (this.#writerSettingUp(attached, opened.size)) this.pending = true
        else this.#recoverStatic(attached, opened.size)
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
    // Without a live writer's sidecar the file is read as it is: finished, or closed unfinished.
    if (words === null) return this.#staticState
    const state = Atomics.load(words, FILE_STATE_INDEX)
    return state === FileState.Opened || state === FileState.EOF ? state : FileState.Closed
  }

  /**
   * Maps the sidecar if it belongs to this very file (device, inode, birth time and first bytes)
   * and a writer has it open (or, with waitForWriter, closed it); read-only when this user may
   * not write it. `'attached'` when it did; `'finished'` or `'closed'` when the page is this
   * file's and says its writer finished it, or closed it without finishing it. Throws
   * `ERR_AOF_BAD_SIDECAR` when what stands at `<file>-shm` is not a sidecar.
   */
  #attachSidecar(): 'attached' | 'finished' | 'closed' | 'none' {
    const opened = Sidecar.openForReader(this.path, this.#owner)
    if (opened === null) return 'none'
    const { sidecar, writable } = opened
    const page = parseSidecar(sidecar.words, sidecar.floats)
    const state = page?.fileState
    let belongs = state === FileState.Opened || state === FileState.EOF || state === FileState.Closed
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
    if (!belongs || state === FileState.EOF || (state === FileState.Closed && !this.#waitForWriter)) {
      sidecar.close()
      return !belongs ? 'none' : state === FileState.EOF ? 'finished' : 'closed'
    }
    this.#sidecar = sidecar
    this.#sidecarInode = fstatSync(sidecar.fd).ino
    this.sidecarReadOnly = !writable
    this.words = sidecar.words
    return 'attached'
  }

  /**
   * Whether the file, without a live sidecar of its own yet, is being set up by a writer: one
   * holds it, or, without any sidecar of this file, it is still empty (a writer allocates its
   * file before anything else, so an empty file is one whose writer has not started).
   */
  #writerSettingUp(attached: 'finished' | 'closed' | 'none', fileSize: number): boolean {
    if (attached === 'finished') return false
    return (attached === 'none' && fileSize === 0) || writerHolds(this.fd, 0)
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
    if (this.#writerSettingUp(attached, fileSize)) return 'pending'
    this.pending = false
    this.#recoverStatic(attached, fileSize)
    return 'static'
  }

  /**
   * With waitForWriter, while the writer is away: maps the sidecar anew when the one at the
   * path is not the one mapped (removed and made again). When it did, calls `switched` (the
   * reader waits through the new one from then on) before it unmaps the old one.
   */
  reattach(switched: () => void): void {
    if (this.#sidecar !== null) {
      try {
        if (statSync(sidecarPath(this.path)).ino === this.#sidecarInode) return
      } catch {
        return
      }
    }
    const previous = { sidecar: this.#sidecar, inode: this.#sidecarInode, words: this.words, readOnly: this.sidecarReadOnly }
    this.#sidecar = null
    let attached: 'attached' | 'finished' | 'closed' | 'none' | 'failed'
    try {
      attached = this.#attachSidecar()
    } catch {
      attached = 'failed'
    }
    if (attached !== 'attached') {
      this.#sidecar = previous.sidecar
      this.#sidecarInode = previous.inode
      this.words = previous.words
      this.sidecarReadOnly = previous.readOnly
      return
    }
    this.#closeChecked = false
    switched()
    previous.sidecar?.close()
  }

  /**
   * No live writer: find the data's end once, by recovery, without modifying anything. A file
   * larger than any mapping is read at its end instead; past 256 MiB of zeros there, it is
   * taken to hold no data (a writer never allocates that far ahead).
   */
  #recoverStatic(attached: 'finished' | 'closed' | 'none', fileSize: number): void {
    this.#staticState = attached === 'closed' ? FileState.Closed : FileState.EOF
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
      // A writer is back (waitForWriter): its close is to be checked again.
      this.#closeChecked = false
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
   * zeros since (the addon's SIGBUS guard), or, once the writer wrote its sync record into the
   * cut file again, as a page without its magic and version; either way the state and size it
   * shows mean nothing. A page without its magic alone is being claimed by the next writer
   * (`Sidecar.initialize` clears the magic first and sets it last), which keeps the version.
   */
  sidecarLoss(): AofkitError | null {
    const sidecar = this.#sidecar
    if (sidecar === null) return null
    const words = sidecar.words
    const sound = Atomics.load(words, ShmIndex.magic) === SHM_MAGIC || Atomics.load(words, ShmIndex.version) === SHM_VERSION
    if (native.faults(sidecar.mapping) === 0 && sound) return null
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
