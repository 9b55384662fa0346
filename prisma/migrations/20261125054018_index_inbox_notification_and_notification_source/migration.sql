-- CreateIndex
CREATE INDEX "Notification_sourceId_idx" ON "Notification"("sourceId");

-- CreateIndex
CREATE INDEX "InboxItem_notificationId_idx" ON "InboxItem"("notificationId");

