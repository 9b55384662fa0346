-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "fannedOutAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN     "log" TEXT NOT NULL DEFAULT '[]';

-- CreateIndex
CREATE INDEX "Notification_fannedOutAt_idx" ON "Notification"("fannedOutAt");

