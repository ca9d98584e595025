-- AlterTable
ALTER TABLE "ModelScore" ADD COLUMN     "structureId" TEXT;

-- CreateIndex
CREATE INDEX "ModelScore_datasetId_structureId_score_modelId_idx" ON "ModelScore"("datasetId", "structureId", "score" DESC, "modelId");


-- Written by hand (Prisma's schema has no triggers): a score row carries its model's structure,
-- whatever statement writes the score or changes the model.
CREATE FUNCTION "ModelScore_structure"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW."structureId" := (SELECT "structureId" FROM "Model" WHERE "id" = NEW."modelId");
    RETURN NEW;
END
$$;

CREATE TRIGGER "ModelScore_structure" BEFORE INSERT OR UPDATE OF "modelId", "structureId" ON "ModelScore"
FOR EACH ROW EXECUTE FUNCTION "ModelScore_structure"();

CREATE FUNCTION "Model_scoreStructure"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE "ModelScore" SET "structureId" = NEW."structureId" WHERE "modelId" = NEW."id";
    RETURN NULL;
END
$$;

CREATE TRIGGER "Model_scoreStructure" AFTER UPDATE OF "structureId" ON "Model"
FOR EACH ROW WHEN (OLD."structureId" IS DISTINCT FROM NEW."structureId")
EXECUTE FUNCTION "Model_scoreStructure"();

UPDATE "ModelScore" s SET "structureId" = m."structureId" FROM "Model" m WHERE m."id" = s."modelId";
