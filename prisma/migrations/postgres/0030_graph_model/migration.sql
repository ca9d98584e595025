-- AlterTable
ALTER TABLE "Model" ADD COLUMN     "graphModelId" TEXT;

