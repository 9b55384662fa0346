// Starts Debian's redis-server as a child process (not daemonized, without persistence) on a
// free loopback port, for tests of the Redis channel layer.
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'

export interface RunningRedis {
  url: string
  /** Kills the server; a no-op when it is already stopped. restart() starts it again. */
  stop: () => Promise<void>
  /** Stops the server (if running) and starts a new, empty one on the same port. */
  restart: () => Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** Whether a Redis server answers PING on the port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  let output = ''

  // Should the test process end without stopping it.
  process.once('exit', () => child?.kill('SIGKILL'))

  async function start() {
    output = ''
    // Run from the temporary directory, should it ever write a file.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const proc = spawn('redis-server', args, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-10_000)
    }
    proc.stdout!.on('data', collect)
    proc.stderr!.on('data', collect)
    let exited = false
    proc.once('exit', () => exited = true)
    const deadline = Date.now() + 10_000
    while (!await ping(port)) {
      if (exited || Date.now() > deadline) {
        proc.kill('SIGKILL')
        throw new Error(`redis-server did not start on port ${port}:\n${output}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  async function stop() {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    // Killed outright, like a crash: clients see their connections reset.
    proc.kill('SIGKILL')
    await exited
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop()
      await start()
    },
  }
}
