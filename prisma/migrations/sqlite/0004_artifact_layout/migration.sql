-- AlterTable
ALTER TABLE "Artifact" ADD COLUMN "layout" JSONB;

