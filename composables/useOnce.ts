/**
 * Runs an action unless its last run is still under way: a form submitted twice (a double click,
 * Enter pressed twice) sends once. `running` can mark the submit button aria-disabled meanwhile.
 */
export function useOnce() {
  const running = ref(false)
  async function once<T>(action: () => Promise<T>): Promise<T | undefined> {
    if (running.value) return undefined
    running.value = true
    try {
      return await action()
    }
    finally {
      running.value = false
    }
  }
  return { running: readonly(running), once }
}
