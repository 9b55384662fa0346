// Topic names and topic patterns, shared by the server, the forms and the service worker.

/**
 * A topic name: letters, digits, `_`, `.`, `-`; 1 to 128 characters, not dots alone (`.` and `..`
 * would not survive in a URL path: clients normalise them away).
 */
export const TOPIC_RE = /^(?!\.+$)[A-Za-z0-9_.-]{1,128}$/

/** A topic pattern: a topic name in which `*` stands for any run of characters (dots included). */
export const TOPIC_PATTERN_RE = /^(?!\.+$)[A-Za-z0-9_.*-]{1,128}$/

/**
 * Whether `topic` matches `pattern` (`alerts.*` matches `alerts.disk` and `alerts.disk.sda`).
 * Matched piece by piece, not with a regular expression: `*a*a*a*a*b` made one backtrack for
 * minutes on a topic of a's. The text before the first `*` must start the topic and the text after
 * the last must end it; each piece between is taken at its first place after the one before,
 * which finds a match whenever there is one. At most topic length × pieces steps.
 */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === '*') return true
  if (!pattern.includes('*')) return pattern === topic
  const pieces = pattern.split('*')
  const first = pieces[0]!
  const last = pieces[pieces.length - 1]!
  if (topic.length < first.length + last.length || !topic.startsWith(first) || !topic.endsWith(last)) return false
  const end = topic.length - last.length
  let at = first.length
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!
    if (!piece) continue
    const found = topic.indexOf(piece, at)
    if (found < 0 || found + piece.length > end) return false
    at = found + piece.length
  }
  return true
}

/** Splits a comma separated list of patterns ("alerts.*, sensors.*") into its patterns. */
export function splitPatterns(patterns: string): string[] {
  return patterns.split(',').map(p => p.trim()).filter(Boolean)
}

export function topicMatchesAny(patterns: string | readonly string[], topic: string): boolean {
  const list = typeof patterns === 'string' ? splitPatterns(patterns) : patterns
  return list.some(pattern => topicMatches(pattern, topic))
}
