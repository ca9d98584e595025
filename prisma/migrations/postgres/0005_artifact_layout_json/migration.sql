-- AlterTable
ALTER TABLE "Artifact" ALTER COLUMN "layout" SET DATA TYPE JSON;

