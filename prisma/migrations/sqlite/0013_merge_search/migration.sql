-- AlterTable
ALTER TABLE "Merge" ADD COLUMN "searchId" TEXT;

-- CreateTable
CREATE TABLE "MergeSearch" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "jobId" TEXT NOT NULL,
    "settings" JSONB NOT NULL,
    "planned" INTEGER NOT NULL,
    "truncated" BOOLEAN NOT NULL DEFAULT false,
    "result" JSONB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "MergeSearchCandidate" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "searchId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "recipe" JSONB NOT NULL,
    "objective" REAL,
    "audit" REAL,
    "seconds" REAL NOT NULL,
    "imageStats" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "MergeSearchCandidate_searchId_fkey" FOREIGN KEY ("searchId") REFERENCES "MergeSearch" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "MergeSearch_jobId_key" ON "MergeSearch"("jobId");

-- CreateIndex
CREATE INDEX "MergeSearchCandidate_searchId_objective_idx" ON "MergeSearchCandidate"("searchId", "objective");

-- CreateIndex
CREATE UNIQUE INDEX "MergeSearchCandidate_searchId_key_key" ON "MergeSearchCandidate"("searchId", "key");

-- CreateIndex
CREATE INDEX "Merge_searchId_idx" ON "Merge"("searchId");

