-- CreateTable
CREATE TABLE "Topic" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "offsetCeiling" INTEGER NOT NULL DEFAULT 0,
    "messageCount" INTEGER NOT NULL DEFAULT 0,
    "lastMessageAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

