/**
 * Simulated power loss for tests. An ext4 filesystem in an image file is mounted through a loop
 * device; a writer runs in a child process on it; at a chosen moment the filesystem is shut down
 * with the `FS_IOC_SHUTDOWN` ioctl and its `NOLOGFLUSH` flag (what xfstests calls "godown"):
 * from then on nothing more reaches the device, and whatever had not reached it is lost, as in
 * a power cut. The child is killed, the filesystem unmounted and mounted again (ext4 replays its
 * journal), and the test checks what the child was promised.
 *
 * Needs root, a loop device, `mkfs.ext4` and `python3` (which makes the ioctl with its `fcntl`
 * module). {@link powerLossUnavailable} says what is missing; tests skip with that reason.
 *
 * Typical use:
 *
 *     const disk = await powerLossDisk(t)    // null: skipped, the reason reported
 *     if (disk === null) return
 *     const run = await runUntilPowerCut(disk, 'my-child.ts', [join(disk.dir, 'x')], { delayMs: 100 })
 *     // disk.dir is mounted again here: reopen, compare with what run.stdout acknowledged.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'

import { spawnHelper } from './child.ts'

/** `FS_IOC_SHUTDOWN` = `_IOR('X', 125, __u32)`, and its flag: drop the journal, flush nothing. */
const FS_IOC_SHUTDOWN = 0x8004587d
const FS_GOING_FLAGS_NOLOGFLUSH = 0x2

// Opens the mount point, says 'armed', waits for a line on stdin, then shuts the filesystem
// down and says 'down'. Started ahead, so that the cut follows the parent's word at once.
const SHUTDOWN_SCRIPT = [
  'import fcntl, os, struct, sys',
  'fd = os.open(sys.argv[1], os.O_RDONLY)',
  "sys.stdout.write('armed\\n'); sys.stdout.flush()",
  'sys.stdin.readline()',
  `fcntl.ioctl(fd, ${FS_IOC_SHUTDOWN}, struct.pack('I', ${FS_GOING_FLAGS_NOLOGFLUSH}))`,
  "sys.stdout.write('down\\n'); sys.stdout.flush()",
].join('\n')

/** A shutdown made ready ahead: {@link PowerCut.fire} cuts the power within a millisecond or so. */
export interface PowerCut {
  /** Shuts the filesystem down; resolves when it is down. */
  fire(): Promise<void>
  /** Gives up without cutting (when the test fails before). */
  cancel(): void
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: 'pipe' })
}

function messageOf(error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string | null }).stderr
  const text = stderr !== undefined && stderr !== null && String(stderr).trim() !== '' ? String(stderr) : String((error as Error).message ?? error)
  return text.trim().split('\n').slice(-2).join(' ')
}

/** An ext4 filesystem on a loop device, mounted at {@link PowerLossDisk.dir}. */
export class PowerLossDisk {
  /** Where the filesystem is mounted: put the files under test here. */
  readonly dir: string
  readonly #base: string
  readonly #image: string
  #mounted = false
  /** The device number the file system was last mounted through. */
  #device: bigint | null = null
  /** How many times the power was cut. */
  cuts = 0

