-- CreateTable
CREATE TABLE "StructureModelCount" (
    "structureId" TEXT NOT NULL,
    "taskId" TEXT NOT NULL,
    "liveModels" INTEGER NOT NULL,

    PRIMARY KEY ("structureId", "taskId")
);


-- Written by hand (Prisma's schema has no triggers): StructureModelCount follows every insert,
-- delete and update of a model's structure, task or deletion, whatever statement makes it.
CREATE TRIGGER "Model_liveCount_insert" AFTER INSERT ON "Model"
WHEN NEW."structureId" IS NOT NULL AND NEW."deletedAt" IS NULL
BEGIN
    INSERT INTO "StructureModelCount" ("structureId", "taskId", "liveModels") VALUES (NEW."structureId", NEW."taskId", 1)
    ON CONFLICT ("structureId", "taskId") DO UPDATE SET "liveModels" = "liveModels" + 1;
END;

CREATE TRIGGER "Model_liveCount_delete" AFTER DELETE ON "Model"
WHEN OLD."structureId" IS NOT NULL AND OLD."deletedAt" IS NULL
BEGIN
    UPDATE "StructureModelCount" SET "liveModels" = "liveModels" - 1 WHERE "structureId" = OLD."structureId" AND "taskId" = OLD."taskId";
END;

CREATE TRIGGER "Model_liveCount_update" AFTER UPDATE OF "structureId", "taskId", "deletedAt" ON "Model"
WHEN OLD."structureId" IS NOT NEW."structureId" OR OLD."taskId" IS NOT NEW."taskId" OR (OLD."deletedAt" IS NULL) <> (NEW."deletedAt" IS NULL)
BEGIN
    UPDATE "StructureModelCount" SET "liveModels" = "liveModels" - 1
    WHERE OLD."structureId" IS NOT NULL AND OLD."deletedAt" IS NULL AND "structureId" = OLD."structureId" AND "taskId" = OLD."taskId";
    INSERT INTO "StructureModelCount" ("structureId", "taskId", "liveModels")
    SELECT NEW."structureId", NEW."taskId", 1 WHERE NEW."structureId" IS NOT NULL AND NEW."deletedAt" IS NULL
    ON CONFLICT ("structureId", "taskId") DO UPDATE SET "liveModels" = "liveModels" + 1;
END;

INSERT INTO "StructureModelCount" ("structureId", "taskId", "liveModels")
SELECT "structureId", "taskId", COUNT(*) FROM "Model" WHERE "structureId" IS NOT NULL AND "deletedAt" IS NULL GROUP BY "structureId", "taskId";
