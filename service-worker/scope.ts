/// <reference lib="WebWorker" />
// The worker's global scope, typed once for every module of the worker.
export const sw = self as unknown as ServiceWorkerGlobalScope
