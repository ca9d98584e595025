-- CreateTable
CREATE TABLE "StructureModelCount" (
    "structureId" TEXT NOT NULL,
    "taskId" TEXT NOT NULL,
    "liveModels" INTEGER NOT NULL,

    CONSTRAINT "StructureModelCount_pkey" PRIMARY KEY ("structureId","taskId")
);


-- Written by hand (Prisma's schema has no triggers): StructureModelCount follows every insert,
-- delete and update of a model's structure, task or deletion, whatever statement makes it. The
-- function keeps the schema it was created in (search_path), whoever's session fires it.
CREATE FUNCTION "Model_liveCount"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD."structureId" IS NOT NULL AND OLD."deletedAt" IS NULL THEN
        UPDATE "StructureModelCount" SET "liveModels" = "liveModels" - 1 WHERE "structureId" = OLD."structureId" AND "taskId" = OLD."taskId";
    END IF;
    IF TG_OP <> 'DELETE' AND NEW."structureId" IS NOT NULL AND NEW."deletedAt" IS NULL THEN
        INSERT INTO "StructureModelCount" ("structureId", "taskId", "liveModels") VALUES (NEW."structureId", NEW."taskId", 1)
        ON CONFLICT ("structureId", "taskId") DO UPDATE SET "liveModels" = "StructureModelCount"."liveModels" + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER "Model_liveCount_insert_delete" AFTER INSERT OR DELETE ON "Model"
FOR EACH ROW EXECUTE FUNCTION "Model_liveCount"();

CREATE TRIGGER "Model_liveCount_update" AFTER UPDATE OF "structureId", "taskId", "deletedAt" ON "Model"
FOR EACH ROW WHEN (OLD."structureId" IS DISTINCT FROM NEW."structureId" OR OLD."taskId" IS DISTINCT FROM NEW."taskId" OR (OLD."deletedAt" IS NULL) <> (NEW."deletedAt" IS NULL))
EXECUTE FUNCTION "Model_liveCount"();

INSERT INTO "StructureModelCount" ("structureId", "taskId", "liveModels")
SELECT "structureId", "taskId", COUNT(*) FROM "Model" WHERE "structureId" IS NOT NULL AND "deletedAt" IS NULL GROUP BY "structureId", "taskId";
