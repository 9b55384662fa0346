// The Node.js this server needs: package.json's `engines` (a unit test keeps the two equal). An
// older Node runs most of the app but not all of it (Map.groupBy in the pipeline, for one), and
// what fails then fails in a worker, where no one sees it: the server refuses to start instead.
export const MIN_NODE = '22.12'

/** Whether `version` ("v20.20.2", "22.12.0") is older than MIN_NODE. */
export function nodeTooOld(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  const [minMajor = 0, minMinor = 0] = MIN_NODE.split('.').map(Number)
  return major < minMajor || (major === minMajor && minor < minMinor)
}
