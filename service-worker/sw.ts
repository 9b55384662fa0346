// Mercury's service worker: wires the listeners only; each concern lives in its own file.
import { cacheShell, claimClients, routeNavigations } from './precache'
import { onPush } from './push'
import { onNotificationClick } from './notification-click'
import { onPushSubscriptionChange } from './subscription-change'
import { sw } from './scope'

declare const self: ServiceWorkerGlobalScope

routeNavigations(self.__WB_MANIFEST)

sw.addEventListener('install', (event) => {
  sw.skipWaiting()
  event.waitUntil(cacheShell())
})
sw.addEventListener('activate', event => event.waitUntil(claimClients()))
sw.addEventListener('push', event => event.waitUntil(onPush(event)))
sw.addEventListener('notificationclick', event => event.waitUntil(onNotificationClick(event)))
sw.addEventListener('pushsubscriptionchange', event => event.waitUntil(onPushSubscriptionChange(event)))
