-- AlterTable
ALTER TABLE "Model" ADD COLUMN     "graphModelId" TEXT;

-- CreateIndex
CREATE INDEX "Model_graphModelId_idx" ON "Model"("graphModelId");

