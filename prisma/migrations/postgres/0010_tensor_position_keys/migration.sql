-- AlterTable
ALTER TABLE "StructureTensor" ADD COLUMN     "positionKey" TEXT;

-- AlterTable
ALTER TABLE "StructureOverlap" ADD COLUMN     "autoByPosition" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "byName" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "positionFractionOfA" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "positionFractionOfB" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "positionSharedParameterCount" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "positionSharedTensorCount" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Merge" ADD COLUMN     "matching" TEXT NOT NULL DEFAULT 'NAME';

-- CreateIndex
CREATE INDEX "StructureOverlap_structureAId_positionFractionOfA_idx" ON "StructureOverlap"("structureAId", "positionFractionOfA");

-- CreateIndex
CREATE INDEX "StructureOverlap_structureBId_positionFractionOfB_idx" ON "StructureOverlap"("structureBId", "positionFractionOfB");

