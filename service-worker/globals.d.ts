/// <reference lib="WebWorker" />
import type { PrecacheEntry } from 'workbox-precaching'

declare global {
  // Filled in by vite-plugin-pwa (injectManifest) at build time.
  interface ServiceWorkerGlobalScope {
    __WB_MANIFEST: (string | PrecacheEntry)[]
  }

  // Not in TypeScript's WebWorker lib yet.
  interface PushSubscriptionChangeEvent extends ExtendableEvent {
    readonly newSubscription: PushSubscription | null
    readonly oldSubscription: PushSubscription | null
  }
  interface ServiceWorkerGlobalScopeEventMap {
    pushsubscriptionchange: PushSubscriptionChangeEvent
  }
  interface WorkerNavigator {
    setAppBadge?(count?: number): Promise<void>
    clearAppBadge?(): Promise<void>
  }
}

export {}
