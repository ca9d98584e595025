-- AlterTable
ALTER TABLE "StructureTensor" ADD COLUMN "positionKey" TEXT;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_StructureOverlap" (
    "structureAId" TEXT NOT NULL,
    "structureBId" TEXT NOT NULL,
    "sharedTensorCount" INTEGER NOT NULL,
    "sharedParameterCount" BIGINT NOT NULL,
    "fractionOfA" REAL NOT NULL,
    "fractionOfB" REAL NOT NULL,
    "groups" JSONB NOT NULL,
    "mismatches" JSONB NOT NULL,
    "byName" BOOLEAN NOT NULL DEFAULT true,
    "positionSharedTensorCount" INTEGER NOT NULL DEFAULT 0,
    "positionSharedParameterCount" BIGINT NOT NULL DEFAULT 0,
    "positionFractionOfA" REAL NOT NULL DEFAULT 0,
    "positionFractionOfB" REAL NOT NULL DEFAULT 0,
    "autoByPosition" BOOLEAN NOT NULL DEFAULT false,

    PRIMARY KEY ("structureAId", "structureBId"),
    CONSTRAINT "StructureOverlap_structureAId_fkey" FOREIGN KEY ("structureAId") REFERENCES "Structure" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "StructureOverlap_structureBId_fkey" FOREIGN KEY ("structureBId") REFERENCES "Structure" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_StructureOverlap" ("fractionOfA", "fractionOfB", "groups", "mismatches", "sharedParameterCount", "sharedTensorCount", "structureAId", "structureBId") SELECT "fractionOfA", "fractionOfB", "groups", "mismatches", "sharedParameterCount", "sharedTensorCount", "structureAId", "structureBId" FROM "StructureOverlap";
DROP TABLE "StructureOverlap";
ALTER TABLE "new_StructureOverlap" RENAME TO "StructureOverlap";
CREATE INDEX "StructureOverlap_structureAId_fractionOfA_idx" ON "StructureOverlap"("structureAId", "fractionOfA");
CREATE INDEX "StructureOverlap_structureBId_fractionOfB_idx" ON "StructureOverlap"("structureBId", "fractionOfB");
CREATE INDEX "StructureOverlap_structureAId_positionFractionOfA_idx" ON "StructureOverlap"("structureAId", "positionFractionOfA");
CREATE INDEX "StructureOverlap_structureBId_positionFractionOfB_idx" ON "StructureOverlap"("structureBId", "positionFractionOfB");
CREATE TABLE "new_Merge" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "method" TEXT NOT NULL,
    "schedule" JSONB NOT NULL,
    "params" JSONB NOT NULL,
    "recipeHash" TEXT NOT NULL,
    "anchorId" TEXT NOT NULL,
    "baseModelId" TEXT,
    "outputModelId" TEXT,
    "jobId" TEXT,
    "layers" JSONB NOT NULL,
    "matching" TEXT NOT NULL DEFAULT 'NAME',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Merge_anchorId_fkey" FOREIGN KEY ("anchorId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Merge_outputModelId_fkey" FOREIGN KEY ("outputModelId") REFERENCES "Model" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Merge" ("anchorId", "baseModelId", "createdAt", "id", "jobId", "layers", "method", "outputModelId", "params", "recipeHash", "schedule") SELECT "anchorId", "baseModelId", "createdAt", "id", "jobId", "layers", "method", "outputModelId", "params", "recipeHash", "schedule" FROM "Merge";
DROP TABLE "Merge";
ALTER TABLE "new_Merge" RENAME TO "Merge";
CREATE UNIQUE INDEX "Merge_outputModelId_key" ON "Merge"("outputModelId");
CREATE INDEX "Merge_recipeHash_idx" ON "Merge"("recipeHash");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

