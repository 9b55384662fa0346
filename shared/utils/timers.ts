/** The longest delay a Node timer takes (about 24.8 days): setTimeout runs a longer one at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1
