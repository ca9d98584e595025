-- DropIndex
DROP INDEX "Model_structureId_idx";

-- CreateIndex
CREATE INDEX "Model_structureId_deletedAt_id_idx" ON "Model"("structureId", "deletedAt", "id");

