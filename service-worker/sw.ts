// Mercury's service worker: wires the listeners only; each concern lives in its own file.
import { cacheShell, routeNavigations } from './precache'
import { onActivate, onInstall, onMessage } from './release'
import { onPush } from './push'
import { onNotificationClick } from './notification-click'
import { onPushSubscriptionChange } from './subscription-change'
import { sw } from './scope'

declare const self: ServiceWorkerGlobalScope

routeNavigations(self.__WB_MANIFEST)

sw.addEventListener('install', (event) => {
  onInstall()
  event.waitUntil(cacheShell())
})
sw.addEventListener('activate', event => event.waitUntil(onActivate()))
sw.addEventListener('message', onMessage)
sw.addEventListener('push', event => event.waitUntil(onPush(event)))
sw.addEventListener('notificationclick', event => event.waitUntil(onNotificationClick(event)))
sw.addEventListener('pushsubscriptionchange', event => event.waitUntil(onPushSubscriptionChange(event)))
