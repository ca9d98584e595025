-- CreateIndex
CREATE INDEX "Model_deletedAt_name_id_idx" ON "Model"("deletedAt", "name", "id");

-- CreateIndex
CREATE INDEX "Model_deletedAt_createdAt_id_idx" ON "Model"("deletedAt", "createdAt", "id");

