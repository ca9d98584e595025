-- AlterTable (written by hand for SQLite: a new last column with a default needs no table rebuild)
ALTER TABLE "Structure" ADD COLUMN "mergeableTensorCount" INTEGER NOT NULL DEFAULT 0;

-- Structures stored before the column: count their mergeable tensors.
UPDATE "Structure" SET "mergeableTensorCount" = (SELECT COUNT(*) FROM "StructureTensor" t WHERE t."structureId" = "Structure"."id" AND t."mergeable");

-- CreateIndex
CREATE INDEX "Model_artifactId_idx" ON "Model"("artifactId");
