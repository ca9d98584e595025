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
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