  /**
   * Makes an image of `sizeMiB` MiB in a fresh temporary directory, formats it and mounts it.
   * Throws with the failing command's message when any step fails.
   */
  constructor(sizeMiB = 128) {
    this.#base = mkdtempSync(join(tmpdir(), 'aofkit-powerloss-'))
    this.#image = join(this.#base, 'disk.img')
    this.dir = join(this.#base, 'mnt')
    try {
      mkdirSync(this.dir)
      run('truncate', ['-s', `${sizeMiB}M`, this.#image])
      run('mkfs.ext4', ['-q', '-F', this.#image])
      this.mount()
    } catch (error) {
      this.dispose()
      throw error
    }
  }

  /**
   * Mounts the image (ext4 replays its journal, as after a reboot). With `anotherDevice`, through
   * another loop device than the last mount's, so that its files' device number changes, as a
   * disk's may after a reboot (disks enumerated in another order, device-mapper numbers).
   */
  mount(options: { anotherDevice?: boolean } = {}): void {
    run('mount', ['-t', 'ext4', '-o', 'loop', this.#image, this.dir])
    this.#mounted = true
    const previous = this.#device
    this.#device = statSync(this.dir, { bigint: true }).dev
    if (options.anotherDevice !== true || this.#device !== previous) return
    // Back on the same loop device: hold free loop devices with placeholders (others may take
    // and free devices meanwhile) until the mount comes back through another one.
    const held: string[] = []
    try {
      for (let attempt = 0; attempt < 4 && this.#device === previous; attempt++) {
        this.unmount()
        const placeholder = join(this.#base, `placeholder-${attempt}.img`)
        run('truncate', ['-s', '1M', placeholder])
        held.push(execFileSync('losetup', ['--find', '--show', placeholder], { encoding: 'utf8' }).trim())
        this.mount()
      }
    } finally {
      for (const device of held) run('losetup', ['-d', device])
    }
    if (this.#device === previous) throw new Error(`the image came back on the same device (${String(previous)}) four times`)
  }

  /** Unmounts (the loop device goes with it). Every file on it must be closed. */
  unmount(): void {
    run('umount', [this.dir])
    this.#mounted = false
  }

  /**
   * Readies a power cut: starts the helper that will make the ioctl (python3, which takes tens of
   * milliseconds to start), and resolves once it holds the mount point open.
   */
  async armCut(): Promise<PowerCut> {
    const helper = spawn('python3', ['-c', SHUTDOWN_SCRIPT, this.dir], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    helper.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    helper.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    const exited = new Promise<number | null>((resolve) => helper.on('close', resolve))
    const said = async (word: string): Promise<void> => {
      let ended = false
      void exited.then(() => (ended = true))
      while (!out.includes(word)) {
        if (ended) throw new Error(`cannot shut the filesystem down: ${err.trim() || `the helper exited before '${word}'`}`)
        await sleep(1)
      }
    }
    await said('armed')
    return {
      fire: async () => {
        helper.stdin.end('cut\n')
        await said('down')
        await exited
        this.cuts++
      },
      cancel: () => {
        helper.kill('SIGKILL')
      },
    }
  }

  /**
   * Cuts the power: shuts the filesystem down without flushing its journal. Every later read or
   * write on it fails (EIO); what was not on the device is gone once it is mounted again.
   */
  async cut(): Promise<void> {
    await (await this.armCut()).fire()
  }

  /** Unmounts if mounted and removes the image. */
  dispose(): void {
    if (this.#mounted) {
      try {
        this.unmount()
      } catch {
        // Something still holds a file: detach lazily, so the image can go.
        execFileSync('umount', ['-l', this.dir], { stdio: 'ignore' })
        this.#mounted = false
      }
    }
    rmSync(this.#base, { recursive: true, force: true })
  }
}

let unavailable: string | undefined

/**
 * Why simulated power loss cannot run here ('' when it can): not root, no loop device, no
 * `mkfs.ext4` or `python3`, or a kernel that refuses the shutdown ioctl. Tried once per process.
 */
export async function powerLossUnavailable(): Promise<string> {
  if (unavailable !== undefined) return unavailable
  if (process.platform !== 'linux') return (unavailable = 'simulated power loss needs Linux (ext4, loop devices)')
  if (process.getuid?.() !== 0) return (unavailable = 'simulated power loss needs root (mount, loop devices)')
  let disk: PowerLossDisk | undefined
  try {
    disk = new PowerLossDisk(16)
    await disk.cut()
    unavailable = ''
  } catch (error) {
    unavailable = `cannot make and shut down an ext4 filesystem on a loop device: ${messageOf(error)}`
  } finally {
    disk?.dispose()
  }
  return unavailable
}

/**
 * A fresh {@link PowerLossDisk} for the test, removed when it ends; or null after marking the
 * test skipped with the reason, when simulated power loss cannot run here.
 */
export async function powerLossDisk(t: TestContext, sizeMiB?: number): Promise<PowerLossDisk | null> {
  const reason = await powerLossUnavailable()
  if (reason !== '') {
    t.diagnostic(`skipped: ${reason}`)
    t.skip(reason)
    return null
  }
  const disk = new PowerLossDisk(sizeMiB)
  t.after(() => disk.dispose())
  return disk
}

/** What a child said before the power went. */
export interface PowerCutRun {
  /**
   * What the child wrote to stdout before the power was cut: what it was promised then. Only
   * this counts. The kernel's shutdown is not a real power cut in one respect: an fdatasync
   * racing with it can return success for bytes that never reached the device (its journal
   * commit was aborted, then counted as done), while after a real power cut no call returns at
   * all. So acknowledgements written after the cut prove nothing.
   */
  stdout: string
  /** Everything the child wrote to stdout, up to its death. */
  stdoutAll: string
  stderr: string
}

/** Options of {@link runUntilPowerCut}. */
export interface PowerCutOptions {
  /** Text the child writes to stdout once it is ready; the delay counts from it. Default ';'. */
  ready?: string
  /** How long the child runs after it is ready before the power is cut, in ms. */
  delayMs: number
}

/**
 * Runs `node --import tsx test/helpers/<script> ...args` with its files on `disk`, waits until
 * it is ready and then `delayMs`, cuts the power, kills the child (SIGKILL) and mounts the
 * filesystem again. Throws when the child ended before the cut (with its stderr), since it then
 * tested nothing. What the child acknowledged before the cut is in `stdout` (see
 * {@link PowerCutRun.stdout}).
 */
export async function runUntilPowerCut(disk: PowerLossDisk, script: string, args: readonly string[], options: PowerCutOptions): Promise<PowerCutRun> {
  const cut = await disk.armCut()
  const child = spawnHelper(script, args)
  let promised = ''
  try {
    await child.waitFor(options.ready ?? ';')
    await sleep(options.delayMs)
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`the child ended before the power cut (code ${child.process.exitCode}); stderr: ${child.stderr()}`)
    }
    promised = child.stdout()
    await cut.fire()
  } finally {
    cut.cancel()
    child.process.kill('SIGKILL')
    await child.exited
  }
  disk.unmount()
  // Every other cut, the file system comes back through another device, as a disk may after a
  // reboot: recovery must know its files all the same.
  disk.mount({ anotherDevice: disk.cuts % 2 === 0 })
  return { stdout: promised, stdoutAll: child.stdout(), stderr: child.stderr() }
}

/** The largest `n` of the `<letter><n>;` acknowledgements in `stdout`, or `none` if none. */
export function lastAcknowledged(stdout: string, letter: string, none = 0): number {
  let last = none
  for (const match of stdout.matchAll(new RegExp(`${letter}(\\d+);`, 'g'))) last = Math.max(last, Number(match[1]))
  return last
}
