// /api itself (which [...].ts does not match): a JSON 404 like any other unknown /api route,
// rather than the app's HTML page.
export { default } from './[...]'
