-- AlterTable
ALTER TABLE "ModelScore" ADD COLUMN "structureId" TEXT;

-- CreateIndex
CREATE INDEX "ModelScore_datasetId_structureId_score_modelId_idx" ON "ModelScore"("datasetId", "structureId", "score" DESC, "modelId");


-- Written by hand (Prisma's schema has no triggers): a score row carries its model's structure,
-- whatever statement writes the score or changes the model. (SQLite's recursive triggers are off,
-- so a trigger's own UPDATE does not fire it again; the update trigger acts only on a wrong
-- value, so the other triggers' UPDATEs do not run it a second time.)
CREATE TRIGGER "ModelScore_structure_insert" AFTER INSERT ON "ModelScore"
BEGIN
    UPDATE "ModelScore" SET "structureId" = (SELECT "structureId" FROM "Model" WHERE "id" = NEW."modelId")
    WHERE "modelId" = NEW."modelId" AND "datasetId" = NEW."datasetId";
END;

CREATE TRIGGER "ModelScore_structure_update" AFTER UPDATE OF "modelId", "structureId" ON "ModelScore"
WHEN NEW."structureId" IS NOT (SELECT "structureId" FROM "Model" WHERE "id" = NEW."modelId")
BEGIN
    UPDATE "ModelScore" SET "structureId" = (SELECT "structureId" FROM "Model" WHERE "id" = NEW."modelId")
    WHERE "modelId" = NEW."modelId" AND "datasetId" = NEW."datasetId";
END;

CREATE TRIGGER "Model_scoreStructure" AFTER UPDATE OF "structureId" ON "Model"
WHEN OLD."structureId" IS NOT NEW."structureId"
BEGIN
    UPDATE "ModelScore" SET "structureId" = NEW."structureId" WHERE "modelId" = NEW."id";
END;

UPDATE "ModelScore" SET "structureId" = (SELECT "structureId" FROM "Model" WHERE "Model"."id" = "ModelScore"."modelId");
