/**
 * Runs `task` one at a time. A call made while it runs gets one more run once it is over (the
 * calls made meanwhile share that run): what was asked during a run is never missed. Every call
 * resolves once a run that started after it is over.
 *
 * The run in progress is forgotten once its promise settles, never from inside the task: a task
 * that ends before its first `await` would otherwise be forgotten before it is remembered, and be
 * waited on for ever after (every later call then chained itself on it again, a microtask loop
 * that froze the page).
 */
export function oneAtATime(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null
  let next: Promise<void> | null = null
  function run(): Promise<void> {
    if (running) {
      const again = () => {
        next = null
        return run()
      }
      next ??= running.then(again, again)
      return next
    }
    const current: Promise<void> = task().finally(() => {
      if (running === current) running = null
    })
    running = current
    return current
  }
  return run
}
