-- AlterTable
ALTER TABLE "MergeSearchCandidate" ADD COLUMN     "worker" TEXT;

-- CreateTable
CREATE TABLE "MergeSearchWork" (
    "id" TEXT NOT NULL,
    "searchId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "recipe" JSONB NOT NULL,
    "worker" TEXT,
    "leaseUntil" TIMESTAMP(3),

    CONSTRAINT "MergeSearchWork_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "MergeSearchWork_searchId_position_idx" ON "MergeSearchWork"("searchId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "MergeSearchWork_searchId_key_key" ON "MergeSearchWork"("searchId", "key");

-- AddForeignKey
ALTER TABLE "MergeSearchWork" ADD CONSTRAINT "MergeSearchWork_searchId_fkey" FOREIGN KEY ("searchId") REFERENCES "MergeSearch"("id") ON DELETE CASCADE ON UPDATE CASCADE;

