import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import webpush from 'web-push'

/**
 * Web Push payload encryption (RFC 8291, aes128gcm, by web-push) off the event loop.
 *
 * Every push needs its own ECDH key pair, a shared secret with the device's key, HKDF and
 * AES-GCM: about 90 µs of CPU, a third of what a push costs. Done on the event loop, it delays
 * the live deliveries of the same process and caps the push workers at one core. With threads,
 * requests made in the same event-loop turn go to a thread as one message, and the ciphertexts
 * come back in one transferred buffer.
 */

/** The thread died with the request: the push can be tried again (unlike a key that is unusable). */
export class EncryptionThreadError extends Error {}

interface Request {
  resolve: (cipherText: Buffer) => void
  reject: (error: Error) => void
}

/** [p256dh, auth, payload] for each push of a batch. */
type Job = [string, string, string]
/** Per job: the ciphertext's length in the batch buffer, or the error message. */
type Reply = { buffer: ArrayBuffer, results: (number | string)[] }

// CommonJS so that it can be evaluated as is (no file to ship next to the server bundle).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const webpush = require(workerData.webPush)
parentPort.on('message', (jobs) => {
  const parts = []
  const results = jobs.map(([p256dh, auth, payload]) => {
    try {
      const cipherText = webpush.encrypt(p256dh, auth, payload, 'aes128gcm').cipherText
      parts.push(cipherText)
      return cipherText.length
    }
    catch (error) {
      return String(error && error.message || error)
    }
  })
  // Buffer.concat may return a slice of Node's shared pool: copy into a buffer of its own.
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) { all.set(part, offset); offset += part.length }
  parentPort.postMessage({ buffer: all.buffer, results }, [all.buffer])
})
`

class EncryptThread {
  private readonly worker: Worker
  private readonly inFlight: Request[][] = []
  private batch: { jobs: Job[], requests: Request[] } | null = null
  private failed = false
  private answered = false
  private stopped = false

  /** `onExit(thread, neverWorked)`: neverWorked when it died, unasked, before any answer. */
  constructor(onExit: (thread: EncryptThread, neverWorked: boolean) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { webPush: createRequire(import.meta.url).resolve('web-push') } })
    // Idle threads never keep the process alive; a batch in flight keeps it (see send).
    this.worker.unref()
    this.worker.on('message', (reply: Reply) => this.settle(reply))
    const fail = (error: Error) => {
      if (this.failed) return
      this.failed = true
      const reason = new EncryptionThreadError(`push encryption thread failed: ${error.message}`)
      for (const requests of [...this.inFlight.splice(0), this.batch?.requests ?? []]) {
        for (const request of requests) request.reject(reason)
      }
      this.batch = null
      onExit(this, !this.answered && !this.stopped)
    }
    this.worker.on('error', fail)
    this.worker.on('exit', code => fail(new Error(`stopped with exit code ${code}`)))
  }

  get load(): number {
    return this.inFlight.length
  }

  encrypt(job: Job): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (!this.batch) {
        this.batch = { jobs: [], requests: [] }
        // Everything asked for in this turn of the event loop (say, after each push service
        // answer that it read) goes in one message: a message costs about as much as 2 jobs.
        setImmediate(() => this.send())
      }
      this.batch.jobs.push(job)
      this.batch.requests.push({ resolve, reject })
    })
  }

  private send() {
    const batch = this.batch
    if (!batch) return
    this.batch = null
    if (this.inFlight.length === 0) this.worker.ref()
    this.inFlight.push(batch.requests)
    this.worker.postMessage(batch.jobs)
  }

  private settle({ buffer, results }: Reply) {
    const requests = this.inFlight.shift()
    if (!requests) return
    this.answered = true
    if (this.inFlight.length === 0) this.worker.unref()
    let offset = 0
    results.forEach((result, i) => {
      if (typeof result === 'string') {
        requests[i]!.reject(new Error(result))
        return
      }
      requests[i]!.resolve(Buffer.from(buffer, offset, result))
      offset += result
    })
  }

  stop(): Promise<number> {
    this.stopped = true
    return this.worker.terminate()
  }
}

let threads: EncryptThread[] = []
let wanted = 0

/** Encryption threads to use from now on (0: encrypt on the event loop). */
export function configurePushEncryption(count: number): void {
  wanted = count
  for (const thread of threads.splice(count)) void thread.stop()
}

/** Stops the threads (tests, shutdown); later pushes start them again. */
export async function stopPushEncryption(): Promise<void> {
  await Promise.all(threads.splice(0).map(thread => thread.stop()))
}

function thread(): EncryptThread {
  while (threads.length < wanted) {
    threads.push(new EncryptThread((dead, neverWorked) => {
      threads = threads.filter(t => t !== dead)
      // One that could not even start (say, web-push not found next to the bundle) would fail
      // again: encrypt on the event loop from then on.
      if (neverWorked) {
        console.warn('mercury: push encryption thread failed before its first answer; encrypting on the event loop from now on')
        wanted = 0
      }
    }))
  }
  // The least busy one (in batches waiting for an answer).
  return threads.reduce((best, t) => t.load < best.load ? t : best)
}

/**
 * The aes128gcm body of a push to a device with these keys. Rejects when the keys cannot be used
 * (web-push's message says why) or when an encryption thread died with the request.
 */
export function encryptPush(p256dh: string, auth: string, payload: string): Promise<Buffer> {
  if (wanted === 0) {
    try {
      return Promise.resolve(webpush.encrypt(p256dh, auth, payload, 'aes128gcm').cipherText)
    }
    catch (error) {
      return Promise.reject(error as Error)
    }
  }
  return thread().encrypt([p256dh, auth, payload])
}
